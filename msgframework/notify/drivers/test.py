"""The ``test`` notifier driver: records notifications in memory for assertions.

Like oslo.messaging's, it appends ``(ctxt, message, priority, retry)`` to
the module-level :data:`NOTIFICATIONS` list, which :func:`reset` empties.
It JSON-encodes each message first, so a payload a real transport would
refuse fails the same way (TypeError) in tests. The list is shared by the
whole process: tests that use it should call :func:`reset` first.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from msgframework.notify.drivers.base import Driver
from msgframework.wire.jsonutil import dumps

__all__ = ["TestDriver", "NOTIFICATIONS", "reset"]

#: ``(ctxt, message, priority, retry)`` of every notification sent, in order.
NOTIFICATIONS: list[tuple[dict[str, Any], dict[str, Any], str, int | None]] = []
_lock = threading.Lock()


def reset() -> None:
    """Forget every recorded notification."""
    with _lock:
        del NOTIFICATIONS[:]


class TestDriver(Driver):
    """Records notifications in :data:`NOTIFICATIONS`."""

    __test__ = False  # not a pytest test class

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        dumps({"ctxt": ctxt, "message": message})  # TypeError as a transport would
        with _lock:
            NOTIFICATIONS.append((copy.deepcopy(ctxt), copy.deepcopy(message), priority, retry))
