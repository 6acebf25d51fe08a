"""Running a server as a daemon: signals, reload, bounded graceful shutdown.

Signal handlers do nothing; the signal number reaches the main thread
through a pipe (the interpreter's wakeup fd, the self-pipe trick): taking a
lock or stopping a server inside a handler can deadlock with the very code
it interrupted. The main thread blocks on the pipe and does the real work:

* SIGTERM / SIGINT: ``stop()`` (no new messages), then ``wait()`` for the
  in-flight ones to finish and be acknowledged, bounded by
  ``graceful_shutdown_timeout``; exit 0 (1 if the bound was exceeded, the
  unfinished messages then being redelivered by the transport).
* SIGHUP: re-read the configuration files and re-apply logging; if what the
  server is built from (endpoints, topic, URL...) is unchanged, ``reset()``
  it, otherwise build the new server first (so a bad new config leaves the
  old one running), then stop the old one and start the new one.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from types import FrameType
from typing import Any, Protocol

from msgframework.cli.common import PROG, CLIContext, UsageError, emit
from msgframework.exceptions import TaskTimeout

__all__ = ["SignalWaiter", "Service", "Daemon", "STOP_SIGNALS", "RELOAD_SIGNALS"]

LOG = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNALS = (signal.SIGHUP,)
#: A pseudo signal number for stop requests from inside the process (--max-messages).
STOP_REQUEST = 0


class SignalWaiter:
    """Turns signals into numbers read by the main thread from a pipe.

    The pipe is the interpreter's wakeup fd (``signal.set_wakeup_fd``): the
    C-level handler writes the signal number there whichever thread the
    kernel delivered it to, so a main thread blocked in ``select`` always
    wakes up (a Python-level handler alone would run only once the main
    thread executes bytecode again). The Python handlers do nothing but keep
    the default action (exit) from happening. Use as a context manager
    around the daemon's loop: the previous handlers and wakeup fd come back
    on exit. :meth:`request` lets any thread queue a pseudo-signal the same way.
    """

    def __init__(self, signals: Iterable[int] = (*STOP_SIGNALS, *RELOAD_SIGNALS)) -> None:
        self.signals = tuple(signals)
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._previous: dict[int, Any] = {}
        self._previous_wakeup: int | None = None
        self._pending = bytearray()

    @staticmethod
    def _handler(signum: int, frame: FrameType | None) -> None:
        """Nothing to do: the wakeup fd already carries the signal number."""

    def request(self, signum: int = STOP_REQUEST) -> None:
        """Queue ``signum`` for :meth:`wait`; safe from any thread."""
        try:
            os.write(self._write_fd, bytes([signum & 0xFF]))
        except OSError:  # pipe full: plenty is queued already
            pass

    def install(self) -> None:
        self._previous_wakeup = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        if self._previous_wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            self._previous_wakeup = None

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> SignalWaiter:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
        self.close()

    def wait(self, timeout: float | None = None) -> int | None:
        """The next queued signal number, or None after ``timeout`` seconds.

        Bytes for other signals that have Python handlers (the wakeup fd gets
        them all) are skipped.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while self._pending:
                signum = self._pending.pop(0)
                if signum == STOP_REQUEST or signum in self.signals:
                    return signum
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if not ready:
                return None
            self._pending.extend(os.read(self._read_fd, 64))


class Service(Protocol):
    """What a daemon subcommand supplies: how to build its server from the config."""

    name: str

    def config_key(self) -> Hashable:
        """Everything the server is built from; a change on reload means rebuild."""

    def make_server(self) -> Any:
        """A new, unstarted server (``start/stop/wait/reset`` and ``.transport``)."""

    def describe(self) -> str:
        """A short text for the ready line (topic, URL redacted...)."""

    def summary(self) -> str | None:
        """What was done, for the last line (e.g. how many messages), or None."""


class Daemon:
    """Runs a :class:`Service`'s server until SIGTERM/SIGINT, reloading on SIGHUP.

    Status lines (``msgframework <name>: ready ...``, ``reloaded``,
    ``stopping``, ``stopped``) go to standard error, leaving standard output
    to the data; parents (``msgframework demo``, tests) wait for them.
    ``ready_file``, when set, is written once ready too (atomically, via a
    rename); :attr:`started` is set for in-process callers.
    """

    def __init__(self, ctx: CLIContext, service: Service, *,
                 ready_file: str | None = None,
                 waiter: SignalWaiter | None = None) -> None:
        self.ctx = ctx
        self.service = service
        self.ready_file = ready_file
        self.waiter = waiter or SignalWaiter()
        self.server: Any = None
        self.started = threading.Event()
        self.reloads = 0  # SIGHUPs handled, applied or not
        self._reload_cond = threading.Condition()

    def wait_for_reloads(self, count: int, timeout: float | None = None) -> bool:
        """Block until ``count`` SIGHUPs were handled (for tests and embedders)."""
        with self._reload_cond:
            return self._reload_cond.wait_for(lambda: self.reloads >= count, timeout)

    def _reload_handled(self) -> None:
        with self._reload_cond:
            self.reloads += 1
            self._reload_cond.notify_all()

    def request_stop(self) -> None:
        """Stop the daemon from any thread, as SIGTERM would."""
        self.waiter.request(STOP_REQUEST)

    # -- main loop ---------------------------------------------------------
    def run(self) -> int:
        with self.waiter:
            key = self.service.config_key()
            self.server = self.service.make_server()
            try:
                self.server.start()
                self._announce("ready")
                self.started.set()
                while True:
                    signum = self.waiter.wait()
                    if signum in RELOAD_SIGNALS:
                        try:
                            key = self._reload(key)
                        finally:
                            self._reload_handled()
                        continue
                    name = signal.Signals(signum).name if signum else "stop request"
                    LOG.info("%s: %s received; finishing in-flight messages",
                             self.service.name, name)
                    emit(f"{PROG} {self.service.name}: stopping ({name})", stream=sys.stderr)
                    break
                return self._shutdown()
            except BaseException:
                self._abandon()
                raise

    def _shutdown(self) -> int:
        timeout = float(self.ctx.conf.graceful_shutdown_timeout) or None
        server = self.server
        try:
            server.stop(timeout=timeout)
            server.wait(timeout=timeout)
        except TaskTimeout as exc:
            LOG.error("%s: in-flight messages did not finish within %ss: %s",
                      self.service.name, timeout, exc)
            emit(f"{PROG}: error: {self.service.name} did not stop within "
                 f"graceful_shutdown_timeout={timeout:g}s; unfinished messages will be "
                 f"redelivered", stream=sys.stderr)
            return 1
        finally:
            _cleanup_transport(server)
        summary = self.service.summary()
        emit(f"{PROG} {self.service.name}: stopped" + (f"; {summary}" if summary else ""),
             stream=sys.stderr)
        return 0

    def _abandon(self) -> None:
        """Best effort on an unexpected error: stop quickly, release the transport."""
        server = self.server
        if server is None:
            return
        if not getattr(server, "running", True):  # start() failed: nothing to stop
            _cleanup_transport(server)
            return
        try:
            server.stop(timeout=5)
            server.wait(timeout=5)
        except Exception:
            LOG.debug("stopping after an error failed", exc_info=True)
        _cleanup_transport(server)

    def _reload(self, key: Hashable) -> Hashable:
        LOG.info("%s: SIGHUP received; reloading the configuration", self.service.name)
        try:
            self.ctx.reload()
        except UsageError as exc:
            LOG.error("%s: %s", self.service.name, exc)
            emit(f"{PROG}: error: {exc}", stream=sys.stderr)
            return key
        new_key = self.service.config_key()
        if new_key == key:
            self.server.reset()
        else:
            try:
                new_server = self.service.make_server()
            except Exception as exc:  # bad new endpoints: keep serving the old ones
                LOG.error("%s: cannot apply the new configuration, keeping the old one: %s",
                          self.service.name, exc)
                emit(f"{PROG}: error: cannot apply the new configuration: {exc}",
                     stream=sys.stderr)
                return key
            old = self.server
            old.stop()
            old.wait()
            if getattr(old, "transport", None) is not getattr(new_server, "transport", None):
                _cleanup_transport(old)
            self.server = new_server
            new_server.start()
        self._announce("reloaded")
        return new_key

    def _announce(self, what: str) -> None:
        line = f"{PROG} {self.service.name}: {what} ({self.service.describe()})"
        LOG.info("%s", line)
        emit(line, stream=sys.stderr)
        if self.ready_file and what == "ready":
            tmp = f"{self.ready_file}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()}\n")
            os.replace(tmp, self.ready_file)


def _cleanup_transport(server: Any) -> None:
    transport = getattr(server, "transport", None)
    if transport is None:
        return
    try:
        transport.cleanup()
    except Exception:
        LOG.warning("Transport cleanup failed", exc_info=True)


def run_service(ctx: CLIContext, service: Service, ready_file: str | None = None,
                on_daemon: Callable[[Daemon], None] | None = None) -> int:
    """Build a :class:`Daemon` for ``service`` and run it (``on_daemon`` sees it first)."""
    daemon = Daemon(ctx, service, ready_file=ready_file)
    if on_daemon is not None:
        on_daemon(daemon)
    return daemon.run()
