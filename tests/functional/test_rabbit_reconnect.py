"""Connection loss, broker restarts and failover, through a relay the tests own."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.exceptions import MessageDeliveryFailure
from msgframework.target import Target
from tests.functional.conftest import Cleanup, relay_url
from tests.functional.relay import Relay
from tests.unit.drivers.rabbit.helpers import EchoServer
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


def call(driver: RabbitDriver, topic: str, args: dict, timeout: float = 15) -> object:
    return driver.send(Target(topic=topic), {}, {"method": "m", "args": args},
                       wait_for_reply=True, timeout=timeout)


def test_server_and_caller_resume_after_a_cut(driver_factory: Callable, relay: Relay,
                                              exchange: str, unique: Callable,
                                              cleanup: Cleanup) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "s")
    driver = driver_factory(relay_url(relay))
    server = EchoServer(driver.listen(Target(topic=topic, server="s")))
    try:
        assert call(driver, topic, {"n": 1}) == {"echo": {"n": 1}}
        before = relay.accepted
        assert relay.cut() >= 3  # listener, reply and send connections
        # listener and reply consumers reconnect by themselves, without any send
        assert relay.wait_for_accepted(before + 2, timeout=15)
        assert call(driver, topic, {"n": 2}) == {"echo": {"n": 2}}
    finally:
        server.stop()


def test_unsettled_message_is_redelivered_after_a_cut(driver_factory: Callable, relay: Relay,
                                                      unique: Callable,
                                                      cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    sender = driver_factory()
    driver = driver_factory(relay_url(relay))
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        sender.send_notification(Target(topic=f"{topic}.info"), {}, notification("x"), 2.0)
        [first] = listener.poll(timeout=10)
        relay.cut()
        first.acknowledge()  # too late: that delivery belonged to the lost connection
        [again] = listener.poll(timeout=15)
        assert again.message["event_type"] == "x" and again.delivery_count == 2
        again.acknowledge()
        assert listener.poll(timeout=0.5) == []
    finally:
        listener.cleanup()


def test_broker_restart(driver_factory: Callable, relay: Relay, unique: Callable,
                        cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    direct = driver_factory()
    driver = driver_factory(relay_url(relay))
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("a"), 2.0)
        [first] = listener.poll(timeout=10)
        first.acknowledge()
        relay.go_down()
        started = time.monotonic()
        with pytest.raises(MessageDeliveryFailure):
            driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("b"),
                                     2.0, retry=1)
            driver.flush(10)  # pipelined within confirm_window: the failure comes here
        assert time.monotonic() - started < 10
        direct.send_notification(Target(topic=f"{topic}.info"), {}, notification("c"), 2.0)
        relay.come_up()
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("d"), 2.0)
        seen: list[tuple[str, int]] = []
        while {"c", "d"} - {event for event, _ in seen}:
            [message] = listener.poll(timeout=15)  # kept by the broker while we were away
            seen.append((message.message["event_type"], message.delivery_count))
            message.acknowledge()
        # An AMQP ack is not confirmed: one sent just before the cut may never have
        # reached the broker, which then redelivers (at-least-once, flagged). Nothing
        # is lost, and nothing unacknowledged is skipped.
        assert [event for event, _ in seen if event != "a"] == ["c", "d"]
        assert all(count >= 2 for event, count in seen if event == "a")
        assert listener.poll(timeout=0.5) == []
    finally:
        listener.cleanup()


def test_silent_partition_is_detected_by_heartbeats(driver_factory: Callable, relay: Relay,
                                                    unique: Callable,
                                                    cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    direct = driver_factory()
    driver = driver_factory(relay_url(relay, "heartbeat_timeout_threshold=2&heartbeat_rate=2"))
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        assert listener.poll(timeout=0.2) == []  # subscribes
        before = relay.accepted
        relay.freeze()
        assert relay.wait_for_accepted(before + 1, timeout=20), "no reconnection"
        direct.send_notification(Target(topic=f"{topic}.info"), {}, notification("x"), 2.0)
        [message] = listener.poll(timeout=15)
        message.acknowledge()
    finally:
        listener.cleanup()


def test_failover_to_the_next_host(driver_factory: Callable, relay: Relay, broker: str,
                                   exchange: str, unique: Callable, cleanup: Cleanup) -> None:
    from tests.functional.conftest import BROKER_HOST, BROKER_PORT

    second = Relay(BROKER_HOST, BROKER_PORT)
    try:
        relay.go_down()  # the first host is down from the start
        url = relay_url(relay).replace(f"127.0.0.1:{relay.port}",
                                       f"127.0.0.1:{relay.port},guest:guest@127.0.0.1:"
                                       f"{second.port}")
        topic = unique("topic")
        cleanup.rpc(exchange, topic, "s")
        driver = driver_factory(url)
        server = EchoServer(driver.listen(Target(topic=topic, server="s")))
        try:
            assert call(driver, topic, {"n": 1}) == {"echo": {"n": 1}}
            assert second.accepted >= 3 and relay.accepted == 0
            relay.come_up()
            second.go_down()  # now the second host dies: everything moves back
            assert call(driver, topic, {"n": 2}) == {"echo": {"n": 2}}
            assert relay.accepted >= 3
        finally:
            server.stop()
    finally:
        second.close()


def test_unreachable_broker_fails_within_retry_without_leaking_the_password(
        driver_factory: Callable, relay: Relay, caplog: pytest.LogCaptureFixture) -> None:
    relay.go_down()
    url = relay_url(relay).replace("guest:guest@", "guest:s3cret-pw@")
    driver = driver_factory(url)
    assert "s3cret-pw" not in repr(driver)
    started = time.monotonic()
    with pytest.raises(MessageDeliveryFailure) as info:
        driver.send(Target(topic="whatever"), {}, {"method": "m", "args": {}}, retry=2)
        driver.flush(10)  # a pipelined cast's failure is raised here
    assert time.monotonic() - started < 10
    text = str(info.value) + "".join(str(c) for c in (info.value.__cause__,))
    assert "s3cret-pw" not in text and "****" in text
    assert all("s3cret-pw" not in record.getMessage() for record in caplog.records)


def test_send_with_no_retry_survives_a_connection_that_died_while_idle(
        driver_factory: Callable, relay: Relay, unique: Callable, cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    driver = driver_factory(relay_url(relay))
    driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("a"), 2.0, retry=0)
    # "a" is pipelined: wait for its confirm, so the connection is up and idle
    # (a cut during its handshake would be the one attempt retry=0 allows failing).
    assert driver.flush(10)
    relay.cut()  # the pooled send connection is now dead, and nobody noticed yet
    driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("b"), 2.0, retry=0)
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        got = listener.poll(timeout=10, batch_size=2, batch_timeout=10)
        assert [m.message["event_type"] for m in got] == ["a", "b"]
        for message in got:
            message.acknowledge()
    finally:
        listener.cleanup()


def test_closing_a_dead_connection_does_not_connect_again(relay: Relay) -> None:
    import threading

    from msgframework.drivers.rabbit.connection import BrokerConnection, HostList
    from msgframework.drivers.rabbit.settings import load_settings
    from msgframework.transport_url import TransportURL
    from tests.functional.conftest import make_conf

    url = TransportURL.parse(None, relay_url(relay))
    conn = BrokerConnection(HostList(url, load_settings(make_conf(), url.query)), load_settings(
        make_conf(), url.query), "listen", threading.Event())
    kombu_conn = conn.ensure_connected(retry=0)
    relay.go_down()
    with pytest.raises(Exception):  # noqa: B017 - whatever py-amqp raises on a closed socket
        kombu_conn.drain_events(timeout=5)
    started = time.monotonic()
    conn.close(graceful=True)  # used to reconnect (kombu's lazy .connection) and raise
    assert time.monotonic() - started < 3 and relay.accepted == 1
