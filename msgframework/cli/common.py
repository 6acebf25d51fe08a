"""What every subcommand shares: errors, configuration, logging, JSON input, endpoints.

The CLI builds its own ``ConfigOpts`` per run (never the global
``cfg.CONF``), registers the core options and its own on it, and reads the
files named by ``--config-file``/``--config-dir``. Errors a user can fix
(bad JSON, an unknown driver, a broken config file, an endpoint that does
not import) become :class:`UsageError` (exit 2); failures of the messaging
itself (broker unreachable, timeout, remote error) exit 1. ``main`` prints
them as one ``msgframework: error: ...`` line; tracebacks only with
``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import logging.handlers
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from oslo_config import cfg

from msgframework import opts as core_opts
from msgframework.exceptions import (
    ConfigurationError,
    DriverLoadFailure,
    ExecutorLoadFailure,
    InvalidTarget,
    InvalidTransportURL,
    NotifierDriverLoadFailure,
)

__all__ = [
    "PROG", "CLI_GROUP", "CLI_OPTS", "LOGGING_OPTS", "list_opts",
    "CLIError", "UsageError", "is_usage_error", "exit_code_for", "report_error",
    "add_common_options", "CLIContext", "load_context",
    "parse_json_arg", "parse_key_values", "load_endpoint", "load_endpoints",
    "emit", "default_server_name", "positive_int", "non_negative_int", "seconds",
]

PROG = "msgframework"
CLI_GROUP = "msgframework_cli"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

LOG = logging.getLogger(__name__)

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Logging options in [DEFAULT], named as oslo.log names them, so a
#: service's existing config file sets them without change.
LOGGING_OPTS = [
    cfg.BoolOpt("debug", default=False,
                help="Log at DEBUG level and show tracebacks of errors."),
    cfg.StrOpt("log_level", default="WARNING", choices=_LEVELS, ignore_case=True,
               help="Level of the log records written (when debug is off)."),
    cfg.StrOpt("log_file",
               help="Write the log to this file (reopened when rotated away); "
                    "unset means standard error."),
    cfg.IntOpt("graceful_shutdown_timeout", default=60, min=0,
               help="Seconds a daemon waits on SIGTERM/SIGINT for its in-flight "
                    "messages to finish before it gives up and exits 1."),
]

#: The daemons' own options, in [msgframework_cli].
CLI_OPTS = [
    cfg.ListOpt("rpc_endpoints", default=[],
                help="Endpoints of `msgframework serve`, as module:Class (built with "
                     "no arguments) or module:object."),
    cfg.StrOpt("rpc_topic", default="msgframework",
               help="Topic `serve` listens on and `call`/`cast` send to."),
    cfg.StrOpt("rpc_server",
               help="Server name of `serve` (default: the host name)."),
    cfg.ListOpt("notification_endpoints", default=[],
                help="Endpoints `msgframework listen` dispatches to, as module:Class; "
                     "none means print each notification."),
    cfg.StrOpt("notification_pool",
               help="Listener pool of `listen` (every pool gets its own copy)."),
]


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """The CLI's options, for oslo-config-generator (namespace ``msgframework.cli``)."""
    return [(None, list(LOGGING_OPTS)), (CLI_GROUP, list(CLI_OPTS))]


# -- errors ---------------------------------------------------------------
class CLIError(Exception):
    """A failure the CLI reports as one line and an exit code (1 unless overridden)."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CLIError):
    """Bad input from the user: exit 2."""

    exit_code = EXIT_USAGE


#: Library errors caused by what the user typed or configured, not by the broker.
_USAGE_ERRORS: tuple[type[BaseException], ...] = (
    ConfigurationError, InvalidTransportURL, DriverLoadFailure, ExecutorLoadFailure,
    NotifierDriverLoadFailure, InvalidTarget, cfg.Error, ValueError,
)


def is_usage_error(exc: BaseException) -> bool:
    if isinstance(exc, CLIError):
        return exc.exit_code == EXIT_USAGE
    return isinstance(exc, _USAGE_ERRORS)


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, CLIError):
        return exc.exit_code
    return EXIT_USAGE if is_usage_error(exc) else EXIT_FAILURE


def describe_error(exc: BaseException) -> str:
    """One readable line for ``exc``, prefixed by its class when that says something."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (CLIError, cfg.Error, ValueError, OSError)):
        return text
    return f"{type(exc).__name__}: {text}"


def report_error(exc: BaseException, debug: bool, stream: TextIO | None = None,
                 unexpected: bool = False) -> int:
    """Print ``msgframework: error: ...`` (and the traceback with debug); return the exit code."""
    import traceback

    out = stream or sys.stderr
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=out)
    line = describe_error(exc)
    if unexpected:
        line = f"unexpected {type(exc).__name__}: {exc}"
        if not debug:
            line += " (run with --debug for the traceback)"
    print(f"{PROG}: error: {line}", file=out, flush=True)
    return exit_code_for(exc)


# -- arguments shared by every subcommand -----------------------------------
def add_common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options; accepted before and after the subcommand name.

    ``suppress`` is True for the subcommand copies, so an option left out
    after the subcommand does not reset one given before it.
    """
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("common options")
    group.add_argument("--config-file", dest="config_files", action="append",
                       metavar="PATH", default=default([]),
                       help="oslo.config ini file; may be repeated (later files win)")
    group.add_argument("--config-dir", dest="config_dirs", action="append",
                       metavar="DIR", default=default([]),
                       help="directory of *.conf files read after the config files")
    group.add_argument("--transport-url", metavar="URL", default=default(None),
                       help="transport URL, e.g. sqlite:///tmp/m.db or rabbit://u:p@host/; "
                            "overrides the config files (default: the embedded SQLite file)")
    group.add_argument("--debug", action="store_true", default=default(False),
                       help="log at DEBUG level and show tracebacks")
    group.add_argument("--log-level", choices=[lv.lower() for lv in _LEVELS] + list(_LEVELS),
                       metavar="LEVEL", default=default(None),
                       help="log level (debug, info, warning, error, critical)")
    group.add_argument("--log-file", metavar="PATH", default=default(None),
                       help="write the log to PATH instead of standard error")


# -- configuration and logging -------------------------------------------
class _ReopenedFileHandler(logging.handlers.WatchedFileHandler):
    """A file handler that follows logrotate moving the file away."""


class CLIContext:
    """The parsed arguments and the CLI's own ConfigOpts, reloadable on SIGHUP."""

    def __init__(self, args: argparse.Namespace, conf: cfg.ConfigOpts) -> None:
        self.args = args
        self.conf = conf
        self._log_handler: logging.Handler | None = None

    @property
    def debug(self) -> bool:
        return bool(getattr(self.args, "debug", False) or self._conf_value("debug", False))

    @property
    def transport_url(self) -> str | None:
        """The URL given on the command line, else None (the config or the default)."""
        return getattr(self.args, "transport_url", None) or None

    def _conf_value(self, name: str, fallback: Any) -> Any:
        try:
            return getattr(self.conf, name)
        except (cfg.Error, ValueError, AttributeError):
            return fallback

    def cli_option(self, name: str) -> Any:
        return self.conf[CLI_GROUP][name]

    def reload(self) -> None:
        """Re-read the config files; raises UsageError and keeps the old values if they are bad."""
        if not self.conf.reload_config_files():
            raise UsageError("reloading the configuration failed; keeping the previous one "
                             "(see the log for the reason)")
        _check_values(self.conf)
        self.setup_logging()

    def setup_logging(self) -> None:
        """(Re)configure the root logger from the options; idempotent."""
        root = logging.getLogger()
        if self._log_handler is not None:
            root.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        if self.debug:
            level = logging.DEBUG
        else:
            level = logging.getLevelName(str(self._conf_value("log_level", "WARNING")).upper())
        log_file = self._conf_value("log_file", None)
        handler: logging.Handler
        if log_file:
            try:
                handler = _ReopenedFileHandler(log_file, encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot open log file {log_file}: {exc.strerror}") from exc
        else:
            handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
        # stevedore logs every plugin it cannot load; our own error already says
        # which name was asked for and which are installed.
        logging.getLogger("stevedore").setLevel(logging.NOTSET if self.debug
                                                else logging.CRITICAL)
        self._log_handler = handler

    def close(self) -> None:
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None


def _check_values(conf: cfg.ConfigOpts) -> None:
    """Read every option once so a bad value fails now, naming the option."""
    for group, opts in [(None, LOGGING_OPTS), (CLI_GROUP, CLI_OPTS),
                        (None, core_opts.DEFAULT_OPTS),
                        (core_opts.NOTIFICATIONS_GROUP, core_opts.NOTIFICATION_OPTS)]:
        section = conf if group is None else conf[group]
        for opt in opts:
            try:
                getattr(section, opt.dest)
            except (cfg.Error, ValueError) as exc:
                where = f"[{group or 'DEFAULT'}] {opt.name}"
                raise UsageError(f"invalid option {where}: {exc}") from None


def load_context(args: argparse.Namespace) -> CLIContext:
    """Build the CLI's ConfigOpts from the files and flags in ``args``; set up logging."""
    conf = cfg.ConfigOpts()
    core_opts.register_opts(conf)
    conf.register_opts(LOGGING_OPTS)
    conf.register_opts(CLI_OPTS, group=CLI_GROUP)
    files = [os.path.abspath(p) for p in getattr(args, "config_files", []) or []]
    dirs = [os.path.abspath(p) for p in getattr(args, "config_dirs", []) or []]
    for path in files:
        if not os.path.isfile(path):
            raise UsageError(f"config file not found: {path}")
    for path in dirs:
        if not os.path.isdir(path):
            raise UsageError(f"config directory not found: {path}")
    try:
        conf(args=[], project=PROG, default_config_files=files,
             default_config_dirs=dirs, use_env=False)
    except cfg.Error as exc:
        raise UsageError(f"cannot read the configuration: {exc}") from exc
    if getattr(args, "log_level", None):
        conf.set_override("log_level", args.log_level.upper())
    if getattr(args, "log_file", None):
        conf.set_override("log_file", args.log_file)
    _check_values(conf)
    ctx = CLIContext(args, conf)
    ctx.setup_logging()
    return ctx


# -- input -----------------------------------------------------------------
def _read_arg_text(text: str, what: str) -> tuple[str, str]:
    """Resolve ``@file`` and ``-`` (stdin); return (text, where it came from)."""
    if text == "-":
        return sys.stdin.read(), f"{what} (standard input)"
    if text.startswith("@"):
        path = text[1:]
        try:
            return Path(path).read_text(encoding="utf-8"), f"{what} (file {path})"
        except OSError as exc:
            raise UsageError(f"cannot read {what} from {path}: "
                             f"{exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise UsageError(f"cannot read {what} from {path}: not UTF-8 text") from exc
    return text, what


def parse_json_arg(text: str, what: str, *, expect: type | None = None) -> Any:
    """Parse JSON given inline, as ``@file`` or as ``-``; UsageError naming ``what`` if bad."""
    body, where = _read_arg_text(text, what)
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        raise UsageError(f"bad JSON in {where}: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None
    if expect is not None and not isinstance(value, expect):
        kind = "a JSON object" if expect is dict else f"JSON {expect.__name__}"
        raise UsageError(f"{where} must be {kind}, not {type(value).__name__}")
    return value


def parse_key_values(items: Sequence[str], what: str) -> dict[str, Any]:
    """``key=value`` pairs; a value is JSON if it parses, else the plain string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad {what} {item!r}: expected key=value")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


# -- argparse types: their names and messages are what a user sees ------------
# argparse reports a ValueError from a type function as "invalid <__name__>
# value", so these raise ArgumentTypeError with a sentence instead, and are
# named for what they expect.
def _whole_number(text: str, minimum: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer of at least 1 (argparse ``type=``)."""
    return _whole_number(text, 1, "at least 1")


def non_negative_int(text: str) -> int:
    """An integer of 0 or more (argparse ``type=``)."""
    return _whole_number(text, 0, "0 or more")


def seconds(text: str) -> float:
    """A number of seconds, more than 0 (argparse ``type=``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def load_endpoint(spec: str) -> Any:
    """Import ``module:Class`` (instantiated with no arguments) or ``module:object``."""
    module_name, sep, attr = spec.strip().partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"bad endpoint {spec!r}: expected module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot load endpoint {spec!r}: {exc}") from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"cannot load endpoint {spec!r}: {module_name} has no "
                             f"attribute {attr!r}") from None
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise UsageError(f"cannot create endpoint {spec!r}: "
                             f"{type(exc).__name__}: {exc}") from exc
    return obj


def load_endpoints(specs: Sequence[str]) -> list[Any]:
    return [load_endpoint(spec) for spec in specs if spec.strip()]


# -- output ---------------------------------------------------------------
def emit(line: str, stream: TextIO | None = None) -> None:
    """Print one line and flush it, so a parent process reading the pipe sees it now."""
    out = stream or sys.stdout
    out.write(line + "\n")
    out.flush()


def default_server_name() -> str:
    return socket.gethostname() or "localhost"


def build_transport(ctx: CLIContext, kind: str) -> Any:
    """An RPC (``kind='rpc'``) or notification transport for the effective URL."""
    from msgframework import transport as transport_mod

    getter: Callable[..., Any] = (transport_mod.get_notification_transport
                                  if kind == "notification"
                                  else transport_mod.get_rpc_transport)
    return getter(ctx.conf, ctx.transport_url)


class Progress:
    """A progress line for long runs (on a terminal only) and a summary at the end.

    The line is rewritten in place at most twice a second on standard error
    when it is a terminal; pipes and files get only the summary, so logs
    and tests are not flooded.
    """

    def __init__(self, verb: str, total: int | None, stream: TextIO | None = None) -> None:
        import time

        self._time = time.monotonic
        self.verb = verb
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self._start = self._time()
        self._last = 0.0
        self._live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def step(self, n: int = 1) -> None:
        self.done += n
        if not self._live:
            return
        now = self._time()
        if now - self._last >= 0.5 or self.done == self.total:
            self._last = now
            total = f"/{self.total}" if self.total else ""
            self.stream.write(f"\r{PROG}: {self.verb} {self.done}{total}")
            self.stream.flush()
            self._drawn = True

    @property
    def elapsed(self) -> float:
        return self._time() - self._start

    def summary(self, noun: str) -> str:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
        elapsed = self.elapsed
        rate = f", {self.done / elapsed:.0f}/s" if elapsed > 0 and self.done > 1 else ""
        return f"{self.verb} {self.done} {noun} in {elapsed:.2f}s{rate}"
