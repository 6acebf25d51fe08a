"""Hubs through a real transport (memory and SQLite drivers): filter, consumers, durability."""

from __future__ import annotations

import logging
import threading

import pytest

from msgframework.hubs import Consumer, Hub, HubEvent, WithEventType, WithRecipients
from msgframework.notify.notifier import Notifier

from .conftest import WAIT


class Collector(Consumer):
    """Keeps events; ``wait_for(n)`` blocks on a condition until n arrived."""

    def __init__(self, name=None):
        super().__init__(name)
        self.events: list[HubEvent] = []
        self.cond = threading.Condition()

    def consume(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, n, timeout=WAIT):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.events) >= n, timeout)

    def types(self):
        with self.cond:
            return [e.event_type for e in self.events]


@pytest.fixture
def notifier(transport):
    return Notifier(transport, "backup.host1", driver="messagingv2", topics=["notifications"],
                    raise_on_send_failure=True)


def test_filter_and_consumers(transport, notifier):
    hub = Hub(transport, "ops", filter=WithEventType("backup.*"))
    collector = Collector()
    hub.register_consumer(collector)
    seen = []
    done = threading.Event()

    @hub.register_consumer
    def function_consumer(event):
        seen.append(event.payload)
        done.set()

    with hub:
        notifier.info({"user": "ann"}, "compute.start", {"n": 0})
        notifier.error({}, "backup.done", {"n": 1})
        assert collector.wait_for(1)
        assert done.wait(WAIT)
    event = collector.events[0]
    assert event.event_type == "backup.done"
    assert event.priority == "error"
    assert event.publisher_id == "backup.host1"
    assert event.timestamp is not None
    assert seen == [{"n": 1}]
    assert collector.types() == ["backup.done"]


def test_deregistering_stops_deliveries(transport, notifier):
    hub = Hub(transport, "dereg")
    stays, leaves = Collector("stays"), Collector("leaves")
    hub.register_consumer(stays)
    hub.register_consumer(leaves)
    with hub:
        notifier.info({}, "e.one", {})
        assert stays.wait_for(1) and leaves.wait_for(1)
        assert hub.deregister_consumer("leaves") is True
        assert hub.deregister_consumer("leaves") is False
        notifier.info({}, "e.two", {})
        assert stays.wait_for(2)
    assert leaves.types() == ["e.one"]
    assert stays.types() == ["e.one", "e.two"]


def test_a_failing_consumer_does_not_starve_the_others(transport, notifier, caplog):
    hub = Hub(transport, "failing")
    collector = Collector()

    @hub.register_consumer(name="broken")
    def broken(event):
        raise RuntimeError("disk full")

    hub.register_consumer(collector)
    with caplog.at_level(logging.ERROR, logger="msgframework.hubs.hub"), hub:
        notifier.info({}, "e", {})
        assert collector.wait_for(1)
    assert any("consumer broken failed" in r.getMessage() for r in caplog.records)
    assert hub.stats.as_dict()["failed"] == 1
    assert hub.stats.as_dict()["delivered"] == 1


def test_subscription_is_durable_while_the_hub_is_stopped(transport, notifier):
    hub = Hub(transport, "durable")
    collector = Collector()
    hub.register_consumer(collector)
    hub.start()
    notifier.info({}, "before.stop", {})
    assert collector.wait_for(1)
    hub.stop()
    notifier.info({}, "while.stopped", {})  # kept in the hub's pool
    hub.start()
    try:
        assert collector.wait_for(2)
    finally:
        hub.close()
    assert collector.types() == ["before.stop", "while.stopped"]


def test_every_hub_gets_its_own_copy(transport, notifier):
    a, b = Hub(transport, "a"), Hub(transport, "b", filter=WithRecipients("ann"))
    ca, cb = Collector(), Collector()
    a.register_consumer(ca)
    b.register_consumer(cb)
    with a, b:
        notifier.info({}, "for.bob", {"recipients": ["bob"]})
        notifier.info({}, "for.ann", {"recipients": ["ann", "bob"]})
        assert ca.wait_for(2) and cb.wait_for(1)
    assert sorted(ca.types()) == ["for.ann", "for.bob"]
    assert cb.types() == ["for.ann"]


def test_consume_without_transport_and_raising_filter(caplog):
    hub = Hub(None, "local", filter=lambda e: e.payload["x"] > 0)
    collector = Collector()
    hub.register_consumer(collector)
    assert hub.consume(HubEvent("t", {"x": 1})) is True
    with caplog.at_level(logging.ERROR, logger="msgframework.hubs.hub"):
        assert hub.consume(HubEvent("t", {})) is False  # KeyError in the filter
    assert collector.types() == ["t"]
    assert hub.stats.filter_errors == 1
    with pytest.raises(ValueError, match="no transport"):
        hub.start()


def test_registering_twice_is_a_no_op_and_names_are_checked():
    hub = Hub(None, "names")

    def fn(event):
        pass

    hub.register_consumer(fn)
    hub.register_consumer(fn)
    assert len(hub.consumers) == 1
    assert hub.deregister_consumer(fn)
    with pytest.raises(ValueError, match="hub name"):
        Hub(None, "bad name!")
    with pytest.raises(ValueError, match="unknown priorities"):
        Hub(None, "p", priorities=["loud"])
