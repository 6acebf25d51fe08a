"""``msgframework bench``: the same scenarios through msgframework, oslo.messaging and raw kombu.

Why a package of its own: a benchmark that compares two libraries must keep
them out of each other's way. Every implementation runs in its own child
processes (``multiprocessing`` *spawn*), so oslo.messaging's imports, options
and threads never live in a process that measures msgframework; only the
in-process ``memory://`` driver runs in threads of one process, because its
broker cannot be shared across processes.

Modules:

* :mod:`~msgframework.bench.coord`: the counters and events a scenario's
  processes (or threads) share;
* :mod:`~msgframework.bench.roles_ours`, :mod:`~msgframework.bench.roles_oslo`,
  :mod:`~msgframework.bench.roles_kombu`: what one process does (listen, send,
  serve, call), one module per implementation and imported only in the child
  that plays the role;
* :mod:`~msgframework.bench.scenarios`: the scenario catalogue and the
  orchestration (start consumers, wait until ready, start producers, bound
  everything in time, collect);
* :mod:`~msgframework.bench.broker`: names unique to a run and deleting them
  from RabbitMQ afterwards;
* :mod:`~msgframework.bench.report`: the table and the JSON document;
* :mod:`~msgframework.bench.stats`: percentiles and medians.
"""
