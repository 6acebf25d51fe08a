"""Safety promises on a real broker: confirm timeouts, heartbeats that cannot starve."""

from __future__ import annotations

import time
from collections.abc import Callable

import kombu
import pytest

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.exceptions import ConfirmTimeout, EarlierSendFailed
from msgframework.target import Target
from tests.functional.conftest import KOMBU_URL, Cleanup, relay_url
from tests.functional.relay import Relay
from tests.unit.drivers.rabbit.helpers import EchoServer
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


def test_unconfirmed_publish_raises_confirm_timeout(driver_factory: Callable, relay: Relay,
                                                    unique: Callable,
                                                    cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    driver = driver_factory(relay_url(relay, "confirm_timeout=1&confirm_window=0"))
    driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("ok"), 2.0)
    relay.freeze()  # the broker goes silent: no confirm will come
    started = time.monotonic()
    with pytest.raises(ConfirmTimeout):
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("lost?"), 2.0)
    assert time.monotonic() - started < 5
    # the next publish does not reuse the suspect connection: it reconnects and succeeds
    driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("again"), 2.0)


def test_unconfirmed_pipelined_notification_is_raised_by_flush_and_the_next_send(
        driver_factory: Callable, relay: Relay, unique: Callable, cleanup: Cleanup) -> None:
    """Within confirm_window a send returns before its confirm; a confirm that
    never comes is still raised, typed and on time, never silent."""
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    driver = driver_factory(relay_url(relay, "confirm_timeout=1"))
    target = Target(topic=f"{topic}.info")
    driver.send_notification(target, {}, notification("ok"), 2.0)
    assert driver.flush(10)
    connections = relay.accepted
    relay.freeze()
    started = time.monotonic()
    driver.send_notification(target, {}, notification("lost?"), 2.0)  # returns at once
    with pytest.raises(EarlierSendFailed) as info:
        driver.flush(10)
    assert time.monotonic() - started < 5
    assert isinstance(info.value.__cause__, ConfirmTimeout)
    assert [dest for dest, _ in info.value.failures] == [f"{topic}.info"]
    assert driver.flush(0.1)  # raised once
    # The suspect connection was dropped for a new one, which works.
    driver.send_notification(target, {}, notification("between"), 2.0)
    assert driver.flush(10)
    assert relay.accepted == connections + 1
    # A failure nobody flushed is raised by the next send, after that send went out.
    relay.freeze()
    driver.send_notification(target, {}, notification("lost too"), 2.0)
    assert relay.wait_for_accepted(connections + 2, timeout=10)  # timed out, reconnected
    with pytest.raises(EarlierSendFailed):
        driver.send_notification(target, {}, notification("later"), 2.0)
    assert driver.flush(10)
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        got = listener.poll(timeout=10, batch_size=3, batch_timeout=10)
        assert [m.message["event_type"] for m in got] == ["ok", "between", "later"]
        for message in got:
            message.acknowledge()
    finally:
        listener.cleanup()


def test_heartbeats_go_on_while_nobody_polls(driver_factory: Callable, relay: Relay,
                                             exchange: str, unique: Callable,
                                             cleanup: Cleanup) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "s")
    driver: RabbitDriver = driver_factory(
        relay_url(relay, "heartbeat_timeout_threshold=2&heartbeat_rate=2"))
    listener = driver.listen(Target(topic=topic, server="s"))
    assert listener.poll(timeout=0.2) == []  # subscribed; now the "application" stalls
    driver.send(Target(topic=topic), {}, {"method": "m", "args": {}})  # a send connection
    assert driver.flush(10)  # the cast is confirmed, so its connection is up
    before = relay.accepted
    # Three heartbeat timeouts without any poll or send: the broker would close
    # connections whose heartbeats stopped, and we would reconnect.
    assert not relay.wait_for_accepted(before + 1, timeout=6)
    server = EchoServer(listener)
    try:
        assert driver.send(Target(topic=topic), {}, {"method": "m", "args": {"n": 1}},
                           wait_for_reply=True, timeout=10) == {"echo": {"n": 1}}
        server.wait_for(2)
    finally:
        server.stop()
    assert relay.accepted == before + 1  # only the reply queue's connection is new


def test_existing_exchange_with_other_flags_is_used(
        driver: RabbitDriver, exchange: str, unique: Callable, cleanup: Cleanup,
        caplog: pytest.LogCaptureFixture) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "s")
    with kombu.Connection(KOMBU_URL) as conn:
        conn.channel().exchange_declare(exchange=exchange, type="topic", durable=True,
                                        auto_delete=False)
    server = EchoServer(driver.listen(Target(topic=topic, server="s")))
    try:
        for n in range(2):
            assert driver.send(Target(topic=topic), {}, {"method": "m", "args": {"n": n}},
                               wait_for_reply=True, timeout=10) == {"echo": {"n": n}}
    finally:
        server.stop()
    warnings = [r for r in caplog.records if "already exists with other arguments" in r.message]
    assert len(warnings) == 1
