"""What the processes (or threads) of one scenario run share.

A scenario's consumers count what they received into one shared counter, so
a pool of several listener processes knows when the whole run is done
without any of them knowing its own share in advance. The same object is
built on ``multiprocessing`` (spawn) primitives for process runs and on
``threading`` ones for the in-process memory driver.
"""

from __future__ import annotations

import multiprocessing
import queue
import resource
import threading
import time
from typing import Any


class _ThreadValue:
    """The part of ``multiprocessing.Value`` we use, for threads."""

    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


class Coord:
    """Shared counter and events of one scenario run.

    :param target: the count at which ``done`` is set.
    :param processes: True for multiprocessing primitives (spawn), False for threads.
    """

    def __init__(self, target: int, processes: bool) -> None:
        self.target = target
        if processes:
            ctx = multiprocessing.get_context("spawn")
            self.counter: Any = ctx.Value("q", 0)
            self.go: Any = ctx.Event()
            self.done: Any = ctx.Event()
            self.stop: Any = ctx.Event()
            self.results: Any = ctx.Queue()
        else:
            self.counter = _ThreadValue()
            self.go = threading.Event()
            self.done = threading.Event()
            self.stop = threading.Event()
            self.results = queue.Queue()

    def add(self, n: int = 1) -> int:
        """Count ``n`` more received messages; set ``done`` at the target. Returns the total."""
        with self.counter.get_lock():
            self.counter.value += n
            total = int(self.counter.value)
        if total >= self.target:
            self.done.set()
        return total

    @property
    def received(self) -> int:
        return int(self.counter.value)

    def ready(self, role: str) -> None:
        """Tell the orchestrator this role is listening (or about to send)."""
        self.results.put(("ready", role, None))

    def wait_go(self, deadline: float) -> bool:
        """Producers start together, when every consumer is ready."""
        return bool(self.go.wait(max(0.0, deadline - time.time())))


def rss_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``; else the peak)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
        return pages * resource.getpagesize()
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """This process's peak resident set size (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
