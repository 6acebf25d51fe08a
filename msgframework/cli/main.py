"""The ``msgframework`` command: the parser, the subcommand registry, error handling.

A subcommand is a module with two functions:

* ``add_parser(subparsers)`` adds one or more subparsers (``subparsers`` is
  what ``ArgumentParser.add_subparsers()`` returned);
* ``run(args) -> int`` runs the command; ``args.cli_context`` holds the
  :class:`~msgframework.cli.common.CLIContext` (configuration, logging)
  that ``main`` built from the common options.

The built-in modules are listed in :data:`BUILTIN_COMMANDS`; a later
package adds its own by an entry point in the ``msgframework.cli.commands``
group (value: the module path), or by :func:`register_command` before
:func:`main` runs. Only modules that import are registered: a plugin whose
dependencies are missing is left out (logged at debug level), not stubbed.

Exit codes: 0 success, 1 a runtime failure (broker unreachable, timeout,
remote error), 2 bad usage or input (argparse errors, bad JSON, unknown
driver, bad config file), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import metadata
from types import ModuleType

from msgframework.cli.common import (
    EXIT_USAGE,
    PROG,
    CLIError,
    add_common_options,
    is_usage_error,
    load_context,
    report_error,
)
from msgframework.exceptions import MessagingException

__all__ = ["BUILTIN_COMMANDS", "ENTRY_POINT_GROUP", "register_command", "unregister_command",
           "build_parser", "main"]

LOG = logging.getLogger(__name__)

#: Subcommand modules shipped with the package, in the order ``--help`` lists them.
BUILTIN_COMMANDS: tuple[str, ...] = (
    "msgframework.cli.notify",
    "msgframework.cli.listen",
    "msgframework.cli.rpc",
    "msgframework.cli.serve",
    "msgframework.cli.events",
    "msgframework.cli.web",
    "msgframework.cli.demo",
    "msgframework.cli.bench",
)
ENTRY_POINT_GROUP = "msgframework.cli.commands"

_extra_commands: list[str] = []


def register_command(module_path: str) -> None:
    """Add a subcommand module (``add_parser`` + ``run``) for parsers built from now on."""
    if module_path not in _extra_commands:
        _extra_commands.append(module_path)


def unregister_command(module_path: str) -> None:
    """Undo :func:`register_command` (for tests and embedding applications)."""
    if module_path in _extra_commands:
        _extra_commands.remove(module_path)


def _command_modules() -> list[ModuleType]:
    modules = [importlib.import_module(path) for path in BUILTIN_COMMANDS]
    plugin_paths = list(_extra_commands)
    try:
        plugin_paths += [ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)]
    except Exception:  # broken metadata must not take the whole command down
        LOG.debug("Cannot read %s entry points", ENTRY_POINT_GROUP, exc_info=True)
    seen = set(BUILTIN_COMMANDS)
    for path in plugin_paths:
        if path in seen:
            continue
        seen.add(path)
        try:
            modules.append(importlib.import_module(path))
        except Exception as exc:
            LOG.debug("Subcommand module %s not available: %s", path, exc)
    return modules


class _Parser(argparse.ArgumentParser):
    """argparse, with ``msgframework: error:`` as the prefix of its errors."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Callable[..., int]]]:
    """The parser and the map from subcommand name (and alias) to its ``run``."""
    parser = _Parser(
        prog=PROG,
        description="Send and receive RPC calls and notifications with msgframework.",
        epilog="Run 'msgframework demo' for a tour on the embedded SQLite transport.")
    add_common_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    runners: dict[str, Callable[..., int]] = {}
    for module in _command_modules():
        before = set(subparsers.choices)
        module.add_parser(subparsers)
        for name in set(subparsers.choices) - before:
            add_common_options(subparsers.choices[name], suppress=True)
            runners[name] = module.run
    return parser, runners


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser, runners = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    context = None
    try:
        context = load_context(args)
        args.cli_context = context
        debug = context.debug
        return runners[args.command](args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
        return 130
    except (CLIError, MessagingException) as exc:
        return report_error(exc, debug)
    except Exception as exc:
        if is_usage_error(exc):  # oslo.config errors, ValueError from bad input
            return report_error(exc, debug)
        return report_error(exc, debug, unexpected=True)
    finally:
        if context is not None:
            context.close()


def console_main() -> None:
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
