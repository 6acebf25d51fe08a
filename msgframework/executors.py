"""Executors: the threads that take messages from a listener and handle them.

Loaded from the ``msgframework.executors`` entry points:

* ``threading`` (default): up to ``executor_thread_pool_size`` OS threads
  in a leader/follower arrangement. One idle thread at a time polls the
  listener; when it gets a message it hands the polling role to the next
  idle thread and handles the message itself. Compared with a poll thread
  feeding a pool, every message saves one thread hand-off (the largest
  single cost of an in-memory RPC call), and the number of messages in
  flight is bounded by the pool size for free: when every thread is busy,
  nobody polls. Threads are started on demand, up to the pool size.
  A listener whose ``concurrent_poll`` attribute is true (the memory
  driver's) is polled by every idle thread at once when ``batch_size`` is
  1: its driver wakes one of them per message (the one that blocked last),
  so there is no polling role to hand on and, when calls come one at a
  time, one thread serves them while the others sleep: a call costs two
  thread wake-ups (caller to worker, worker to caller), where handing on
  the polling role wakes a third thread for every message.
* ``blocking``: the same with one thread: messages are handled one at a
  time, in order, by the thread that polled them.
* ``eventlet``: one green polling loop feeding a green-thread pool, for
  services that monkey-patch with eventlet (install the ``eventlet`` extra).
  Chosen automatically when eventlet has patched ``thread``; choosing it
  without patching warns, because green threads then block each other on
  real I/O.

Every executor calls ``listener.poll()`` from one thread at a time (not
always the same thread), except as above for ``concurrent_poll`` listeners,
and hands each non-empty batch to ``handle``.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from msgframework.drivers.base import IncomingMessage, Listener
from msgframework.drivers.loader import EXECUTOR_NAMESPACE, load_class
from msgframework.exceptions import ExecutorLoadFailure

__all__ = ["Executor", "ThreadingExecutor", "BlockingExecutor", "EventletExecutor",
           "load_executor", "eventlet_patched", "POLL_TIMEOUT"]

LOG = logging.getLogger(__name__)

#: Longest single poll: a safety net only, listeners wake on stop().
POLL_TIMEOUT = 5.0

Handler = Callable[[list[IncomingMessage]], None]


class Executor(abc.ABC):
    """Polls a listener and runs ``handle`` on what it receives.

    ``max_workers`` bounds how many batches are handled at once; the server
    sets the listener's prefetch from it.
    """

    def __init__(self, max_workers: int) -> None:
        self.max_workers = max_workers

    @abc.abstractmethod
    def start(self, listener: Listener, handle: Handler, batch_size: int = 1,
              batch_timeout: float | None = None) -> None:
        """Begin polling ``listener``; returns at once."""

    @abc.abstractmethod
    def shutdown(self, wait: bool = True, timeout: float | None = None) -> bool:
        """After ``listener.stop()``: with ``wait``, block until in-flight work is done.

        ``timeout`` (seconds, None: no bound) bounds the wait. Returns False
        when it expired before the work was done (call shutdown again to
        keep waiting), else True (without ``wait`` too).
        """


def _poll(listener: Listener, batch_size: int,
          batch_timeout: float | None) -> list[IncomingMessage]:
    try:
        return listener.poll(timeout=POLL_TIMEOUT, batch_size=batch_size,
                             batch_timeout=batch_timeout)
    except Exception:
        LOG.exception("Polling failed; retrying")
        listener.wait_stopped(1.0)  # back off on a failing driver, wake on stop
        return []


class ThreadingExecutor(Executor):
    """Leader/follower OS threads (the default); see the module docstring."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers)
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._busy = 0
        self._args: tuple[Listener, Handler, int, float | None] | None = None

    def start(self, listener: Listener, handle: Handler, batch_size: int = 1,
              batch_timeout: float | None = None) -> None:
        self._args = (listener, handle, batch_size, batch_timeout)
        with self._lock:
            self._spawn()

    def _spawn(self) -> None:
        thread = threading.Thread(target=self._work, daemon=True,
                                  name=f"msgframework-worker-{len(self._threads)}")
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        assert self._args is not None
        listener, handle, batch_size, batch_timeout = self._args
        # Listeners that wake one poller per message let every idle thread
        # poll; the others get one poller at a time. Batches are filled by
        # one thread at a time in both cases.
        concurrent = batch_size == 1 and listener.concurrent_poll
        poll_lock: Any = contextlib.nullcontext() if concurrent else self._poll_lock
        while not listener.stopped:
            with poll_lock:
                if listener.stopped:
                    break
                batch = _poll(listener, batch_size, batch_timeout)
                if not batch:
                    continue
                with self._lock:
                    self._busy += 1
                    # Keep one thread polling while this one works, if the pool allows.
                    if self._busy == len(self._threads) and len(self._threads) < self.max_workers:
                        self._spawn()
            try:
                handle(batch)
            finally:
                with self._lock:
                    self._busy -= 1

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> bool:
        if not wait:
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is threading.current_thread():  # wait() from an endpoint
                continue
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
        return True


class BlockingExecutor(ThreadingExecutor):
    """One thread polls and handles: one message at a time, in order."""

    def __init__(self, max_workers: int = 1) -> None:
        super().__init__(1)


class EventletExecutor(Executor):
    """A green polling loop feeding a green-thread pool (the ``eventlet`` extra)."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers)
        try:
            import eventlet
        except ImportError as exc:
            raise ExecutorLoadFailure(
                "eventlet", "eventlet is not installed (pip install 'msgframework[eventlet]')"
            ) from exc
        if not eventlet_patched():
            LOG.warning("The eventlet executor is used but eventlet has not monkey-patched "
                        "'thread': green threads will block each other")
        self._eventlet = eventlet
        self._pool = eventlet.GreenPool(max_workers)
        self._loop: Any = None

    def start(self, listener: Listener, handle: Handler, batch_size: int = 1,
              batch_timeout: float | None = None) -> None:
        from eventlet.semaphore import Semaphore

        slots = Semaphore(self.max_workers)  # poll only when a green thread is free

        def run(batch: list[IncomingMessage]) -> None:
            try:
                handle(batch)
            finally:
                slots.release()

        def loop() -> None:
            while not listener.stopped:
                if not slots.acquire(timeout=POLL_TIMEOUT):
                    continue
                batch = _poll(listener, batch_size, batch_timeout)
                if batch:
                    self._pool.spawn_n(run, batch)
                else:
                    slots.release()

        self._loop = self._eventlet.spawn(loop)

    def shutdown(self, wait: bool = True, timeout: float | None = None) -> bool:
        if not wait:
            return True
        with self._eventlet.Timeout(timeout, False):
            if self._loop is not None:
                self._loop.wait()
            self._pool.waitall()
            return True
        return False


def eventlet_patched() -> bool:
    """True when eventlet is imported and has monkey-patched ``thread``."""
    import sys

    if "eventlet" not in sys.modules:
        return False
    try:
        from eventlet import patcher
    except ImportError:
        return False
    return bool(patcher.is_monkey_patched("thread"))


def load_executor(name: str | None) -> type[Executor]:
    """The executor class for ``name``; None picks eventlet when patched, else threading."""
    if name is None:
        name = "eventlet" if eventlet_patched() else "threading"
    try:
        cls: type[Executor] = load_class(EXECUTOR_NAMESPACE, name)
    except LookupError as exc:
        raise ExecutorLoadFailure(name, exc) from None
    return cls
