"""Queue types and arguments on the real broker: quorum queues, delivery limits, TTLs.

Arguments are read back with ``rabbitmqctl list_queues`` (the AMQP passive
declare does not return them), so these tests need rabbitmqctl on the
broker's host; they are skipped without it (failing under ``CI``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from msgframework.drivers.rabbit.listener import DEAD_LETTER_REASON_HEADER, DELIVERY_COUNT_HEADER
from msgframework.target import Target
from tests.functional.conftest import KOMBU_URL, RABBIT_URL, Cleanup, _vhost, skip_or_fail
from tests.functional.vhosts import rabbitmqctl_available
from tests.unit.drivers.rabbit.helpers import EchoServer, drain_raw
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


@pytest.fixture(scope="module")
def ctl(broker: str) -> None:
    problem = rabbitmqctl_available()
    if problem is not None:
        skip_or_fail(problem)


def queues(prefix: str) -> dict[str, dict[str, Any]]:
    """Queues whose name starts with ``prefix``: their type and arguments."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", _vhost, "name", "type",
                          "arguments", "--formatter", "json"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    found = {}
    for row in json.loads(out or "[]"):
        if row["name"].startswith(prefix):
            found[row["name"]] = {"type": row["type"],
                                  "arguments": {a[0]: a[2] for a in row["arguments"]}}
    return found


def with_query(query: str) -> str:
    return RABBIT_URL + ("&" if "?" in RABBIT_URL else "?") + query


def test_quorum_queue_declare_send_receive_requeue_to_dead_letter(
        ctl: None, driver_factory: Callable, exchange: str, unique: Callable,
        cleanup: Cleanup) -> None:
    topic = unique("notifications")
    queue = f"{topic}.info"
    cleanup.queues.add(queue)
    # amqp_auto_delete too: a quorum queue cannot be auto-delete, the driver must not ask
    driver = driver_factory(with_query("rabbit_quorum_queue=true&rabbit_quorum_delivery_limit=3"
                                       "&amqp_auto_delete=true"))
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        info = queues(topic)[queue]
        assert info["type"] == "quorum"
        assert info["arguments"] == {"x-queue-type": "quorum", "x-delivery-limit": 3}
        driver.send_notification(Target(topic=queue), {}, notification("q"), 2.0)
        counts = []
        for _ in range(driver.settings.max_delivery_attempts):
            [message] = listener.poll(timeout=10)
            assert message.message["event_type"] == "q"
            counts.append(message.delivery_count)
            message.requeue()  # past max_delivery_attempts this dead-letters instead
        assert counts == list(range(1, driver.settings.max_delivery_attempts + 1))
        assert listener.poll(timeout=0.5) == []
        [dead] = drain_raw(KOMBU_URL, f"{exchange}.dlq")
        assert dead.headers[DEAD_LETTER_REASON_HEADER].startswith("requeued 5 times")
    finally:
        listener.cleanup()


def test_broker_redelivery_counts_through_x_delivery_count(
        ctl: None, driver_factory: Callable, unique: Callable, cleanup: Cleanup) -> None:
    topic = unique("notifications")
    queue = f"{topic}.info"
    cleanup.queues.add(queue)
    driver = driver_factory(with_query("rabbit_quorum_queue=true&rabbit_quorum_delivery_limit=5"))
    first = driver.listen_for_notifications([(Target(topic=topic), "info")])
    driver.send_notification(Target(topic=queue), {}, notification("crash"), 2.0)
    try:
        [message] = first.poll(timeout=10)
        assert message.delivery_count == 1
    finally:
        first.cleanup()  # as a crashed consumer: unsettled, the broker takes it back
    second = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        [again] = second.poll(timeout=10)
        # the quorum queue counted the return (x-delivery-count: 1); no header of ours
        assert again.delivery_count == 2
        assert DELIVERY_COUNT_HEADER not in (again._raw.headers or {})
        assert again._raw.headers.get("x-delivery-count") == 1
        again.acknowledge()
        assert second.poll(timeout=0.5) == []
    finally:
        second.cleanup()


def test_transient_queue_ttl_is_in_the_queue_arguments(
        ctl: None, driver_factory: Callable, exchange: str, unique: Callable,
        cleanup: Cleanup) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "s")
    driver = driver_factory(with_query("rabbit_transient_queues_ttl=42"))
    server = EchoServer(driver.listen(Target(topic=topic, server="s")))
    try:
        assert driver.send(Target(topic=topic), {}, {"method": "m", "args": {}},
                           wait_for_reply=True, timeout=10) == {"echo": {}}
        listed = queues(topic)
        [fanout] = [name for name in listed if name.startswith(f"{topic}_fanout_")]
        assert listed[fanout]["arguments"] == {"x-expires": 42000}
        assert listed[topic]["arguments"] == {} and listed[topic]["type"] == "classic"
        reply = [info for name, info in queues("reply_").items()
                 if info["arguments"].get("x-expires") == 42000]
        assert reply, "the reply queue carries x-expires too"
    finally:
        server.stop()
    assert fanout not in queues(topic)  # a listener's own queue goes with it
