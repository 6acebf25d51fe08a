"""MessageHandlingServer: the lifecycle shared by RPC servers and notification listeners.

The executor's threads take messages from the driver's listener and handle
them (see ``executors.py``). The number of messages in flight (received,
not yet settled) is bounded by the executor's size, and the listener's
``prefetch`` is set from it, so a server never pulls a backlog into memory:
a crash loses at most the work that was running. ``stop()`` stops
receiving at once; ``wait()`` returns when the messages already received
have been handled and settled.

Ordering (as oslo.messaging's): ``start()``, ``stop()`` and ``wait()`` may
be called from different threads and in any order. ``wait()`` called first
blocks until another thread has called ``stop()``; a second ``start()``
while running only logs, and concurrent ``start()`` calls start the server
once; ``stop()`` and ``wait()`` are idempotent (a ``wait()`` after a
finished ``wait()`` returns at once, ``stop()`` then ``wait()`` on a server
never started return at once); after ``stop()`` and ``wait()`` the server
can be started again. Every call takes ``log_after`` (seconds before a
"possible hang" warning, default 30; 0 disables) and ``timeout`` (raise
:class:`TaskTimeout` instead of blocking longer). A ``wait()`` that times
out while endpoints still run leaves the server stopped: a later
``wait()`` (or ``start()``) finishes the drain.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from msgframework.drivers.base import IncomingMessage, Listener
from msgframework.exceptions import (
    ServerListenError,
    TaskTimeout,
    TransportDriverError,
)
from msgframework.executors import Executor, load_executor

__all__ = ["MessageHandlingServer", "DEFAULT_LOG_AFTER"]

LOG = logging.getLogger(__name__)

DEFAULT_LOG_AFTER = 30.0

_IDLE, _STARTING, _RUNNING, _STOPPED, _WAITING = (
    "idle", "starting", "running", "stopped", "waiting")


class MessageHandlingServer:
    """Runs a listener and dispatches what it receives on an executor.

    Subclasses implement :meth:`_create_listener` and
    :meth:`_process_incoming` (which must settle every message it is given).

    :param transport: the Transport to listen on.
    :param dispatcher: the object subclasses dispatch with.
    :param executor: ``threading`` (default), ``blocking``, ``eventlet``, or
        None to pick eventlet when it has monkey-patched threads.
    """

    batch_size: int = 1
    batch_timeout: float | None = None

    def __init__(self, transport: Any, dispatcher: Any, executor: str | None = None) -> None:
        self.transport = transport
        self.dispatcher = dispatcher
        self.conf = transport.conf
        self._executor_cls = load_executor(executor)
        self.executor_type = self._executor_cls.__name__
        self._cond = threading.Condition()
        self._state = _IDLE
        self._cycles = 0
        self._listener: Listener | None = None
        self._executor: Executor | None = None

    # -- for subclasses -------------------------------------------------
    def _create_listener(self) -> Listener:
        raise NotImplementedError

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        raise NotImplementedError

    def _listen_target_description(self) -> Any:
        return getattr(self, "target", None) or getattr(self, "targets", None)

    # -- lifecycle --------------------------------------------------------
    #
    # One run of the server is a *cycle*: idle -> starting -> running ->
    # stopped -> waiting (one thread drains) -> idle again, with
    # ``_cycles`` counting the cycles whose wait() finished. stop() on a
    # server that was never started (or is idle) moves it to stopped too, so
    # the wait() that follows has nothing to drain and returns. A wait()
    # returns once a cycle finished after it was called; one called while
    # the server is idle after a finished cycle returns at once.

    @property
    def running(self) -> bool:
        return self._state == _RUNNING

    def start(self, override_pool_size: int | None = None, *,
              log_after: float = DEFAULT_LOG_AFTER, timeout: float | None = None) -> None:
        """Subscribe and start dispatching. Raises ServerListenError if subscribing fails.

        After stop() without wait(), start() first waits for the server to
        drain, as wait() would.
        """
        deadline = _deadline(timeout)
        while True:
            with self._cond:
                self._wait_for(lambda: self._state not in (_STARTING, _WAITING),
                               "start", log_after, deadline, timeout)
                if self._state == _RUNNING:
                    LOG.warning("The server has already been started; ignoring start()")
                    return
                if self._state == _IDLE:
                    self._state = _STARTING
                    break
            # stopped: drain first (another thread may be doing it already)
            self.wait(log_after=log_after, timeout=_remaining(deadline))
        try:
            self._start(override_pool_size)
        except BaseException:
            with self._cond:
                self._state = _IDLE
                self._cond.notify_all()
            raise
        with self._cond:
            self._state = _RUNNING
            self._cond.notify_all()

    def _start(self, override_pool_size: int | None) -> None:
        pool_size = override_pool_size or self.conf.executor_thread_pool_size
        executor = self._executor_cls(pool_size)
        try:
            listener = self._create_listener()
        except (TransportDriverError, OSError) as exc:
            raise ServerListenError(self._listen_target_description(), exc) from exc
        listener.prefetch = executor.max_workers * max(1, self.batch_size)
        self._executor, self._listener = executor, listener
        executor.start(listener, self._run, self.batch_size, self.batch_timeout)

    def stop(self, *, log_after: float = DEFAULT_LOG_AFTER, timeout: float | None = None) -> None:
        """Stop receiving; messages already received still complete (see wait()).

        Idempotent. On a server that is not running it only lets a pending
        (or the next) wait() return.
        """
        with self._cond:
            self._wait_for(lambda: self._state != _STARTING, "stop", log_after,
                           _deadline(timeout), timeout)
            if self._state == _RUNNING:
                assert self._listener is not None
                self._listener.stop()
            elif self._state != _IDLE:
                return  # stopped already, or being drained
            self._state = _STOPPED
            self._cond.notify_all()

    def wait(self, *, log_after: float = DEFAULT_LOG_AFTER, timeout: float | None = None) -> None:
        """Block until stop() was called, then until in-flight work is done and acknowledged.

        Idempotent: after a finished wait(), wait() returns at once until the
        server is started again. With ``timeout``, raises TaskTimeout when
        the work is still running then; the server stays stopped and a later
        wait() finishes the job.
        """
        deadline = _deadline(timeout)
        with self._cond:
            if self._state == _IDLE and self._cycles:
                return  # the last cycle is finished and nothing started since
            seen = self._cycles
            self._wait_for(lambda: self._state == _STOPPED or self._cycles > seen,
                           "wait", log_after, deadline, timeout)
            if self._cycles > seen:
                return  # another thread drained the server
            self._state = _WAITING  # this thread drains it
            executor, listener = self._executor, self._listener
        finished = False
        try:
            finished = executor is None or executor.shutdown(
                wait=True, timeout=_remaining(deadline))
            if finished and listener is not None:
                try:
                    listener.cleanup()
                except Exception:
                    LOG.exception("Listener cleanup failed")
        finally:
            with self._cond:
                if finished:
                    self._executor = self._listener = None
                    self._state = _IDLE
                    self._cycles += 1
                else:
                    self._state = _STOPPED  # a later wait() drains again
                self._cond.notify_all()
        if not finished:
            raise TaskTimeout(f"wait() timed out after {timeout}s: messages are still "
                              "being handled; call wait() again to keep waiting")

    def reset(self) -> None:
        """Stop, drain and start again: used to apply a reloaded configuration (SIGHUP)."""
        was_running = self.running
        self.stop()
        self.wait()
        if was_running:
            self.start()

    # -- internals --------------------------------------------------------
    def _wait_for(self, predicate: Callable[[], bool], what: str, log_after: float,
                  deadline: float | None, timeout: float | None) -> None:
        """Wait on the condition (held) for ``predicate``; warn once, raise
        TaskTimeout at ``deadline`` (the end of the call's ``timeout``)."""
        start = time.monotonic()
        warned = False
        while not predicate():
            now = time.monotonic()
            waits = []
            if deadline is not None:
                if now >= deadline:
                    raise TaskTimeout(f"{what}() timed out after {timeout}s "
                                      f"(server state: {self._state})")
                waits.append(deadline - now)
            if log_after and not warned:
                if now - start >= log_after:
                    LOG.warning("Possible hang: %s() has waited %s for the server "
                                "(state %s)", what, _seconds(now - start), self._state)
                    warned = True
                else:
                    waits.append(start + log_after - now)
            self._cond.wait(min(waits) if waits else None)

    def _run(self, batch: list[IncomingMessage]) -> None:
        try:
            self._process_incoming(batch)
        except Exception:
            LOG.exception("Unhandled error processing %d message(s); requeueing them",
                          len(batch))
        finally:
            for message in batch:
                if not message.settled:
                    message.requeue()


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _seconds(value: float) -> str:
    """A readable duration: ``250ms`` below a second, ``2.5s``, ``30.0s`` above."""
    if value < 1:
        return f"{value * 1000:.0f}ms"
    return f"{value:.1f}s"
