"""The call-monitor watchdog: heartbeats for long-running monitored calls.

A caller that sets ``call_monitor_timeout`` fails its call when it hears
nothing for that long, which detects a dead server much sooner than the
overall ``timeout``. While such a call runs, the server therefore sends a
heartbeat every ``call_monitor_timeout / 2`` seconds.

Unlike oslo.messaging (a thread per monitored call, intervals under one
second ignored), one :class:`CallMonitor` per server keeps a heap of
deadlines served by a single thread, and sub-second intervals work. The
thread starts on the first monitored call and exits after it has been idle
for a while, so a server that never sees one never pays for it.

Heartbeats are sent from that one thread, one after the other, so a driver
must keep ``IncomingMessage.heartbeat()`` short (no long retries): a
heartbeat stuck on a dead connection delays the others.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any

__all__ = ["CallMonitor", "MIN_INTERVAL"]

LOG = logging.getLogger(__name__)

#: Shortest heartbeat interval: keeps a tiny client timeout from flooding replies.
MIN_INTERVAL = 0.005
_IDLE_EXIT = 5.0


class _Watch:
    __slots__ = ("incoming", "interval", "active")

    def __init__(self, incoming: Any, interval: float) -> None:
        self.incoming = incoming
        self.interval = interval
        self.active = True


class CallMonitor:
    """Sends ``incoming.heartbeat()`` periodically for every watched call."""

    def __init__(self, name: str = "msgframework-call-monitor") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._watching = 0

    def watching(self) -> int:
        """How many calls are being watched (for tests and diagnostics)."""
        with self._cond:
            return self._watching

    def watch(self, incoming: Any, client_timeout: float) -> _Watch:
        """Start heartbeats for ``incoming``; pass the result to :meth:`unwatch`."""
        interval = max(MIN_INTERVAL, float(client_timeout) / 2)
        watch = _Watch(incoming, interval)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + interval, next(self._seq), watch))
            self._watching += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name,
                                                daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._cond.notify()
        return watch

    def unwatch(self, watch: _Watch) -> None:
        """Stop the heartbeats of one call (its entry leaves the heap when due)."""
        with self._cond:
            if watch.active:
                watch.active = False
                self._watching -= 1

    def _run(self) -> None:
        cond, heap = self._cond, self._heap
        idle_since: float | None = None
        while True:
            due: list[_Watch] = []
            with cond:
                now = time.monotonic()
                while heap and (not heap[0][2].active or heap[0][0] <= now):
                    _deadline, _seq, watch = heapq.heappop(heap)
                    if watch.active:
                        due.append(watch)
                if not due:
                    if heap:
                        idle_since = None
                        cond.wait(heap[0][0] - now)
                        continue
                    if idle_since is None:
                        idle_since = now
                    if now - idle_since >= _IDLE_EXIT:
                        self._thread = None
                        return
                    cond.wait(_IDLE_EXIT - (now - idle_since))
                    continue
            idle_since = None
            for watch in due:
                watch.incoming.heartbeat()  # never raises (the driver contract)
            with cond:
                now = time.monotonic()
                for watch in due:
                    if watch.active:
                        heapq.heappush(heap, (now + watch.interval, next(self._seq), watch))
