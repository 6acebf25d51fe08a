"""The RabbitMQ driver on a real broker: RPC, notifications, confirms, topology."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import amqp.exceptions
import kombu
import pytest

from msgframework.drivers.base import TransportOptions
from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.drivers.rabbit.listener import DEAD_LETTER_REASON_HEADER
from msgframework.exceptions import MessageUndeliverable, MessagingTimeout
from msgframework.target import Target
from msgframework.wire.envelope import decode_body
from msgframework.wire.notification import parse_notification
from tests.functional.conftest import KOMBU_URL, RABBIT_URL, Cleanup, relay_url
from tests.functional.relay import Relay
from tests.unit.drivers.rabbit.helpers import EchoServer, drain_raw, publish_raw
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


def queue_exists(name: str) -> bool:
    with kombu.Connection(KOMBU_URL) as conn:
        try:
            conn.channel().queue_declare(queue=name, passive=True)
        except amqp.exceptions.NotFound:
            return False
    return True


def test_rpc_call_cast_fanout(driver: RabbitDriver, exchange: str, unique: Callable,
                              cleanup: Cleanup) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "one", "two")
    one = EchoServer(driver.listen(Target(topic=topic, server="one")))
    two = EchoServer(driver.listen(Target(topic=topic, server="two")))
    try:
        assert driver.send(Target(topic=topic, server="one"), {"u": 1},
                           {"method": "m", "args": {"a": 1}},
                           wait_for_reply=True, timeout=10) == {"echo": {"a": 1}}
        driver.send(Target(topic=topic, fanout=True), {}, {"method": "f", "args": {}})
        assert one.wait_for(2)[-1].message["method"] == "f"
        assert two.wait_for(1)[-1].message["method"] == "f"
        with pytest.raises(MessagingTimeout):
            driver.send(Target(topic=topic, server="nobody"), {}, {"method": "m", "args": {}},
                        wait_for_reply=True, timeout=0.5)
    finally:
        one.stop()
        two.stop()


def test_topology_is_oslos(driver: RabbitDriver, exchange: str, unique: Callable,
                           cleanup: Cleanup) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "srv")
    listener = driver.listen(Target(topic=topic, server="srv"))
    with kombu.Connection(KOMBU_URL) as conn:
        channel = conn.channel()
        for queue in (topic, f"{topic}.srv"):
            channel.queue_declare(queue=queue, passive=True)
        channel.exchange_declare(exchange=exchange, type="topic", passive=True)
        channel.exchange_declare(exchange=f"{topic}_fanout", type="fanout", passive=True)
        # oslo's own flags redeclare without a 406 (non-durable, not auto-delete)
        channel.queue_declare(queue=topic, durable=False, auto_delete=False)
        channel.exchange_declare(exchange=exchange, type="topic", durable=False,
                                 auto_delete=False)
    fanout_queues = [spec.name for spec in listener.consumer._specs if "_fanout_" in spec.name]
    assert fanout_queues and queue_exists(fanout_queues[0])
    listener.cleanup()
    assert not queue_exists(fanout_queues[0])  # our per-listener queue is removed


OTHER_ARGUMENTS = "already exists with other arguments"


def other_arguments_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == logging.WARNING and OTHER_ARGUMENTS in r.getMessage()]


def test_existing_queue_with_other_arguments_is_used(
        driver: RabbitDriver, exchange: str, unique: Callable, cleanup: Cleanup,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="msgframework.drivers.rabbit")
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "s")
    with kombu.Connection(KOMBU_URL) as conn:  # as another library would have declared it
        conn.channel().queue_declare(queue=topic, durable=True, auto_delete=False,
                                     arguments={"x-max-length": 1000})
    server = EchoServer(driver.listen(Target(topic=topic, server="s")))
    try:
        for n in range(2):
            assert driver.send(Target(topic=topic), {}, {"method": "m", "args": {"n": n}},
                               wait_for_reply=True, timeout=10) == {"echo": {"n": n}}
        # the 406 closed a declaration channel, not the connection: no reconnection
        assert server.listener.consumer.bconn.generation == 1  # type: ignore[attr-defined]
    finally:
        server.stop()
    warnings = other_arguments_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].startswith(f"The queue {topic!r} "), warnings


def test_publisher_uses_an_existing_queue_with_other_arguments(
        driver_factory: Callable, relay: Relay, exchange: str, unique: Callable,
        cleanup: Cleanup, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="msgframework.drivers.rabbit")
    topic = unique("notifications")
    queue = f"{topic}.info"
    cleanup.queues.add(queue)
    with kombu.Connection(KOMBU_URL) as conn:  # a quorum queue where ours is classic
        conn.channel().queue_declare(queue=queue, durable=True, auto_delete=False,
                                     arguments={"x-queue-type": "quorum"})
    driver = driver_factory(relay_url(relay))  # notifications only: one connection
    for event in ("first", "second"):
        driver.send_notification(Target(topic=queue), {}, notification(event), 2.0)
        assert driver.flush(10)  # confirmed: declared (406, then passive), bound, routed
    assert relay.accepted == 1  # the 406 did not cost the send connection
    warnings = other_arguments_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].startswith(f"The queue {queue!r} "), warnings
    delivered = drain_raw(KOMBU_URL, queue, count=2)
    assert [parse_notification(decode_body(m.body))[1]["event_type"]
            for m in delivered] == ["first", "second"]


def test_mandatory_send_without_queue_is_undeliverable(
        driver: RabbitDriver, exchange: str, unique: Callable) -> None:
    with pytest.raises(MessageUndeliverable):
        driver.send(Target(topic=unique("nobody")), {}, {"method": "m", "args": {}},
                    transport_options=TransportOptions(at_least_once=True))
    # the pooled connection is still usable afterwards
    with pytest.raises(MessageUndeliverable):
        driver.send(Target(topic=unique("nobody2")), {}, {"method": "m", "args": {}},
                    transport_options=TransportOptions(at_least_once=True))


def test_notifications_pools_requeue_and_dead_letters(
        driver: RabbitDriver, exchange: str, unique: Callable, cleanup: Cleanup) -> None:
    topic = unique("notifications")
    pool = unique("pool")
    cleanup.queues.update({f"{topic}.info", pool})
    driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("early"), 2.0)
    assert driver.flush(10)  # confirmed: routed before the pool's queue exists
    plain = driver.listen_for_notifications([(Target(topic=topic), "info")])
    pooled = driver.listen_for_notifications([(Target(topic=topic), "info")], pool=pool)
    try:
        [early] = plain.poll(timeout=5)
        assert early.message["event_type"] == "early"
        early.requeue()
        [again] = plain.poll(timeout=5)
        assert again.message["event_type"] == "early" and again.delivery_count == 2
        again.dead_letter("test says so")
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("both"), 2.0)
        for listener in (plain, pooled):
            [message] = listener.poll(timeout=5)
            assert message.message["event_type"] == "both"
            message.acknowledge()
        publish_raw(KOMBU_URL, exchange, f"{topic}.info", b"\xff not json")
        assert plain.poll(timeout=0.5) == []
        # the poison message reached both queues: each dead-letters its copy
        dead = drain_raw(KOMBU_URL, f"{exchange}.dlq", count=3)
        reasons = sorted(m.headers[DEAD_LETTER_REASON_HEADER] for m in dead)
        assert [r.split(":")[0] for r in reasons] == ["MalformedMessage"] * 2 + ["test says so"]
    finally:
        plain.cleanup()
        pooled.cleanup()


def test_call_request_carries_the_timeout_as_expiration(
        driver: RabbitDriver, exchange: str, unique: Callable, cleanup: Cleanup,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="msgframework.drivers.rabbit")
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "s")
    spec = driver.topology.rpc_topic(None, topic)
    assert spec.exchange.name == exchange
    with kombu.Connection(KOMBU_URL) as conn:  # the topic's queue, with the driver's flags
        channel = conn.channel()
        channel.exchange_declare(exchange=exchange, type=spec.exchange.type,
                                 durable=spec.exchange.durable,
                                 auto_delete=spec.exchange.auto_delete)
        channel.queue_declare(queue=topic, durable=spec.durable, auto_delete=spec.auto_delete,
                              arguments=dict(spec.arguments) or None)
        channel.queue_bind(queue=topic, exchange=exchange, routing_key=topic)
    with ThreadPoolExecutor(1) as pool:
        # a long timeout: the request cannot expire while the test reads it
        reply = pool.submit(driver.send, Target(topic=topic), {},
                            {"method": "m", "args": {"n": 1}}, wait_for_reply=True,
                            timeout=30)
        # no server yet: read the request as it sits in the queue, and put it back
        try:
            [request] = drain_raw(KOMBU_URL, topic, timeout=10, requeue=True)
        finally:  # now a server, so the call ends soon whatever the checks below say
            server = EchoServer(driver.listen(Target(topic=topic, server="s")))
        try:
            assert reply.result(timeout=15) == {"echo": {"n": 1}}  # the same request
        finally:
            server.stop()
    assert request.properties.get("expiration") == "30000"
    assert request.content_type == "application/json"
    # declared as the driver declares it: no 406, no "other arguments"
    assert other_arguments_warnings(caplog) == []


def test_compressed_and_large_messages_arrive_whole(
        driver_factory: Callable, exchange: str, unique: Callable, cleanup: Cleanup) -> None:
    """Deliveries are assembled from their frames by our reader on plain TCP:
    a body spread over many frames and a compressed one arrive as sent."""
    sender = driver_factory(RABBIT_URL + "?kombu_compression=gzip")
    receiver = driver_factory()
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    listener = receiver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        big = notification("big")
        big["payload"] = {"filler": "é" * 400_000}  # about 800 KB: many 128 KiB frames
        receiver.send_notification(Target(topic=f"{topic}.info"), {"user": "u"}, big, 2.0)
        assert receiver.flush(10)  # stored first: two publishers have no order between them
        sender.send_notification(Target(topic=f"{topic}.info"), {}, notification("zipped"),
                                 2.0)
        got = listener.poll(timeout=10, batch_size=2, batch_timeout=10)
        assert [m.message["event_type"] for m in got] == ["big", "zipped"]
        assert got[0].message["payload"] == big["payload"] and got[0].ctxt == {"user": "u"}
        for message in got:
            message.acknowledge()
    finally:
        listener.cleanup()


def test_bad_compression_is_dead_lettered_on_a_real_broker(
        driver: RabbitDriver, exchange: str, unique: Callable, cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        publish_raw(KOMBU_URL, exchange, f"{topic}.info", b"not gzip at all",
                    headers={"compression": "application/x-gzip"})
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("ok"), 2.0)
        [message] = listener.poll(timeout=5)
        assert message.message["event_type"] == "ok"
        message.acknowledge()
        [dead] = drain_raw(KOMBU_URL, f"{exchange}.dlq", count=1)
        assert dead.headers[DEAD_LETTER_REASON_HEADER].startswith("MalformedMessage")
        body = dead.body  # py-amqp hands a utf-8 body over as text
        assert (body.encode() if isinstance(body, str) else body) == b"not gzip at all"
    finally:
        listener.cleanup()
