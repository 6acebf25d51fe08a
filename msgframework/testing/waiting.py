"""Waiting in tests without sleeping: conditions with timeouts.

A test that sleeps "long enough" is slow when the machine is fast and flaky
when it is slow. These helpers wake the test the moment the awaited thing
happens and fail it with a clear message when it does not within the bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["wait_for", "Recorder", "RecordingEndpoint", "CollectingEndpoint"]


def wait_for(predicate: Callable[[], Any], timeout: float,
             condition: threading.Condition | None = None, message: str = "") -> Any:
    """Return ``predicate()``'s first truthy value; AssertionError after ``timeout``.

    With ``condition`` (which whoever changes the state notifies) the wait
    costs nothing until a change; the predicate is evaluated with the
    condition held. Without one, the predicate is re-checked on a short
    backoff: use that only for state you cannot get notified about.
    """
    deadline = time.monotonic() + timeout
    if condition is not None:
        with condition:
            result = condition.wait_for(predicate, timeout)
        if not result:
            raise AssertionError(message or f"condition not met within {timeout}s")
        return result
    pause = 0.0005
    event = threading.Event()  # never set: an interruptible, bounded pause
    while True:
        result = predicate()
        if result:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(message or f"condition not met within {timeout}s")
        event.wait(min(pause, remaining))
        pause = min(pause * 2, 0.05)


class Recorder:
    """A thread-safe list whose readers can wait until it holds what they expect."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def __len__(self) -> int:
        with self.cond:
            return len(self.items)

    def snapshot(self) -> list[Any]:
        with self.cond:
            return list(self.items)

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float) -> bool:
        """True once ``predicate(items)`` holds; False after ``timeout``."""
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self.items), timeout)

    def wait_for_count(self, n: int, timeout: float) -> list[Any]:
        """The items once there are at least ``n``; AssertionError after ``timeout``."""
        if not self.wait_for(lambda items: len(items) >= n, timeout):
            raise AssertionError(
                f"expected {n} items within {timeout}s, got {len(self.items)}: "
                f"{self.items!r:.1000}")
        return self.snapshot()


class RecordingEndpoint(Recorder):
    """A notification endpoint recording every call as ``(priority, ctxt,
    publisher_id, event_type, payload, metadata)``.

    It answers every priority (``info``, ``error``, ...). ``result`` is what
    the methods return (e.g. ``NotificationResult.REQUEUE``); None means
    handled.

    >>> endpoint = RecordingEndpoint()
    >>> # listener = get_notification_listener(transport, targets, [endpoint])
    >>> # calls = endpoint.wait_for_count(3, timeout=5)
    """

    PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")

    def __init__(self, result: Any = None) -> None:
        super().__init__()
        self.result = result
        for priority in self.PRIORITIES:
            setattr(self, priority, self._recorder(priority))

    def _recorder(self, priority: str) -> Callable[..., Any]:
        def record(ctxt: Any, publisher_id: str, event_type: str, payload: Any,
                   metadata: Any) -> Any:
            self.add((priority, ctxt, publisher_id, event_type, payload, metadata))
            return self.result
        record.__name__ = priority
        return record

    @property
    def payloads(self) -> list[Any]:
        return [call[4] for call in self.snapshot()]

    @property
    def event_types(self) -> list[str]:
        return [call[3] for call in self.snapshot()]


#: The name oslo-style tests often use.
CollectingEndpoint = RecordingEndpoint
