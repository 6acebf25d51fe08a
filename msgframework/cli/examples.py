"""Example endpoints, so ``serve`` and ``listen`` have something to load by name.

::

    msgframework serve msgframework.cli.examples:ExampleRPCEndpoint &
    msgframework call add '{"a": 1, "b": 2}'          # -> 3
    msgframework listen --endpoint msgframework.cli.examples:ExampleNotificationEndpoint

Each dispatch prints one line on standard output (flushed at once), which is
how ``msgframework demo`` shows what each daemon dispatched. They are also a
template: an RPC endpoint is any object whose public methods take
``(ctxt, **kwargs)``; a notification endpoint has one method per priority
taking ``(ctxt, publisher_id, event_type, payload, metadata)``.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from msgframework.cli.common import emit

__all__ = ["ExampleRPCEndpoint", "ExampleNotificationEndpoint"]

_print_lock = threading.Lock()


def _say(line: str) -> None:
    with _print_lock:
        emit(line)


def _brief(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


class ExampleRPCEndpoint:
    """add, echo, sleep and fail: enough to try calls, casts, timeouts and remote errors."""

    def add(self, ctxt: dict[str, Any], a: float, b: float) -> float:
        result = a + b
        _say(f"rpc add(a={_brief(a)}, b={_brief(b)}) -> {_brief(result)}")
        return result

    def echo(self, ctxt: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        _say(f"rpc echo({_brief(kwargs)})")
        return kwargs

    def sleep(self, ctxt: dict[str, Any], seconds: float = 1.0) -> float:
        """Work that takes a while: shows that SIGTERM lets it finish before exiting."""
        _say(f"rpc sleep({seconds}) started")
        time.sleep(float(seconds))
        _say(f"rpc sleep({seconds}) done")
        return float(seconds)

    def fail(self, ctxt: dict[str, Any], message: str = "failed as asked") -> None:
        _say(f"rpc fail({_brief(message)}) -> raising ValueError")
        raise ValueError(message)


class ExampleNotificationEndpoint:
    """Prints every notification; a payload ``{"sleep": S}`` makes it work S seconds first."""

    def _handle(self, priority: str, publisher_id: str, event_type: str,
                payload: Any) -> None:
        seconds = payload.get("sleep") if isinstance(payload, dict) else None
        if seconds:
            _say(f"notification {priority} {event_type} started")
            time.sleep(float(seconds))
        _say(f"notification {priority} {event_type} from {publisher_id}: {_brief(payload)}")

    def audit(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
              metadata: Any) -> None:
        self._handle("audit", publisher_id, event_type, payload)

    def debug(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
              metadata: Any) -> None:
        self._handle("debug", publisher_id, event_type, payload)

    def info(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self._handle("info", publisher_id, event_type, payload)

    def warn(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
             metadata: Any) -> None:
        self._handle("warn", publisher_id, event_type, payload)

    def error(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
              metadata: Any) -> None:
        self._handle("error", publisher_id, event_type, payload)

    def critical(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
                 metadata: Any) -> None:
        self._handle("critical", publisher_id, event_type, payload)

    def sample(self, ctxt: Any, publisher_id: str, event_type: str, payload: Any,
               metadata: Any) -> None:
        self._handle("sample", publisher_id, event_type, payload)
