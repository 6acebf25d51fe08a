"""Behaviour of the in-memory driver beyond the conformance checks: its broker."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.drivers.memory.broker import get_broker, reset_broker
from msgframework.drivers.memory.driver import MemoryDriver, broker_name
from msgframework.exceptions import ConfigurationError, InvalidTransportURL, MessagingTimeout
from msgframework.target import Target
from msgframework.testing.fixtures import MemoryBrokerFixture
from msgframework.transport import Transport, get_notification_transport, get_rpc_transport
from msgframework.transport_url import TransportURL

WAIT = 5.0
#: Timeout of takes that a test ends by publishing (or stopping), never by timing out.
LONG = 6 * WAIT


def cast(transport: Transport, target: Target, i: Any) -> None:
    transport._send(target, {}, {"method": "m", "args": {"i": i}})


@pytest.fixture
def transport(conf: cfg.ConfigOpts, memory_url: str) -> Any:
    t = get_rpc_transport(conf, memory_url)
    yield t
    t.cleanup()


@pytest.mark.parametrize("url, name", [
    ("memory://", ""), ("memory:///", ""), ("memory://tests", "tests"),
    ("memory:///tests", "tests"), ("memory://a/b", "a/b"), ("fake://x", "x"),
])
def test_broker_name_from_url(url: str, name: str) -> None:
    assert broker_name(TransportURL.parse(cfg.ConfigOpts(), url)) == name


def test_fake_scheme_is_an_alias_sharing_the_broker(conf: cfg.ConfigOpts,
                                                    memory_broker_fixture: Any) -> None:
    name = memory_broker_fixture.name
    a = get_rpc_transport(conf, f"memory://{name}")
    b = get_rpc_transport(cfg.ConfigOpts(), f"fake:///{name}")
    try:
        assert isinstance(b.driver, MemoryDriver)
        listener = b._listen(Target(topic="t", server="s"))
        cast(a, Target(topic="t"), 1)
        (msg,) = listener.poll(timeout=WAIT)
        assert msg.message["args"] == {"i": 1}
        msg.acknowledge()
    finally:
        a.cleanup()
        b.cleanup()


def test_brokers_are_isolated(conf: cfg.ConfigOpts) -> None:
    one, two = MemoryBrokerFixture(), MemoryBrokerFixture()
    one.setUp()
    two.setUp()
    try:
        a = get_rpc_transport(conf, one.url)
        b = get_rpc_transport(conf, two.url)
        listener = b._listen(Target(topic="iso", server="s"))
        cast(a, Target(topic="iso"), 1)
        assert listener.poll(timeout=0.1) == []
        assert one.broker.depth("openstack", "iso") == 1
        a.cleanup()
        b.cleanup()
    finally:
        one.cleanUp()
        two.cleanUp()


def test_query_overrides_options_and_unknown_keys_fail(conf: cfg.ConfigOpts,
                                                       memory_url: str) -> None:
    t = get_rpc_transport(conf, memory_url + "?max_deliveries=3")
    assert t.driver.options.max_deliveries == 3
    with pytest.raises(InvalidTransportURL, match="max_deliveries"):
        get_rpc_transport(conf, memory_url + "?max_delivery=3")
    with pytest.raises(ConfigurationError, match="max_deliveries"):
        get_rpc_transport(conf, memory_url + "?max_deliveries=lots")


def test_requeue_goes_to_the_front(transport: Transport) -> None:
    listener = transport._listen(Target(topic="front", server="s"))
    for i in range(3):
        cast(transport, Target(topic="front"), i)
    (first,) = listener.poll(timeout=WAIT)
    first.requeue()
    got = listener.poll(timeout=WAIT, batch_size=3, batch_timeout=WAIT)
    assert [m.message["args"]["i"] for m in got] == [0, 1, 2]
    assert [m.delivery_count for m in got] == [2, 1, 1]


def test_requeued_past_max_deliveries_is_dead_lettered(conf: cfg.ConfigOpts,
                                                       memory_broker_fixture: Any) -> None:
    t = get_rpc_transport(conf, memory_broker_fixture.url_with(max_deliveries=2))
    listener = t._listen(Target(topic="loop", server="s"))
    cast(t, Target(topic="loop"), 1)
    for _ in range(2):
        (msg,) = listener.poll(timeout=WAIT)
        msg.requeue()
    assert listener.poll(timeout=0.1) == []
    (letter,) = memory_broker_fixture.dead_letters
    assert letter.delivery_count == 2
    assert "2 times" in letter.reason
    assert letter.message["args"] == {"i": 1}
    t.cleanup()


def test_cleanup_requeues_unsettled_and_deletes_fanout_queue(
        conf: cfg.ConfigOpts, memory_url: str, memory_broker: Any) -> None:
    a = get_rpc_transport(conf, memory_url)
    listener = a._listen(Target(topic="c", server="s"))
    assert len(memory_broker.queue_names("c_fanout")) == 1
    cast(a, Target(topic="c"), 1)
    (msg,) = listener.poll(timeout=WAIT)
    listener.stop()
    listener.cleanup()
    msg.acknowledge()  # too late: it was requeued, this is a no-op
    assert memory_broker.queue_names("c_fanout") == []
    again = a._listen(Target(topic="c", server="s"))
    (redelivered,) = again.poll(timeout=WAIT)
    assert redelivered.delivery_count == 2
    redelivered.acknowledge()
    a.cleanup()


def test_undecodable_message_logged_and_dead_lettered(
        transport: Transport, memory_broker: Any, caplog: Any) -> None:
    listener = transport._listen(Target(topic="bad", server="s"))
    memory_broker.publish("openstack", "bad", "[1, 2]", declare="bad")
    with caplog.at_level(logging.ERROR):
        assert listener.poll(timeout=0.1) == []
    (letter,) = memory_broker.dead_letters
    assert letter.reason.startswith("MalformedMessage")
    assert letter.message == "[1, 2]"  # not decodable: the raw text
    assert "undecodable" in caplog.text


def test_notifications_copy_to_default_queue_and_each_pool(conf: cfg.ConfigOpts,
                                                          memory_url: str,
                                                          memory_broker: Any) -> None:
    t = get_notification_transport(conf, memory_url)
    targets = [(Target(topic="n"), "info"), (Target(topic="n"), "error")]
    pool = t._listen_for_notifications(targets, pool="p1")
    assert memory_broker.queue_names("openstack") == ["p1"]
    msg = {"event_type": "e", "priority": "INFO", "payload": 1}
    t._send_notification(Target(topic="n.info"), {}, msg, 2.0)
    t._send_notification(Target(topic="n.error"), {}, dict(msg, priority="ERROR"), 1.0)
    assert memory_broker.queue_names("openstack") == ["n.error", "n.info", "p1"]
    got = pool.poll(timeout=WAIT, batch_size=2, batch_timeout=WAIT)
    assert [m.message["priority"] for m in got] == ["INFO", "ERROR"]
    for m in got:
        m.acknowledge()
    assert memory_broker.depth("openstack", "n.info") == 1
    assert memory_broker.depth("openstack", "n.error") == 1
    t.cleanup()


def test_wait_until_idle(transport: Transport, memory_broker: Any) -> None:
    assert memory_broker.wait_until_idle(0.01)
    listener = transport._listen(Target(topic="idle", server="s"))
    cast(transport, Target(topic="idle"), 1)
    assert not memory_broker.wait_until_idle(0.05)
    (msg,) = listener.poll(timeout=WAIT)
    assert not memory_broker.wait_until_idle(0.05)  # in flight
    acked: list[bool] = []

    def settle_once_waited_for() -> None:
        # acknowledge only once the main thread is blocked in wait_until_idle()
        acked.append(memory_broker.wait_for_waiters(idle=1, timeout=WAIT))
        msg.acknowledge()

    thread = threading.Thread(target=settle_once_waited_for)
    thread.start()
    start = time.monotonic()
    # woken by the acknowledgement, not by its timeout (which re-checks too)
    assert memory_broker.wait_until_idle(3 * WAIT)
    assert time.monotonic() - start < 2 * WAIT
    thread.join(WAIT)
    assert acked == [True]
    stats = memory_broker.stats()
    assert stats["published"] == 1 and stats["acknowledged"] == 1
    assert stats["ready"] == 0 and stats["in_flight"] == 0


def test_expired_request_is_not_delivered(transport: Transport, memory_broker: Any) -> None:
    with pytest.raises(MessagingTimeout, match="Timed out"):
        transport._send(Target(topic="late"), {}, {"method": "m", "args": {}},
                        wait_for_reply=True, timeout=0.05)
    listener = transport._listen(Target(topic="late", server="s"))
    assert listener.poll(timeout=0.05) == []
    assert memory_broker.stats()["expired"] == 1


def test_reply_to_a_gone_caller_is_dropped(conf: cfg.ConfigOpts, memory_url: str,
                                           memory_broker: Any) -> None:
    caller = get_rpc_transport(conf, memory_url)
    server = get_rpc_transport(conf, memory_url)
    listener = server._listen(Target(topic="gone", server="s"))
    result: list[Any] = []
    # The request expires with the call's timeout: it must outlast a stall
    # between the send and the poll below, or nothing would be polled.
    thread = threading.Thread(target=lambda: result.append(pytest.raises(
        MessagingTimeout, caller._send, Target(topic="gone"), {}, {"method": "m", "args": {}},
        wait_for_reply=True, timeout=2.0)))
    thread.start()
    (msg,) = listener.poll(timeout=WAIT)
    thread.join(2 * WAIT)
    assert len(result) == 1
    caller.cleanup()
    msg.acknowledge()
    msg.reply("late")  # must not raise
    assert memory_broker.stats()["replies_dropped"] == 1
    server.cleanup()


def test_publish_wakes_only_one_waiting_listener(conf: cfg.ConfigOpts, memory_url: str) -> None:
    t = get_rpc_transport(conf, memory_url)
    listeners = [t._listen(Target(topic="w", server=f"s{i}")) for i in range(4)]
    got: list[Any] = []
    cond = threading.Condition()

    def poll(listener: Any) -> None:
        # Ended by a message, never by the timeout: each poll takes one.
        for m in listener.poll(timeout=LONG):
            m.acknowledge()
            with cond:
                got.append(m)
                cond.notify_all()

    threads = [threading.Thread(target=poll, args=(lis,)) for lis in listeners]
    for th in threads:
        th.start()
    broker = t.driver.broker
    assert broker.wait_for_waiters(takers=4, timeout=WAIT)  # all four really wait
    # One cast at a time, each once the previous one was taken: every cast
    # must wake exactly one poller, the others sleeping on.
    for n in range(1, 5):
        cast(t, Target(topic="w"), n)
        with cond:  # well before the polls' timeout: a poller was woken
            assert cond.wait_for(lambda n=n: len(got) == n, WAIT), f"cast {n} never taken"
        if n == 1:
            assert broker.stats()["takers_waiting"] == 3  # the others still wait
    for th in threads:
        th.join(WAIT)
    assert not any(th.is_alive() for th in threads)
    # Each of the four polls ended on a wake-up of its own: waking every
    # waiting poller per message (notify_all) would count 4 + 3 + 2 + 1.
    assert broker.stats()["wakeups"] == 4
    t.cleanup()


def test_threads_polling_one_subscription_are_woken_last_in_first_out(
        memory_broker: Any) -> None:
    # An executor's idle workers all wait in take() on their listener's
    # subscription: a message wakes one of them, the one that blocked last
    # (the worker that just finished, its caches warm); the others sleep on.
    memory_broker.declare_queue("x", "q", ("k",))
    sub = memory_broker.subscribe("s", [("x", "q", ("k",), False)])
    taken: dict[str, Any] = {}

    def take(name: str) -> None:
        taken[name] = memory_broker.take(sub, LONG)

    first = threading.Thread(target=take, args=("first",))
    first.start()
    assert memory_broker.wait_for_waiters(takers=1, timeout=WAIT)
    second = threading.Thread(target=take, args=("second",))
    second.start()
    assert memory_broker.wait_for_waiters(takers=2, timeout=WAIT)
    memory_broker.publish("x", "k", "{}")
    second.join(WAIT)
    assert taken.get("second") is not None
    assert "first" not in taken  # still waiting: nothing woke it
    memory_broker.publish("x", "k", "{}")
    first.join(WAIT)
    assert taken.get("first") is not None
    # One wake-up per message: waking both for the first would count three.
    assert memory_broker.stats()["wakeups"] == 2
    for delivery in taken.values():
        memory_broker.settle(sub, delivery.tag, "ack")
    assert memory_broker.wait_until_idle(WAIT)


def test_stop_wakes_every_thread_polling_a_subscription(memory_broker: Any) -> None:
    memory_broker.declare_queue("x", "q", ("k",))
    sub = memory_broker.subscribe("s", [("x", "q", ("k",), False)])
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(memory_broker.take(sub, 60)))
               for _ in range(3)]
    for th in threads:
        th.start()
    assert memory_broker.wait_for_waiters(takers=3, timeout=WAIT)
    memory_broker.stop(sub)
    for th in threads:
        th.join(WAIT)
        assert not th.is_alive()
    assert results == [None, None, None]


def test_settle_wakes_a_poller_only_when_it_frees_room(memory_broker: Any) -> None:
    # prefetch 1: the second message waits until the first is settled.
    memory_broker.declare_queue("x", "q", ("k",))
    sub = memory_broker.subscribe("s", [("x", "q", ("k",), False)])
    sub.prefetch = 1
    memory_broker.publish("x", "k", "{}")
    memory_broker.publish("x", "k", "{}")
    held = memory_broker.take(sub, WAIT)
    taken: list[Any] = []
    th = threading.Thread(target=lambda: taken.append(memory_broker.take(sub, WAIT)))
    th.start()
    assert memory_broker.wait_for_waiters(takers=1, timeout=WAIT)
    memory_broker.settle(sub, held.tag, "ack")
    th.join(WAIT)
    assert taken and taken[0] is not None
    memory_broker.settle(sub, taken[0].tag, "ack")
    assert memory_broker.wait_until_idle(WAIT)


def test_wake_up_spent_on_another_queue_is_passed_on(memory_broker: Any) -> None:
    # Two blocking RPC servers of a topic hit this when a topic cast wakes s1
    # and a cast to s1's own queue arrives before s1 runs: s1 takes that one
    # and the topic cast waited for s2's 5s poll timeout. Two separate
    # publishes race with s1's wake-up; one publish to two queues bound to
    # one key makes it deterministic. Its wake-up for "shared" claims "one"
    # (subscribed first); "one" then takes the copy in "own" (its first
    # queue), so "two" must be woken for the copy in "shared".
    memory_broker.declare_queue("x", "shared", ("k",))
    memory_broker.declare_queue("x", "own", ("k",))
    one = memory_broker.subscribe("one", [("x", "own", ("k",), False),
                                          ("x", "shared", ("k",), False)])
    two = memory_broker.subscribe("two", [("x", "shared", ("k",), False)])
    taken: dict[str, Any] = {}

    def take(name: str, sub: Any) -> None:
        taken[name] = memory_broker.take(sub, LONG)

    threads = [threading.Thread(target=take, args=("one", one)),
               threading.Thread(target=take, args=("two", two))]
    for th in threads:
        th.start()
    assert memory_broker.wait_for_waiters(takers=2, timeout=WAIT)
    memory_broker.publish("x", "k", "{}")
    threads[1].join(WAIT)  # well under the take's timeout: it was woken
    assert not threads[1].is_alive(), "the copy in 'shared' waited although 'two' idled"
    threads[0].join(WAIT)
    assert taken["one"].queue_name == "own"
    assert taken["two"].queue_name == "shared"
    for name, sub in (("one", one), ("two", two)):
        memory_broker.settle(sub, taken[name].tag, "ack")
    assert memory_broker.wait_until_idle(WAIT)


def test_reset_broker_gives_a_fresh_one() -> None:
    old = get_broker("reset-me")
    old.publish("x", "k", "{}", declare="k")
    reset_broker("reset-me")
    assert get_broker("reset-me") is not old
    assert get_broker("reset-me").depth("x", "k") == 0
    reset_broker("reset-me")


def test_queue_policy_bounds_the_queue_while_nobody_reads(conf: cfg.ConfigOpts,
                                                          memory_url: str) -> None:
    """Store-time enforcement: the broker holds max_length messages, not every one."""
    from msgframework.drivers.base import QueuePolicy

    notifier = get_notification_transport(conf, memory_url)
    try:
        notifier._listen_for_notifications([(Target(topic="inbox"), "info")],
                                           queue_policy=QueuePolicy(max_length=4))
        for i in range(30):
            notifier._send_notification(Target(topic="inbox.info"), {},
                                        {"event_type": "e", "payload": {"i": i}}, 2.0)
        broker = notifier.driver.broker
        assert broker.depth("openstack", "inbox.info") == 4
        assert broker.stats()["overflowed"] == 26
    finally:
        notifier.cleanup()
