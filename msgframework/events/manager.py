"""EventManager: send an event through every configured handler, and say what failed.

Handlers are plugins loaded by name from the ``msgframework.events.handlers``
entry-point namespace (built-ins: ``notify``, ``logging``, ``file``, ``smtp``).

Delivery rules, chosen so that an event is never lost silently:

* :meth:`EventManager.send_event` calls **every** handler, in the order they
  were added. A handler that raises (or returns ``False``) is recorded as
  failed with its reason, and the next handler still runs.
* The result (:class:`SendResult`) says which handlers succeeded and which
  failed and why; it is falsy unless every handler succeeded. An event sent
  to a manager with no handlers is reported as **not delivered**.
* With an ``outbox`` directory, an event that some handler failed to take is
  written there (atomically) together with the names of the handlers still
  owed it; :meth:`EventManager.flush_outbox` retries just those handlers later
  and deletes the file once all have succeeded. Events dumped while offline
  (:meth:`Event.dump`) are replayed with :meth:`EventManager.send_event_from_file`.

Configuration is per instance. The only process-wide state is the documented
:data:`default_manager`, used by the module-level helpers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgframework.drivers.loader import load_class
from msgframework.events import envconfig
from msgframework.events.event import Event, read_json_doc, write_json_atomic
from msgframework.events.handlers.base import EventHandler
from msgframework.exceptions import EventError

__all__ = [
    "HANDLER_NAMESPACE", "HandlerResult", "SendResult", "FileSendResult", "EventManager",
    "default_manager", "send_event", "send_event_from_file", "add_handler",
    "load_handlers_from_env", "handler_config_as_env", "send_event_files",
]

LOG = logging.getLogger(__name__)

HANDLER_NAMESPACE = "msgframework.events.handlers"
_PENDING_KEY = "pending_handlers"


@dataclass(frozen=True)
class HandlerResult:
    """What one handler did with one event."""

    handler: str
    ok: bool
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class SendResult:
    """The outcome of sending one event to every handler.

    Truthy only if there was at least one handler and all of them succeeded
    (``bool(result)`` keeps e3's "True on success" contract).
    """

    uid: str
    results: tuple[HandlerResult, ...]
    outbox_path: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def succeeded(self) -> list[str]:
        """Names of the handlers that took the event."""
        return [r.handler for r in self.results if r.ok]

    @property
    def failed(self) -> dict[str, str]:
        """Handler name -> reason, for each handler that failed."""
        return {r.handler: r.error or "failed" for r in self.results if not r.ok}

    @property
    def error(self) -> str | None:
        """A one-line summary of what went wrong, or None when all went well."""
        if not self.results:
            return "no event handlers configured"
        if self.ok:
            return None
        return "; ".join(f"{name}: {reason}" for name, reason in self.failed.items())


@dataclass(frozen=True)
class FileSendResult:
    """The outcome of replaying one event file (see :func:`send_event_files`)."""

    path: str
    result: SendResult | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    def __bool__(self) -> bool:
        return self.ok


class EventManager:
    """A set of named handler instances that events are sent through.

    ``outbox``: a directory where events that could not be delivered to
    every handler are kept for :meth:`flush_outbox`.
    """

    def __init__(self, handlers: Mapping[str, EventHandler] | None = None, *,
                 outbox: str | os.PathLike[str] | None = None,
                 namespace: str = HANDLER_NAMESPACE) -> None:
        self.namespace = namespace
        self.outbox = os.fspath(outbox) if outbox is not None else None
        self._lock = threading.Lock()
        self._handlers: dict[str, EventHandler] = {}
        for name, handler in (handlers or {}).items():
            self.register_handler(name, handler)

    def __repr__(self) -> str:
        return f"<EventManager handlers={list(self._handlers)} outbox={self.outbox!r}>"

    def __enter__(self) -> EventManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- handlers ---------------------------------------------------------------

    @property
    def handlers(self) -> dict[str, EventHandler]:
        """The handler instances by name (a copy, in call order)."""
        with self._lock:
            return dict(self._handlers)

    def get_handler(self, name: str) -> type[EventHandler]:
        """The handler class registered under ``name`` in the entry points."""
        try:
            cls = load_class(self.namespace, name)
        except LookupError as exc:
            raise EventError(f"event handler: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, EventHandler)):
            raise EventError(f"event handler {name!r} ({cls!r}) is not an EventHandler")
        return cls

    def add_handler(self, name: str, *args: Any, **kwargs: Any) -> EventHandler:
        """Create the handler ``name`` with ``args``/``kwargs`` and add it.

        A handler already registered under that name is replaced (and closed).
        """
        cls = self.get_handler(name)
        try:
            handler = cls(*args, **kwargs)
        except EventError:
            raise
        except (TypeError, ValueError) as exc:
            raise EventError(f"event handler {name!r}: bad configuration: {exc}") from exc
        self.register_handler(name, handler)
        return handler

    def register_handler(self, name: str, handler: EventHandler) -> None:
        """Add an already built handler instance under ``name``."""
        if not isinstance(handler, EventHandler):
            raise EventError(f"{handler!r} is not an EventHandler")
        with self._lock:
            old = self._handlers.pop(name, None)
            self._handlers[name] = handler
        if old is not None and old is not handler:
            _close_quietly(name, old)

    def remove_handler(self, name: str) -> None:
        """Remove and close the handler ``name`` (KeyError if absent)."""
        with self._lock:
            handler = self._handlers.pop(name)
        _close_quietly(name, handler)

    def close(self) -> None:
        """Close every handler (releasing connections); the manager stays usable."""
        for name, handler in self.handlers.items():
            _close_quietly(name, handler)

    # -- sending ------------------------------------------------------------------

    def send_event(self, event: Event, *, only: Iterable[str] | None = None) -> SendResult:
        """Send ``event`` through every handler (or just those named in ``only``).

        Never raises because of a handler: each failure is logged and reported
        in the result. With an outbox, the event is kept there for the
        handlers that failed.
        """
        handlers = self.handlers
        names = list(handlers) if only is None else list(dict.fromkeys(only))
        results: list[HandlerResult] = []
        for name in names:
            handler = handlers.get(name)
            if handler is None:
                results.append(HandlerResult(name, False, "handler not configured"))
                continue
            results.append(_call_handler(name, handler, event))
        result = SendResult(str(event.uid), tuple(results))
        if not results:
            LOG.warning("Event %s (%s) not delivered: no event handlers configured",
                        event.uid, event.name)
        if not result.ok and self.outbox is not None:
            pending = [r.handler for r in results if not r.ok] or names
            result = SendResult(result.uid, result.results,
                                outbox_path=self._to_outbox(event, pending))
        return result

    def _to_outbox(self, event: Event, pending: Sequence[str]) -> str | None:
        assert self.outbox is not None
        try:
            doc = event.to_json_dict()
            doc[_PENDING_KEY] = list(pending)
            path = write_json_atomic(self.outbox, str(event.uid), doc)
        except EventError as exc:
            LOG.error("Event %s could not be kept in the outbox: %s", event.uid, exc)
            return None
        LOG.info("Event %s kept in %s for handlers %s", event.uid, path, ", ".join(pending))
        return path

    def send_event_from_file(self, filename: str | os.PathLike[str], *,
                             remove_sent: bool = False) -> SendResult:
        """Replay an event written by :meth:`Event.dump` (or kept in an outbox).

        An outbox file lists the handlers still owed the event and only those
        are called. With ``remove_sent`` the file is deleted once every handler
        has succeeded, or rewritten to list the handlers still failing.
        Raises EventError if the file cannot be read as an event.
        """
        path = os.fspath(filename)
        doc = read_json_doc(path)
        event = Event.from_json_dict(doc, source=repr(path))
        pending = doc.get(_PENDING_KEY)
        if pending is not None and not (isinstance(pending, list)
                                        and all(isinstance(p, str) for p in pending)):
            raise EventError(f"{path!r}: {_PENDING_KEY!r} must be a list of names")
        # Replay without the outbox: the file itself is the record of what is owed.
        handlers = self.handlers
        names = list(handlers) if pending is None else pending
        results = tuple(
            _call_handler(n, handlers[n], event) if n in handlers
            else HandlerResult(n, False, "handler not configured") for n in names)
        result = SendResult(str(event.uid), results)
        if remove_sent:
            if result.ok:
                os.unlink(path)
            elif results:
                doc[_PENDING_KEY] = [r.handler for r in results if not r.ok]
                write_json_atomic(os.path.dirname(path) or ".", str(event.uid), doc,
                                  path=path)
        return result

    def flush_outbox(self) -> list[FileSendResult]:
        """Retry every event kept in the outbox, oldest first; delete those delivered.

        Meant to be run by one process at a time: two concurrent flushes of
        the same outbox may deliver an event twice (never zero times).
        """
        if self.outbox is None:
            return []
        try:
            entries = [os.path.join(self.outbox, n) for n in os.listdir(self.outbox)
                       if n.endswith(".json") and not n.startswith(".")]
        except FileNotFoundError:
            return []
        entries.sort(key=lambda p: (_mtime(p), p))
        return send_event_files(entries, self, remove_sent=True)

    # -- environment ------------------------------------------------------------------

    def load_handlers(self, value: str | None, *, source: str = "the handler configuration",
                      defaults: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
        """Add the handlers described by ``value`` (the grammar of envconfig).

        None or empty means no handlers. ``defaults`` maps a handler name to
        keyword arguments used where ``value`` does not set them (e.g. a
        ``notify`` handler's ``url`` and ``conf``). All handlers are built
        before any is added, so a bad entry leaves the manager unchanged.
        ``source`` names where ``value`` came from in error messages.
        Returns the names.
        """
        specs = envconfig.parse(value)
        built: list[tuple[str, EventHandler]] = []
        try:
            for name, options in specs:
                cls = self.get_handler(name)
                kwargs = {**(defaults or {}).get(name, {}), **cls.decode_config(options)}
                try:
                    built.append((name, cls(**kwargs)))
                except EventError:
                    raise
                except (TypeError, ValueError) as exc:
                    raise EventError(f"event handler {name!r} from {source}: {exc}") from exc
        except BaseException:
            for name, handler in built:
                _close_quietly(name, handler)
            raise
        for name, handler in built:
            self.register_handler(name, handler)
        return [name for name, _ in built]

    def load_handlers_from_env(self, var_name: str = envconfig.DEFAULT_ENV_VAR,
                               environ: Mapping[str, str] | None = None) -> list[str]:
        """Add the handlers described by the variable (grammar in envconfig).

        Unset or empty means no handlers. All handlers are built before any is
        added, so a bad entry leaves the manager unchanged. Returns the names.
        """
        env = os.environ if environ is None else environ
        return self.load_handlers(env.get(var_name), source=f"${var_name}")

    def load_handlers_from_config(self, conf: Any, *,
                                  var_name: str = envconfig.DEFAULT_ENV_VAR,
                                  environ: Mapping[str, str] | None = None,
                                  defaults: Mapping[str, Mapping[str, Any]] | None = None
                                  ) -> list[str]:
        """Add the handlers of ``[msgframework_events] handlers`` on ``conf``.

        The option is registered on ``conf`` (the caller's ConfigOpts). When
        it is unset, the environment variable is used, as
        :meth:`load_handlers_from_env` does. ``defaults`` as for
        :meth:`load_handlers`. Returns the names.
        """
        from msgframework.events.options import handler_config

        value, source = handler_config(conf, var_name=var_name, environ=environ)
        return self.load_handlers(value, source=source, defaults=defaults)

    def handler_config_as_env(self, var_name: str = envconfig.DEFAULT_ENV_VAR,
                              environ: MutableMapping[str, str] | None = None) -> str:
        """Write the handlers' configuration into the variable; return its value.

        Child processes started afterwards can rebuild the same handlers with
        :meth:`load_handlers_from_env`. Only handlers whose configuration is
        fully expressible as strings (all built-ins) can be shared this way.
        """
        value = envconfig.render([(n, h.encode_config()) for n, h in self.handlers.items()])
        env = os.environ if environ is None else environ
        env[var_name] = value
        return value

    @classmethod
    def from_config(cls, conf: Any, *, var_name: str = envconfig.DEFAULT_ENV_VAR,
                    environ: Mapping[str, str] | None = None,
                    defaults: Mapping[str, Mapping[str, Any]] | None = None,
                    **kwargs: Any) -> EventManager:
        """A new manager with the handlers of ``conf`` (falling back to the variable)."""
        manager = cls(**kwargs)
        manager.load_handlers_from_config(conf, var_name=var_name, environ=environ,
                                          defaults=defaults)
        return manager

    @classmethod
    def from_env(cls, var_name: str = envconfig.DEFAULT_ENV_VAR,
                 environ: Mapping[str, str] | None = None, **kwargs: Any) -> EventManager:
        """A new manager with the handlers described by the variable."""
        manager = cls(**kwargs)
        manager.load_handlers_from_env(var_name, environ)
        return manager


def _call_handler(name: str, handler: EventHandler, event: Event) -> HandlerResult:
    try:
        outcome = handler.send_event(event)
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        if not isinstance(exc, EventError):
            reason = f"{type(exc).__name__}: {reason}"
        LOG.warning("Event %s: handler %s failed: %s", event.uid, name, reason)
        LOG.debug("Event handler %s traceback", name, exc_info=True)
        return HandlerResult(name, False, reason, exc)
    if outcome is False:
        LOG.warning("Event %s: handler %s reported failure", event.uid, name)
        return HandlerResult(name, False, "handler returned False")
    return HandlerResult(name, True)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:  # removed meanwhile; send_event_files reports it
        return 0.0


def _close_quietly(name: str, handler: EventHandler) -> None:
    try:
        handler.close()
    except Exception:
        LOG.warning("Closing event handler %s failed", name, exc_info=True)


def send_event_files(paths: Iterable[str | os.PathLike[str]],
                     manager: EventManager | None = None, *,
                     remove_sent: bool = False) -> list[FileSendResult]:
    """Replay event files, one result per file; a bad file does not stop the rest.

    This is the body of ``msgframework send-event FILE...``. Without a
    ``manager``, one is built from ``$MSGFRAMEWORK_EVENT_HANDLERS`` (and closed
    afterwards), since the command runs in its own process.
    """
    own = manager is None
    mgr = EventManager.from_env() if manager is None else manager
    out: list[FileSendResult] = []
    try:
        for p in paths:
            path = os.fspath(p)
            try:
                result = mgr.send_event_from_file(path, remove_sent=remove_sent)
            except EventError as exc:
                LOG.error("Cannot replay event file %s: %s", path, exc)
                out.append(FileSendResult(path, None, str(exc)))
                continue
            out.append(FileSendResult(path, result, result.error))
    finally:
        if own:
            mgr.close()
    return out


#: The process-wide manager used by the module-level functions below. It
#: starts with no handlers; configure it with add_handler / load_handlers_from_env.
default_manager = EventManager()


def send_event(event: Event) -> SendResult:
    """Send ``event`` with :data:`default_manager`."""
    return default_manager.send_event(event)


def send_event_from_file(filename: str | os.PathLike[str]) -> SendResult:
    """Replay a dumped event with :data:`default_manager`."""
    return default_manager.send_event_from_file(filename)


def add_handler(name: str, *args: Any, **kwargs: Any) -> EventHandler:
    """Add a handler to :data:`default_manager`."""
    return default_manager.add_handler(name, *args, **kwargs)


def load_handlers_from_env(var_name: str = envconfig.DEFAULT_ENV_VAR) -> list[str]:
    """Load handlers into :data:`default_manager` from the environment."""
    return default_manager.load_handlers_from_env(var_name)


def handler_config_as_env(var_name: str = envconfig.DEFAULT_ENV_VAR) -> str:
    """Export :data:`default_manager`'s handler configuration to the environment."""
    return default_manager.handler_config_as_env(var_name)
