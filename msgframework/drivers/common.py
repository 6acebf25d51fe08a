"""Driver-independent machinery: routing RPC replies to the callers awaiting them.

Every driver keeps one reply destination per transport and feeds each reply
it receives to :meth:`ReplyWaiters.deliver`; callers block in
:meth:`ReplyWaiters.wait` on their own condition, so there is no polling,
any number of threads can call at once, and duplicate replies are dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

from msgframework.exceptions import MessagingTimeout

__all__ = ["ReplyWaiters", "Reply"]

LOG = logging.getLogger(__name__)

_DUPLICATE_MEMORY = 64


class Reply:
    """One reply message: ``result``, ``failure`` (JSON text or None), ``ending``."""

    __slots__ = ("result", "failure", "ending", "unique_id")

    def __init__(self, result: Any = None, failure: str | None = None, ending: bool = True,
                 unique_id: str | None = None) -> None:
        self.result = result
        self.failure = failure
        self.ending = ending
        self.unique_id = unique_id


class _Slot:
    """One waiting call. ``signal`` is held while nothing is pending and the
    caller sleeps on it: a bare lock hand-off, cheaper than a Condition
    (which allocates and queues a lock per wait); the shared lock guards
    ``sleeping`` so a release and a timeout cannot both be missed."""

    __slots__ = ("signal", "sleeping", "replies", "seen", "error")

    def __init__(self) -> None:
        self.signal = threading.Lock()
        self.signal.acquire()
        self.sleeping = False
        self.replies: collections.deque[Reply] = collections.deque()
        self.seen: collections.deque[str] | None = None  # made on the first unique id
        self.error: BaseException | None = None

    def wake(self) -> None:
        """Shared lock held: let the sleeping caller run."""
        if self.sleeping:
            self.sleeping = False
            self.signal.release()


class ReplyWaiters:
    """Routes replies by message id to the threads waiting for them.

    Register with :meth:`listen` *before* sending the request, so a fast
    reply cannot arrive before anyone waits for it; always pair with
    :meth:`unlisten` in a ``finally``.
    """

    def __init__(self, allowed_remote_exmods: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self._allowed = list(allowed_remote_exmods or [])
        self._warn_at = 10

    def listen(self, msg_id: str) -> None:
        with self._lock:
            self._slots[msg_id] = _Slot()
            waiting = len(self._slots)
            if waiting >= self._warn_at:
                LOG.warning("%d RPC calls are waiting for replies at once; "
                            "a caller may be leaking calls", waiting)
                self._warn_at *= 2

    def unlisten(self, msg_id: str) -> None:
        with self._lock:
            self._slots.pop(msg_id, None)

    def waiting(self) -> int:
        with self._lock:
            return len(self._slots)

    def deliver(self, msg_id: str | None, reply: Reply) -> bool:
        """Hand a reply to its caller; False (and a debug log) when nobody waits."""
        with self._lock:
            slot = self._slots.get(msg_id) if msg_id else None
            if slot is None:
                LOG.debug("No caller waiting for reply %s; dropped", msg_id)
                return False
            if reply.unique_id is not None:
                if slot.seen is None:
                    slot.seen = collections.deque(maxlen=_DUPLICATE_MEMORY)
                elif reply.unique_id in slot.seen:
                    LOG.debug("Duplicate reply %s for %s ignored", reply.unique_id, msg_id)
                    return True
                slot.seen.append(reply.unique_id)
            slot.replies.append(reply)
            slot.wake()
            return True

    def fail(self, msg_id: str, error: BaseException) -> None:
        """Make the call waiting for ``msg_id`` raise ``error`` (its request was not
        delivered), unless a reply already arrived; no-op once it stopped waiting."""
        with self._lock:
            slot = self._slots.get(msg_id)
            if slot is not None and not slot.replies:
                slot.error = error
                slot.wake()

    def wait(self, msg_id: str, timeout: float | None,
             call_monitor_timeout: float | None = None) -> Any:
        """Block until the final reply; return its result or raise its failure.

        ``timeout`` is the hard ceiling; with ``call_monitor_timeout`` the
        call also fails when no heartbeat came for that long.
        """
        from msgframework.wire.failures import deserialize_remote_exception

        start = time.monotonic()
        hard = None if timeout is None else start + timeout
        monitor = None if not call_monitor_timeout else start + call_monitor_timeout
        pending: Any = None  # a result sent before a separate ending reply (old protocol)
        lock = self._lock
        lock.acquire()
        try:
            slot = self._slots[msg_id]
            while True:
                if slot.error is not None and not slot.replies:
                    raise slot.error
                while slot.replies:
                    reply = slot.replies.popleft()
                    if reply.failure is not None:
                        raise deserialize_remote_exception(reply.failure, self._allowed)
                    if reply.ending:
                        return reply.result if reply.result is not None else pending
                    if reply.result is not None:
                        pending = reply.result
                    if call_monitor_timeout:
                        monitor = time.monotonic() + call_monitor_timeout
                now = time.monotonic()
                deadlines = [d for d in (hard, monitor) if d is not None]
                if deadlines and now >= min(deadlines):
                    if monitor is not None and now >= monitor and (hard is None or monitor < hard):
                        raise MessagingTimeout(
                            f"No heartbeat for call {msg_id} in {call_monitor_timeout}s")
                    raise MessagingTimeout(f"Timed out waiting for a reply to call {msg_id}"
                                           f" after {timeout}s")
                slot.sleeping = True
                lock.release()
                try:
                    slot.signal.acquire(timeout=min(deadlines) - now if deadlines else -1)
                finally:
                    lock.acquire()
                if not slot.sleeping:
                    # woken (maybe just as the wait timed out): keep the signal held
                    slot.signal.acquire(blocking=False)
                slot.sleeping = False
        finally:
            lock.release()
