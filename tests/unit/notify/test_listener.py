"""Notification listeners end to end on an in-process transport.

Each guarantee of msgframework.notify.listener has a test here: ack after
dispatch, only handled priorities subscribed, pools, requeue up to the
limit then dead letter, dead letter when requeue is disabled, unknown
priorities dead-lettered, batches by size and by timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from msgframework.notify.dispatcher import NotificationResult
from msgframework.notify.filter import NotificationFilter
from msgframework.notify.listener import (
    get_batch_notification_listener,
    get_notification_listener,
)
from msgframework.notify.notifier import Notifier
from msgframework.target import Target

from .conftest import WAIT, DeadLetters, Recorder

TARGETS = [Target(topic="notifications")]


class Endpoint:
    """Records (priority, event_type, payload); behaviour per call from ``script``."""

    def __init__(self, script: Any = None) -> None:
        self.seen = Recorder()
        self.script = script  # callable(n_calls, event_type) -> result or exception

    def _handle(self, priority: str, ctxt: Any, publisher_id: str, event_type: str,
                payload: Any, metadata: dict[str, Any]) -> Any:
        self.seen.add((priority, event_type, payload, metadata["message_id"]))
        if self.script is not None:
            result = self.script(len(self.seen.items), event_type)
            if isinstance(result, Exception):
                raise result
            return result
        return None

    def info(self, *args: Any) -> Any:
        return self._handle("info", *args)

    def error(self, *args: Any) -> Any:
        return self._handle("error", *args)


def start(servers: list[Any], server: Any) -> Any:
    server.start()
    servers.append(server)
    return server


def test_notifications_reach_endpoints(transport: Any, servers: list[Any]) -> None:
    ep = Endpoint()
    start(servers, get_notification_listener(transport, TARGETS, [ep]))
    notifier = Notifier(transport, "pub")
    notifier.info({"user": "u"}, "a", {"n": 1})
    notifier.error({}, "b", {"n": 2})
    seen = ep.seen.wait_len(2)
    assert sorted((p, e) for p, e, _, _ in seen) == [("error", "b"), ("info", "a")]


def test_notifications_sent_before_the_listener_starts_are_kept(
        transport: Any, servers: list[Any]) -> None:
    Notifier(transport, "pub").info({}, "early", {})
    ep = Endpoint()
    start(servers, get_notification_listener(transport, TARGETS, [ep]))
    assert [e for _, e, _, _ in ep.seen.wait_len(1)] == ["early"]


def test_only_handled_priorities_are_subscribed(transport: Any, servers: list[Any]) -> None:
    class InfoOnly:
        def __init__(self) -> None:
            self.seen = Recorder()

        def info(self, ctxt: Any, pub: str, event_type: str, payload: Any, md: Any) -> None:
            self.seen.add(event_type)

    info_only = InfoOnly()
    first = start(servers, get_notification_listener(transport, TARGETS, [info_only]))
    assert first.dispatcher.supported_priorities == ["info"]
    notifier = Notifier(transport, "pub")
    notifier.error({}, "an.error", {})
    notifier.info({}, "an.info", {})
    assert info_only.seen.wait_len(1) == ["an.info"]
    first.stop(timeout=WAIT)
    first.wait(timeout=WAIT)
    # the error stayed on notifications.error for whoever handles errors
    errors = Endpoint()
    start(servers, get_notification_listener(transport, TARGETS, [errors]))
    assert [e for _, e, _, _ in errors.seen.wait_len(1)] == ["an.error"]
    assert info_only.seen.items == ["an.info"]


def test_every_pool_gets_one_copy(transport: Any, servers: list[Any]) -> None:
    pools: dict[str, Recorder] = {}
    for name in ("pool-a", "pool-b"):
        pools[name] = Recorder()
        for _member in range(2):  # two listeners share each pool
            ep = Endpoint()
            ep.seen = pools[name]
            start(servers, get_notification_listener(transport, TARGETS, [ep], pool=name))
    notifier = Notifier(transport, "pub")
    for i in range(10):
        notifier.info({}, f"e{i}", {})
    for seen in pools.values():
        events = sorted(e for _, e, _, _ in seen.wait_len(10))
        assert events == sorted(f"e{i}" for i in range(10))  # each exactly once per pool
    # no late duplicates: a further message lands once per pool
    notifier.info({}, "last", {})
    for seen in pools.values():
        assert len(seen.wait_len(11)) == 11


def test_requeue_result_redelivers_then_acks(transport: Any, servers: list[Any],
                                             dead_letters: DeadLetters) -> None:
    ep = Endpoint(lambda n, _e: NotificationResult.REQUEUE if n == 1 else None)
    start(servers, get_notification_listener(transport, TARGETS, [ep], allow_requeue=True))
    Notifier(transport, "pub").info({}, "retry.me", {})
    seen = ep.seen.wait_len(2)
    assert seen[0][3] == seen[1][3]  # the same message, delivered twice
    assert dead_letters.reasons.items == []


def test_failing_endpoint_is_dead_lettered_after_max_deliveries(
        transport: Any, servers: list[Any], dead_letters: DeadLetters) -> None:
    ep = Endpoint(lambda n, _e: RuntimeError(f"failure {n}"))
    start(servers, get_notification_listener(transport, TARGETS, [ep], allow_requeue=True,
                                             max_delivery_attempts=3))
    Notifier(transport, "pub").info({}, "poison", {})
    [reason] = dead_letters.reasons.wait_len(1)
    assert "after 3 deliveries" in reason and "failure 3" in reason
    assert len(ep.seen.items) == 3


def test_max_delivery_attempts_above_the_drivers_max_deliveries_wins(
        transport: Any, servers: list[Any], dead_letters: DeadLetters) -> None:
    # The memory and SQLite drivers dead-letter a message delivered
    # max_deliveries (default 20) times; that used to cap the listener's limit.
    assert transport.driver.options.max_deliveries == 20
    ep = Endpoint(lambda n, _e: NotificationResult.REQUEUE)
    start(servers, get_notification_listener(transport, TARGETS, [ep], allow_requeue=True,
                                             max_delivery_attempts=25))
    Notifier(transport, "pub").info({}, "poison", {})
    [reason] = dead_letters.reasons.wait_len(1)
    assert "after 25 deliveries" in reason
    assert len(ep.seen.items) == 25


def test_max_delivery_attempts_option(transport: Any, servers: list[Any],
                                      dead_letters: DeadLetters) -> None:
    transport.conf.set_override("max_delivery_attempts", 2, group="msgframework_notifications")
    ep = Endpoint(lambda n, _e: NotificationResult.REQUEUE)
    start(servers, get_notification_listener(transport, TARGETS, [ep], allow_requeue=True))
    Notifier(transport, "pub").info({}, "poison", {})
    [reason] = dead_letters.reasons.wait_len(1)
    assert "after 2 deliveries" in reason and "returned REQUEUE" in reason
    assert len(ep.seen.items) == 2


def test_without_requeue_a_failure_is_dead_lettered_not_dropped(
        transport: Any, servers: list[Any], dead_letters: DeadLetters) -> None:
    ep = Endpoint(lambda n, _e: ValueError("cannot store"))
    start(servers, get_notification_listener(transport, TARGETS, [ep]))
    Notifier(transport, "pub").info({}, "lost?", {})
    [reason] = dead_letters.reasons.wait_len(1)
    assert "requeue disabled" in reason and "cannot store" in reason
    assert len(ep.seen.items) == 1


def test_unknown_priority_is_dead_lettered_and_listener_goes_on(
        transport: Any, servers: list[Any], dead_letters: DeadLetters) -> None:
    ep = Endpoint()
    start(servers, get_notification_listener(transport, TARGETS, [ep]))
    # A foreign publisher put a BOGUS priority on the info queue.
    message = {"message_id": "m-bogus", "publisher_id": "x", "event_type": "odd",
               "priority": "BOGUS", "payload": {}, "timestamp": "2024-01-01 00:00:00"}
    transport._send_notification(Target(topic="notifications.info"), {}, message, 2.0)
    Notifier(transport, "pub").info({}, "normal", {})
    [reason] = dead_letters.reasons.wait_len(1)
    assert "unknown priority" in reason and "BOGUS" in reason
    assert [e for _, e, _, _ in ep.seen.wait_len(1)] == ["normal"]


def test_filtered_out_messages_are_acknowledged(transport: Any, servers: list[Any],
                                                dead_letters: DeadLetters) -> None:
    picky = Endpoint()
    picky.filter_rule = NotificationFilter(event_type="wanted")  # type: ignore[attr-defined]
    start(servers, get_notification_listener(transport, TARGETS, [picky]))
    notifier = Notifier(transport, "pub")
    notifier.info({}, "unwanted", {})
    notifier.info({}, "wanted", {})
    assert [e for _, e, _, _ in picky.seen.wait_len(1)] == ["wanted"]
    assert dead_letters.reasons.items == []


class BatchEndpoint:
    def __init__(self) -> None:
        self.batches = Recorder()

    def info(self, batch: list[dict[str, Any]]) -> None:
        self.batches.add([m["event_type"] for m in batch])


def test_batch_listener_fills_batches_to_size(transport: Any, servers: list[Any]) -> None:
    notifier = Notifier(transport, "pub")
    for i in range(6):
        notifier.info({}, f"e{i}", {})
    ep = BatchEndpoint()
    start(servers, get_batch_notification_listener(transport, TARGETS, [ep], batch_size=3,
                                                   batch_timeout=WAIT))
    batches = ep.batches.wait_len(2)
    assert [len(b) for b in batches] == [3, 3]
    assert sorted(e for b in batches for e in b) == [f"e{i}" for i in range(6)]


def test_batch_listener_hands_over_a_partial_batch_after_timeout(
        transport: Any, servers: list[Any]) -> None:
    ep = BatchEndpoint()
    start(servers, get_batch_notification_listener(transport, TARGETS, [ep], batch_size=50,
                                                   batch_timeout=0.2))
    sent_at = time.monotonic()
    Notifier(transport, "pub").info({}, "lonely", {})
    assert ep.batches.wait_len(1) == [["lonely"]]
    assert time.monotonic() - sent_at >= 0.15  # it waited for the batch to fill


def test_ack_happens_only_after_the_endpoint_returns(transport: Any, servers: list[Any],
                                                     conf: Any, transport_url: str) -> None:
    """A listener stopped while its endpoint runs leaves the message for the next one."""
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def info(self, *args: Any) -> Any:
            entered.set()
            release.wait(WAIT)
            return NotificationResult.REQUEUE  # as if it had crashed

    server = start(servers, get_notification_listener(transport, TARGETS, [Slow()],
                                                      allow_requeue=True))
    Notifier(transport, "pub").info({}, "in-flight", {})
    assert entered.wait(WAIT)
    server.stop(timeout=WAIT)
    release.set()
    server.wait(timeout=WAIT)
    ep = Endpoint()
    start(servers, get_notification_listener(transport, TARGETS, [ep]))
    assert [e for _, e, _, _ in ep.seen.wait_len(1)] == ["in-flight"]


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"targets": []}, ValueError, "at least one target"),
    ({"targets": [Target()]}, ValueError, "topic"),
    ({"targets": ["notifications"]}, TypeError, "Target"),
    ({"endpoints": [object()]}, ValueError, "no endpoint"),
    ({"max_delivery_attempts": 0}, ValueError, "max_delivery_attempts"),
])
def test_bad_listener_arguments(transport: Any, kwargs: dict[str, Any], error: type,
                                match: str) -> None:
    args: dict[str, Any] = {"targets": TARGETS, "endpoints": [Endpoint()], **kwargs}
    with pytest.raises(error, match=match):
        get_notification_listener(transport, **args)


def test_bad_batch_arguments(transport: Any) -> None:
    with pytest.raises(ValueError, match="batch_timeout"):
        get_batch_notification_listener(transport, TARGETS, [BatchEndpoint()], batch_size=2,
                                        batch_timeout=-1)


def test_queue_policy_bounds_the_queue_while_the_listener_is_stopped(
        transport: Any, servers: list[Any]) -> None:
    """``queue_policy`` reaches the driver: the queue drops its oldest while unread."""
    from msgframework.drivers.base import QueuePolicy

    first = get_notification_listener(transport, TARGETS, [Endpoint()],
                                      queue_policy=QueuePolicy(max_length=2))
    assert first.queue_policy == QueuePolicy(max_length=2)
    first.start()
    first.stop(timeout=WAIT)
    first.wait(timeout=WAIT)  # the queue stays, bounded, with nobody reading
    notifier = Notifier(transport, "pub")
    for n in range(6):
        notifier.info({}, f"n{n}", {})
    ep = Endpoint()
    # No policy given; one thread handles them in the order they are taken.
    start(servers, get_notification_listener(transport, TARGETS, [ep], executor="blocking"))
    # FIFO: anything older kept would come first.
    assert [e for _, e, _, _ in ep.seen.wait_len(2)] == ["n4", "n5"]
    # Sent only once both were taken: the queue, still bounded at 2, would
    # otherwise drop n4 to store it.
    notifier.info({}, "sentinel", {})
    assert [e for _, e, _, _ in ep.seen.wait_len(3)] == ["n4", "n5", "sentinel"]
