"""MessageHandlingServer's lifecycle, as oslo.messaging's: start, stop and wait
are idempotent, callable from several threads and in any order, and bounded
by ``timeout``.

Every call here passes a ``timeout``, so a lifecycle bug fails the test with
TaskTimeout instead of hanging the run.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.exceptions import TaskTimeout
from msgframework.rpc.client import get_rpc_client
from msgframework.rpc.server import get_rpc_server
from msgframework.target import Target
from msgframework.transport import get_rpc_transport

WAIT = 5.0


class Endpoint:
    """``ping`` answers at once; ``hang`` blocks until ``release`` is set."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def ping(self, ctxt: Any) -> str:
        return "pong"

    def hang(self, ctxt: Any) -> str:
        self.entered.set()
        # bounded, so that a server that waits for it regardless ends the test
        self.release.wait(3 * WAIT)
        return "released"


class LogEvents(logging.Handler):
    """Sets an Event per message fragment as soon as a record containing it is logged."""

    def __init__(self, *fragments: str) -> None:
        super().__init__(logging.DEBUG)
        self.events = {fragment: threading.Event() for fragment in fragments}
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        for fragment, event in self.events.items():
            if fragment in message:
                event.set()


@pytest.fixture
def log_events() -> Iterator[Any]:
    logger = logging.getLogger("msgframework.server")
    handlers: list[LogEvents] = []
    old_level = logger.level
    logger.setLevel(logging.DEBUG)

    def make(*fragments: str) -> LogEvents:
        handler = LogEvents(*fragments)
        logger.addHandler(handler)
        handlers.append(handler)
        return handler

    yield make
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def transport(conf: cfg.ConfigOpts, memory_url: str) -> Iterator[Any]:
    t = get_rpc_transport(conf, memory_url)
    yield t
    t.cleanup()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.release.set()


@pytest.fixture
def server(transport: Any, endpoint: Endpoint) -> Iterator[Any]:
    srv = get_rpc_server(transport, Target(topic="life", server="s1"), [endpoint])
    yield srv
    endpoint.release.set()
    srv.stop(timeout=WAIT)
    srv.wait(timeout=WAIT)


def call(transport: Any, method: str = "ping") -> Any:
    return get_rpc_client(transport, Target(topic="life"), timeout=WAIT).call({}, method)


def test_wait_after_wait_returns_at_once(server: Any, transport: Any) -> None:
    server.start(timeout=WAIT)
    assert call(transport) == "pong"
    server.stop(timeout=WAIT)
    server.wait(timeout=WAIT)
    server.wait(timeout=1)  # used to block forever
    server.stop(timeout=1)
    server.wait(timeout=1)


def test_stop_and_wait_on_a_never_started_server(server: Any) -> None:
    server.stop(timeout=1)
    server.wait(timeout=1)  # used to block forever
    server.wait(timeout=1)
    assert not server.running


def test_wait_from_another_thread_blocks_until_stop(server: Any, transport: Any,
                                                    log_events: Any) -> None:
    server.start(timeout=WAIT)
    blocked = log_events("Possible hang: wait()")
    errors: list[BaseException] = []
    returned = threading.Event()

    def waiter() -> None:
        try:
            server.wait(log_after=0.01, timeout=3 * WAIT)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        returned.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    # the waiter warns once it has waited 10ms: it is blocked in wait() now
    assert blocked.events["Possible hang: wait()"].wait(WAIT)
    assert not returned.is_set()
    assert call(transport) == "pong"  # still serving
    server.stop(timeout=WAIT)
    assert returned.wait(WAIT)
    thread.join(WAIT)
    assert errors == []
    assert not server.running


def test_wait_from_a_fresh_server_returns_after_start_and_stop(server: Any, transport: Any,
                                                                log_events: Any) -> None:
    blocked = log_events("Possible hang: wait()")
    returned = threading.Event()
    thread = threading.Thread(target=lambda: (server.wait(log_after=0.01, timeout=3 * WAIT),
                                              returned.set()))
    thread.start()
    assert blocked.events["Possible hang: wait()"].wait(WAIT)
    server.start(timeout=WAIT)
    assert call(transport) == "pong"
    assert not returned.is_set()
    server.stop(timeout=WAIT)
    assert returned.wait(WAIT)
    thread.join(WAIT)


def test_concurrent_start_starts_once(server: Any, transport: Any, memory_broker_fixture: Any,
                                      log_events: Any) -> None:
    logged = log_events("already been started")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait(WAIT)
            server.start(timeout=WAIT)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2 * WAIT)
    assert errors == []
    assert server.running
    assert memory_broker_fixture.broker.stats()["subscriptions"] == 1
    assert sum("already been started" in m for m in logged.messages) == 1
    assert call(transport) == "pong"


def test_concurrent_waits_all_return(server: Any) -> None:
    server.start(timeout=WAIT)
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            server.wait(timeout=3 * WAIT)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wait) for _ in range(3)]
    for thread in threads:
        thread.start()
    server.stop(timeout=WAIT)
    for thread in threads:
        thread.join(3 * WAIT)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_restart_after_stop_and_wait(server: Any, transport: Any,
                                     memory_broker_fixture: Any) -> None:
    for _ in range(3):
        server.start(timeout=WAIT)
        assert call(transport) == "pong"
        server.stop(timeout=WAIT)
        server.wait(timeout=WAIT)
        server.wait(timeout=1)
        assert memory_broker_fixture.broker.stats()["subscriptions"] == 0


def test_start_after_stop_without_wait_drains_first(server: Any, transport: Any) -> None:
    server.start(timeout=WAIT)
    server.stop(timeout=WAIT)
    server.start(timeout=WAIT)
    assert server.running
    assert call(transport) == "pong"


def test_possible_hang_warning_says_how_long(server: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    server.start(timeout=WAIT)
    caplog.set_level(logging.WARNING, logger="msgframework.server")
    # The timeout leaves the warning, due after 50 ms, time to come even on a
    # stalled host (a deadline reached first raises without warning).
    with pytest.raises(TaskTimeout, match=r"wait\(\) timed out after 2.0s"):
        server.wait(log_after=0.05, timeout=2.0)
    (warning,) = [r for r in caplog.records if "Possible hang" in r.getMessage()]
    assert warning.levelno == logging.WARNING
    # sub-second waits used to read "has waited 0s"
    message = warning.getMessage()
    assert "waited 0s" not in message
    waited = re.search(r"wait\(\) has waited (?:(\d+)ms|(\d+\.\d)s) for the server", message)
    assert waited, message
    # In milliseconds, unless a stalled host woke the waiter a second late.
    assert waited.group(1) or float(waited.group(2)) >= 1.0, message


def test_timeout_leaves_the_server_usable(server: Any, transport: Any) -> None:
    with pytest.raises(TaskTimeout):
        server.wait(log_after=0, timeout=0.05)  # never started, never stopped
    server.start(timeout=WAIT)
    with pytest.raises(TaskTimeout):
        server.wait(log_after=0, timeout=0.05)  # running
    assert call(transport) == "pong"
    server.stop(timeout=WAIT)
    server.wait(timeout=WAIT)


def test_wait_timeout_with_a_hung_endpoint_raises_and_a_later_wait_finishes(
        server: Any, transport: Any, endpoint: Endpoint, memory_broker_fixture: Any) -> None:
    server.start(timeout=WAIT)
    get_rpc_client(transport, Target(topic="life")).cast({}, "hang")
    assert endpoint.entered.wait(WAIT)
    server.stop(timeout=WAIT)
    start = time.monotonic()
    with pytest.raises(TaskTimeout, match="still being handled"):
        server.wait(timeout=0.5)
    assert time.monotonic() - start < 2 * WAIT  # bounded, though the endpoint hangs 3 * WAIT
    assert not server.running
    with pytest.raises(TaskTimeout):
        server.wait(timeout=0.05)  # still stopped, still draining
    endpoint.release.set()
    server.wait(timeout=WAIT)
    server.wait(timeout=1)
    assert memory_broker_fixture.broker.wait_until_idle(WAIT)
    assert memory_broker_fixture.broker.stats()["subscriptions"] == 0
    server.start(timeout=WAIT)  # and it can run again
    assert call(transport) == "pong"


def test_start_after_a_timed_out_wait_finishes_the_drain(
        server: Any, transport: Any, endpoint: Endpoint) -> None:
    server.start(timeout=WAIT)
    get_rpc_client(transport, Target(topic="life")).cast({}, "hang")
    assert endpoint.entered.wait(WAIT)
    server.stop(timeout=WAIT)
    with pytest.raises(TaskTimeout):
        server.wait(timeout=0.05)
    with pytest.raises(TaskTimeout):
        server.start(timeout=0.05)  # it must drain first, and cannot yet
    endpoint.release.set()
    server.start(timeout=WAIT)
    assert call(transport) == "pong"

