"""Quorum queues through the public API: the listener and RPC server users run.

An earlier test called the driver's ``listen_for_notifications()`` directly,
without the prefetch the public listener sets, and so missed that the
broker refuses a *global* QoS on a channel that consumes a quorum queue
(``540 NOT_IMPLEMENTED``): 0 messages were ever consumed. These tests go
through ``get_notification_listener`` and ``get_rpc_server`` with their
default executors and prefetch, as a service does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

import msgframework
from tests.functional.conftest import RABBIT_URL, Cleanup, make_conf

QUORUM = "rabbit_quorum_queue=true"


def with_query(query: str) -> str:
    return RABBIT_URL + ("&" if "?" in RABBIT_URL else "?") + query


@pytest.fixture
def conf(exchange: str) -> cfg.ConfigOpts:
    conf = make_conf()
    conf.set_override("control_exchange", exchange)
    return conf


@pytest.fixture
def transports(conf: cfg.ConfigOpts) -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for transport in made:
        transport.cleanup()


class Collect:
    """A notification endpoint that counts what it handles."""

    def __init__(self, expected: int) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.expected = expected

    def info(self, ctxt: dict, publisher_id: str, event_type: str, payload: Any,
             metadata: dict) -> None:
        with self.lock:
            self.seen.append(payload["n"])
            if len(self.seen) >= self.expected:
                self.done.set()


def test_notification_listener_consumes_a_quorum_queue(
        conf: cfg.ConfigOpts, transports: list, unique: Callable[[str], str],
        cleanup: Cleanup) -> None:
    topic = unique("quorum_notify")
    cleanup.queues.add(f"{topic}.info")
    transport = msgframework.get_notification_transport(conf, with_query(QUORUM))
    transports.append(transport)
    endpoint = Collect(10)
    listener = msgframework.get_notification_listener(
        transport, [msgframework.Target(topic=topic)], [endpoint], executor="threading")
    listener.start()
    try:
        notifier = msgframework.Notifier(transport, "quorum.test", driver="messaging",
                                         topics=[topic])
        for n in range(10):
            notifier.info({}, "quorum.event", {"n": n})
        assert endpoint.done.wait(20), f"received {len(endpoint.seen)} of 10"
        assert sorted(endpoint.seen) == list(range(10))
    finally:
        listener.stop()
        listener.wait()


class Calculator:
    def add(self, ctxt: dict, a: int, b: int) -> int:
        return a + b


def test_rpc_server_answers_on_quorum_queues(
        conf: cfg.ConfigOpts, transports: list, exchange: str,
        unique: Callable[[str], str], cleanup: Cleanup) -> None:
    topic = unique("quorum_rpc")
    cleanup.rpc(exchange, topic, "srv1")
    transport = msgframework.get_rpc_transport(conf, with_query(QUORUM))
    transports.append(transport)
    server = msgframework.get_rpc_server(
        transport, msgframework.Target(topic=topic, server="srv1"), [Calculator()],
        executor="threading")
    server.start()
    try:
        client = msgframework.get_rpc_client(transport, msgframework.Target(topic=topic),
                                             timeout=20)
        assert [client.call({}, "add", a=n, b=1) for n in range(5)] == [1, 2, 3, 4, 5]
        direct = client.prepare(server="srv1")
        assert direct.call({}, "add", a=40, b=2) == 42
    finally:
        server.stop()
        server.wait()
