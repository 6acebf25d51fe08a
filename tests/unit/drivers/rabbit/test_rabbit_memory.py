"""The RabbitMQ driver end to end on kombu's memory transport (no broker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from msgframework.drivers.base import Listener, TransportOptions
from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.drivers.rabbit.listener import DEAD_LETTER_REASON_HEADER
from msgframework.exceptions import MessageUndeliverable, MessagingTimeout
from msgframework.target import Target
from tests.unit.drivers.rabbit.conftest import make_conf
from tests.unit.drivers.rabbit.helpers import EchoServer, drain_raw, publish_raw

MEMORY = "memory://"


def notification(event_type: str = "thing.happened", priority: str = "INFO") -> dict:
    return {"message_id": "f0e4d1aa-0000-4000-8000-000000000001", "publisher_id": "test",
            "event_type": event_type, "priority": priority, "payload": {"n": 1},
            "timestamp": "2024-01-01 00:00:00.000000"}


def test_call_returns_the_servers_reply(driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("topic")
    server = EchoServer(driver.listen(Target(topic=topic, server="s1")))
    try:
        result = driver.send(Target(topic=topic), {"user": "alice"},
                             {"method": "echo", "args": {"x": 1}},
                             wait_for_reply=True, timeout=10)
        assert result == {"echo": {"x": 1}}
        [message] = server.wait_for(1)
        assert message.ctxt == {"user": "alice"}
        assert message.message["method"] == "echo"
        assert "_msg_id" not in message.message and message.reply_q.startswith("reply_")
    finally:
        server.stop()


def test_server_target_and_fanout_routing(driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("topic")
    one = EchoServer(driver.listen(Target(topic=topic, server="one")))
    two = EchoServer(driver.listen(Target(topic=topic, server="two")))
    try:
        driver.send(Target(topic=topic, server="two"), {}, {"method": "m", "args": {"to": 2}})
        assert two.wait_for(1)[0].message["args"] == {"to": 2}
        driver.send(Target(topic=topic, fanout=True), {}, {"method": "m", "args": {"all": 1}})
        assert one.wait_for(1)[-1].message["args"] == {"all": 1}
        assert two.wait_for(2)[-1].message["args"] == {"all": 1}
        assert len(one.received) == 1
    finally:
        one.stop()
        two.stop()


def test_call_without_server_times_out(driver: RabbitDriver, unique: Callable) -> None:
    start = time.monotonic()
    with pytest.raises(MessagingTimeout):
        driver.send(Target(topic=unique("nobody")), {}, {"method": "m", "args": {}},
                    wait_for_reply=True, timeout=0.3)
    assert time.monotonic() - start < 5


def test_unencodable_arguments_fail_at_send(driver: RabbitDriver, unique: Callable) -> None:
    with pytest.raises(TypeError):
        driver.send(Target(topic=unique("t")), {}, {"method": "m", "args": {"x": object()}})


def test_at_least_once_without_subscriber_is_undeliverable(
        driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("topic")
    with pytest.raises(MessageUndeliverable):
        driver.send(Target(topic=topic), {}, {"method": "m", "args": {}},
                    transport_options=TransportOptions(at_least_once=True))
    server = EchoServer(driver.listen(Target(topic=topic, server="s")))
    try:
        driver.send(Target(topic=topic), {}, {"method": "m", "args": {}},
                    transport_options=TransportOptions(at_least_once=True))
        server.wait_for(1)
    finally:
        server.stop()


def test_notification_sent_before_listening_is_kept(driver: RabbitDriver,
                                                     unique: Callable) -> None:
    topic = unique("notifications")
    driver.send_notification(Target(topic=f"{topic}.info"), {"req": "r1"}, notification(), 2.0)
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        [message] = listener.poll(timeout=5)
        assert message.message["event_type"] == "thing.happened"
        assert message.ctxt == {"req": "r1"}
        message.acknowledge()
    finally:
        listener.cleanup()


def test_each_pool_gets_a_copy(driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("notifications")
    targets = [(Target(topic=topic), "info")]
    pool_a = driver.listen_for_notifications(targets, pool=unique("pool_a"))
    pool_b = driver.listen_for_notifications(targets, pool=unique("pool_b"))
    try:
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification(), 2.0)
        for listener in (pool_a, pool_b):
            [message] = listener.poll(timeout=5)
            message.acknowledge()
    finally:
        pool_a.cleanup()
        pool_b.cleanup()


def test_requeue_redelivers_with_a_growing_count_then_dead_letters(
        driver_factory: Callable, unique: Callable) -> None:
    conf = make_conf()
    conf.set_override("max_delivery_attempts", 2, group="msgframework_notifications")
    driver = driver_factory(conf=conf)
    topic = unique("notifications")
    listener = driver.listen_for_notifications([(Target(topic=topic), "error")])
    try:
        driver.send_notification(Target(topic=f"{topic}.error"), {}, notification(), 2.0)
        [first] = listener.poll(timeout=5)
        assert first.delivery_count == 1
        first.requeue()
        [second] = listener.poll(timeout=5)
        assert second.delivery_count == 2
        second.requeue()  # the limit: dead-lettered, not delivered again
        assert listener.poll(timeout=0.3) == []
        [dead] = drain_raw(MEMORY, f"{driver.topology.control_exchange}.dlq")
        assert "requeued 2 times" in dead.headers[DEAD_LETTER_REASON_HEADER]
    finally:
        listener.cleanup()


def test_malformed_message_is_dead_lettered_and_listening_goes_on(
        driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("notifications")
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        exchange = driver.topology.control_exchange
        publish_raw(MEMORY, exchange, f"{topic}.info", b"{not json")
        publish_raw(MEMORY, exchange, f"{topic}.info", b'{"event_type": "no priority"}')
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("ok"), 2.0)
        [message] = listener.poll(timeout=5)
        assert message.message["event_type"] == "ok"
        message.acknowledge()
        dead = drain_raw(MEMORY, f"{exchange}.dlq", count=2)
        reasons = sorted(m.headers[DEAD_LETTER_REASON_HEADER] for m in dead)
        assert all(reason.startswith("MalformedMessage") for reason in reasons)
        assert {m.body for m in dead} == {b"{not json", b'{"event_type": "no priority"}'}
    finally:
        listener.cleanup()


def test_compressed_messages_round_trip(driver_factory: Callable, unique: Callable) -> None:
    """kombu_compression on the sender; the receiver unwraps by the header."""
    sender = driver_factory("kombu+memory://?kombu_compression=gzip")
    receiver = driver_factory()
    topic = unique("notifications")
    listener = receiver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        sender.send_notification(Target(topic=f"{topic}.info"), {}, notification("zipped"), 2.0)
        [message] = listener.poll(timeout=5)
        assert message.message["event_type"] == "zipped"
        message.acknowledge()
    finally:
        listener.cleanup()


def test_bad_compression_is_dead_lettered_not_a_reconnect_loop(
        driver: RabbitDriver, unique: Callable) -> None:
    """A body that claims a compression it does not have cannot be unwrapped:
    it is dead-lettered once, the connection stays, the next message arrives."""
    topic = unique("notifications")
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        generation = listener.consumer.bconn.generation
        exchange = driver.topology.control_exchange
        publish_raw(MEMORY, exchange, f"{topic}.info", b"not gzip at all",
                    headers={"compression": "application/x-gzip"})
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("ok"), 2.0)
        [message] = listener.poll(timeout=5)
        assert message.message["event_type"] == "ok"
        message.acknowledge()
        [dead] = drain_raw(MEMORY, f"{exchange}.dlq", count=1)
        assert dead.headers[DEAD_LETTER_REASON_HEADER].startswith("MalformedMessage")
        # kept as it came, its compression header kept as information only
        assert dead.body == b"not gzip at all"
        assert dead.headers["x-msgframework-original-compression"] == "application/x-gzip"
        assert listener.consumer.bconn.generation == generation  # no reconnection
    finally:
        listener.cleanup()


def _poll_until(listener: Listener, count: int, timeout: float = 10) -> list:
    """Poll until ``count`` messages came (or more, or the time is up): the
    consumer thread hands them over one by one, a batch window could close
    between two of them."""
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += listener.poll(timeout=max(0.0, deadline - time.monotonic()), batch_size=4,
                             batch_timeout=0.1)
    return got


def test_prefetch_bounds_unsettled_messages(driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("notifications")
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    listener.prefetch = 2
    try:
        for _ in range(4):
            driver.send_notification(Target(topic=f"{topic}.info"), {}, notification(), 2.0)
        held = _poll_until(listener, 2)
        assert len(held) == 2
        assert listener.poll(timeout=0.3) == []
        for message in held:
            message.acknowledge()
        rest = _poll_until(listener, 2)
        assert len(rest) == 2
        for message in rest:
            message.acknowledge()
    finally:
        listener.cleanup()


def test_stop_wakes_a_blocked_poll(driver: RabbitDriver, unique: Callable) -> None:
    listener = driver.listen(Target(topic=unique("t"), server="s"))
    result: list = []
    thread = threading.Thread(target=lambda: result.append(listener.poll(timeout=30)))
    thread.start()
    started = time.monotonic()
    listener.stop()
    thread.join(15)
    assert not thread.is_alive() and result == [[]]
    assert time.monotonic() - started < 10  # woken by stop(), long before the poll's 30 s
    listener.cleanup()


def test_call_monitor_heartbeats_keep_a_long_call_alive(
        driver: RabbitDriver, unique: Callable) -> None:
    topic = unique("topic")
    listener = driver.listen(Target(topic=topic, server="s"))
    monitor = 1.5  # a heartbeat every 0.2 s: only a stall of over 1.3 s breaks the call
    working = threading.Event()  # never set: the pause between heartbeats

    def slow_server() -> None:
        [message] = listener.poll(timeout=10)
        message.acknowledge()
        end = time.monotonic() + monitor * 1.5  # the work outlives the monitor timeout
        while time.monotonic() < end:
            working.wait(0.2)  # the work being simulated; the heartbeat is the point
            message.heartbeat()
        message.reply("done")

    thread = threading.Thread(target=slow_server, daemon=True)
    thread.start()
    try:
        assert driver.send(Target(topic=topic), {}, {"method": "slow", "args": {}},
                           wait_for_reply=True, timeout=10,
                           call_monitor_timeout=monitor) == "done"
    finally:
        thread.join(10)
        listener.cleanup()


@pytest.mark.parametrize("scheme", ["kombu+memory://", "rabbit+memory://"])
def test_loaded_through_the_public_transport_factory(scheme: str, unique: Callable) -> None:
    from msgframework.transport import get_rpc_transport

    transport = get_rpc_transport(make_conf(), scheme)
    try:
        driver = transport.driver
        assert isinstance(driver, RabbitDriver)
        topic = unique("topic")
        server = EchoServer(driver.listen(Target(topic=topic, server="s")))
        try:
            assert driver.send(Target(topic=topic), {}, {"method": "m", "args": {}},
                               wait_for_reply=True, timeout=10) == {"echo": {}}
        finally:
            server.stop()
    finally:
        transport.cleanup()
