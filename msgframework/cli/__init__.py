"""The ``msgframework`` command line: one module per subcommand.

:mod:`~msgframework.cli.main` builds the parser from the subcommand modules
and handles errors; :mod:`~msgframework.cli.common` holds the configuration,
logging and input helpers; :mod:`~msgframework.cli.daemon` runs ``listen``
and ``serve`` under signals; :mod:`~msgframework.cli.examples` has endpoints
to try them with; ``msgframework demo`` shows the whole flow.
"""
