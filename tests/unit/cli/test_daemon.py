"""The daemon machinery in this process: signals stop, drain and reload a service's server.

The service and its server are test doubles written against the
:class:`msgframework.cli.daemon.Service` protocol; the real servers are
exercised through the ``listen``/``serve`` subprocess tests.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

import pytest

from msgframework.cli.common import load_context
from msgframework.cli.daemon import STOP_REQUEST, Daemon, SignalWaiter
from msgframework.exceptions import TaskTimeout

from .conftest import WAIT


class RecordingServer:
    """Records the lifecycle calls a Daemon makes; ``wait`` can be made to time out."""

    def __init__(self, name: str, journal: list[str], wait_times_out: bool = False) -> None:
        self.name = name
        self.journal = journal
        self.running = False
        self.transport = None
        self.wait_times_out = wait_times_out
        self.started = threading.Event()

    def start(self) -> None:
        self.running = True
        self.journal.append(f"{self.name}.start")
        self.started.set()

    def stop(self, timeout=None) -> None:
        self.running = False
        self.journal.append(f"{self.name}.stop")

    def wait(self, timeout=None) -> None:
        self.journal.append(f"{self.name}.wait")
        if self.wait_times_out:
            raise TaskTimeout("in-flight work did not finish")

    def reset(self) -> None:
        self.journal.append(f"{self.name}.reset")
        self.started.set()


class TopicService:
    """Builds servers named after ``[msgframework_cli] rpc_topic``, the config key."""

    name = "test"

    def __init__(self, ctx, wait_times_out: bool = False) -> None:
        self.ctx = ctx
        self.journal: list[str] = []
        self.servers: list[RecordingServer] = []
        self.wait_times_out = wait_times_out

    def config_key(self):
        return self.ctx.cli_option("rpc_topic")

    def make_server(self) -> RecordingServer:
        server = RecordingServer(self.config_key(), self.journal, self.wait_times_out)
        self.servers.append(server)
        return server

    def describe(self) -> str:
        return f"topic {self.config_key()}"

    def summary(self):
        return "all good"


def _context(config_path):
    args = argparse.Namespace(config_files=[str(config_path)], config_dirs=[],
                              transport_url=None, debug=False, log_level=None, log_file=None)
    return load_context(args)


def _write(path, topic: str, level: str = "WARNING", extra: str = "") -> None:
    path.write_text(f"[DEFAULT]\nlog_level = {level}\ngraceful_shutdown_timeout = 5\n{extra}"
                    f"[msgframework_cli]\nrpc_topic = {topic}\n", encoding="utf-8")


def _in_thread(fn) -> threading.Thread:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # surfaced by the test through the list
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.errors = errors  # type: ignore[attr-defined]
    thread.start()
    return thread


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_then_drains_and_exits_0(tmp_path, capsys, signum):
    config = tmp_path / "d.conf"
    _write(config, "alpha")
    ctx = _context(config)
    service = TopicService(ctx)
    daemon = Daemon(ctx, service)
    previous = signal.getsignal(signum)

    def send() -> None:
        assert daemon.started.wait(WAIT)
        os.kill(os.getpid(), signum)

    thread = _in_thread(send)
    assert daemon.run() == 0
    thread.join(WAIT)
    assert not thread.errors
    assert service.journal == ["alpha.start", "alpha.stop", "alpha.wait"]
    err = capsys.readouterr().err
    assert "msgframework test: ready (topic alpha)" in err
    assert f"stopping ({signal.Signals(signum).name})" in err
    assert "msgframework test: stopped; all good" in err
    assert signal.getsignal(signum) is previous  # handlers are put back
    ctx.close()


def _drive(daemon, *steps) -> threading.Thread:
    """In a thread: wait until the daemon is ready, run ``steps``, then stop it."""
    def run_steps() -> None:
        assert daemon.started.wait(WAIT)
        for step in steps:
            step()
        daemon.request_stop()

    return _in_thread(run_steps)


def _sighup_and_wait(daemon, config, n: int, **write) -> callable:
    def step() -> None:
        if write:
            _write(config, **write)
        os.kill(os.getpid(), signal.SIGHUP)
        assert daemon.wait_for_reloads(n, WAIT)
    return step


def test_sighup_with_a_changed_config_rebuilds_and_applies_logging(tmp_path, capsys):
    config = tmp_path / "d.conf"
    _write(config, "alpha")
    ctx = _context(config)
    service = TopicService(ctx)
    daemon = Daemon(ctx, service)
    assert logging.getLogger().level == logging.WARNING
    thread = _drive(daemon, _sighup_and_wait(daemon, config, 1, topic="beta", level="DEBUG"))
    assert daemon.run() == 0
    thread.join(WAIT)
    assert not thread.errors
    # the new server is built before the old one stops, so a bad config keeps the old
    assert service.journal == ["alpha.start", "alpha.stop", "alpha.wait", "beta.start",
                               "beta.stop", "beta.wait"]
    assert [s.name for s in service.servers] == ["alpha", "beta"]
    assert logging.getLogger().level == logging.DEBUG
    assert "msgframework test: reloaded (topic beta)" in capsys.readouterr().err
    ctx.close()


def test_sighup_with_the_same_config_resets_the_server(tmp_path, capsys):
    config = tmp_path / "d.conf"
    _write(config, "alpha")
    ctx = _context(config)
    service = TopicService(ctx)
    daemon = Daemon(ctx, service)
    thread = _drive(daemon, _sighup_and_wait(daemon, config, 1),
                    _sighup_and_wait(daemon, config, 2))
    assert daemon.run() == 0
    thread.join(WAIT)
    assert not thread.errors
    assert service.journal == ["alpha.start", "alpha.reset", "alpha.reset", "alpha.stop",
                               "alpha.wait"]
    ctx.close()


def test_sighup_with_a_broken_config_keeps_the_running_server(tmp_path, capsys):
    config = tmp_path / "d.conf"
    _write(config, "alpha")
    ctx = _context(config)
    service = TopicService(ctx)
    daemon = Daemon(ctx, service)

    def break_config() -> None:
        config.write_text("[DEFAULT\nthis is not ini\n", encoding="utf-8")

    thread = _drive(daemon, break_config, _sighup_and_wait(daemon, config, 1))
    assert daemon.run() == 0
    thread.join(WAIT)
    assert not thread.errors
    assert service.journal == ["alpha.start", "alpha.stop", "alpha.wait"]
    err = capsys.readouterr().err
    assert "msgframework: error: reloading the configuration failed" in err
    assert ctx.cli_option("rpc_topic") == "alpha"
    ctx.close()


def test_in_flight_work_past_the_bound_exits_1(tmp_path, capsys):
    config = tmp_path / "d.conf"
    _write(config, "alpha")
    ctx = _context(config)
    service = TopicService(ctx, wait_times_out=True)
    daemon = Daemon(ctx, service)
    thread = _drive(daemon)
    assert daemon.run() == 1
    thread.join(WAIT)
    err = capsys.readouterr().err
    assert "did not stop within graceful_shutdown_timeout=5s" in err
    ctx.close()


def test_ready_file_is_written_once_ready(tmp_path):
    config = tmp_path / "d.conf"
    _write(config, "alpha")
    ctx = _context(config)
    ready = tmp_path / "ready"
    daemon = Daemon(ctx, TopicService(ctx), ready_file=str(ready))
    seen: list[bool] = []
    thread = _in_thread(lambda: (daemon.started.wait(WAIT), seen.append(ready.exists()),
                                 daemon.request_stop()))
    assert daemon.run() == 0
    thread.join(WAIT)
    assert seen == [True]
    assert ready.read_text().strip() == str(os.getpid())
    ctx.close()


def test_signal_waiter_queues_signals_in_order_and_skips_others():
    previous = signal.signal(signal.SIGUSR2, lambda *a: None)  # also reaches the wakeup fd
    try:
        with SignalWaiter(signals=(signal.SIGUSR1,)) as waiter:
            assert waiter.wait(timeout=0) is None
            os.kill(os.getpid(), signal.SIGUSR2)
            os.kill(os.getpid(), signal.SIGUSR1)
            waiter.request()
            assert waiter.wait(timeout=WAIT) == signal.SIGUSR1
            assert waiter.wait(timeout=WAIT) == STOP_REQUEST
            assert waiter.wait(timeout=0) is None
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_a_signal_delivered_to_another_thread_still_wakes_the_waiter():
    """The kernel may hand a process signal to any thread; the main thread must still wake."""
    go = threading.Event()

    def kill_when_told() -> None:
        assert go.wait(WAIT)
        os.kill(os.getpid(), signal.SIGUSR1)

    with SignalWaiter(signals=(signal.SIGUSR1,)) as waiter:
        thread = _in_thread(kill_when_told)  # created before the mask: it can take SIGUSR1
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
        try:
            go.set()
            thread.join(WAIT)
            assert waiter.wait(timeout=WAIT) == signal.SIGUSR1
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
