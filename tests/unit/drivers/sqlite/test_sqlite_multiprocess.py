"""Several processes on one file: sharing, crash recovery, concurrent publishers."""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest

from msgframework.target import Target

pytestmark = pytest.mark.timeout(90)

INFO = "info"


def notify(transport: Any, topic: str, n: int) -> None:
    transport._send_notification(Target(topic=f"{topic}.{INFO}"), {},
                                 {"event_type": "test.n", "priority": "INFO",
                                  "payload": {"n": n}}, 2.0)


def drain(listener: Any, expected: int, timeout: float = 20.0) -> list[Any]:
    """Poll until ``expected`` messages came (acknowledging each) or the time is up."""
    import time

    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for msg in listener.poll(timeout=0.5, batch_size=100, batch_timeout=0.01):
            got.append(msg)
            msg.acknowledge()
    return got


def test_rpc_call_and_fanout_across_processes(make_url, make_transport, spawn):
    url = make_url()
    servers = [spawn("serve", url, "svc", name) for name in ("a", "b")]
    for child in servers:
        child.expect("ready")
    client = make_transport()
    reply = client._send(Target(topic="svc", server="b"), {}, {"method": "echo",
                                                               "args": {"x": 1}},
                         wait_for_reply=True, timeout=10)
    assert reply == {"server": "b", "args": {"x": 1}}
    # A topic call goes to exactly one of the two servers.
    answered = Counter(
        client._send(Target(topic="svc"), {}, {"method": "echo", "args": {}},
                     wait_for_reply=True, timeout=10)["server"] for _ in range(20))
    assert sum(answered.values()) == 20 and set(answered) <= {"a", "b"}
    # Fanout reaches every server.
    client._send(Target(topic="svc", fanout=True), {}, {"method": "note", "args": {"k": 7}})
    for child in servers:
        assert child.expect("note")["args"] == {"k": 7}
    for child in servers:
        assert child.finish() == 0


def test_sigkilled_consumer_messages_are_redelivered_after_visibility_timeout(
        make_url, make_transport, spawn):
    # The holder renews its leases every third of the visibility timeout; a
    # stall of the holder longer than two thirds of it would hand them out
    # early, so keep it well above a loaded host's stalls.
    visibility = 3
    url = make_url(visibility_timeout=visibility)
    holder = spawn("hold", url, "jobs", "workers", "5", "2")
    holder.expect("ready")
    publisher = make_transport()
    for n in range(5):
        notify(publisher, "jobs", n)
    held = holder.expect("held")
    assert sorted(held["acked"] + held["unacked"]) == [0, 1, 2, 3, 4]

    other = make_transport(visibility_timeout=visibility)
    listener = other._listen_for_notifications([(Target(topic="jobs"), INFO)], "workers")
    # While the holder lives it renews its leases: nothing is given out twice,
    # even waiting for longer than a visibility timeout.
    assert listener.poll(timeout=visibility + 1.0) == []

    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(10)
    redelivered = drain(listener, len(held["unacked"]))
    assert sorted(m.message["payload"]["n"] for m in redelivered) == sorted(held["unacked"])
    assert all(m.delivery_count == 2 for m in redelivered)
    # Acknowledged messages never come back.
    assert listener.poll(timeout=1.5) == []
    listener.cleanup()


def test_pools_share_across_processes(make_url, make_transport, spawn):
    url = make_url()
    pool_a = [spawn("consume", url, "events", "A") for _ in range(2)]
    pool_b = spawn("consume", url, "events", "B")
    for child in [*pool_a, pool_b]:
        child.expect("ready")
    publisher = make_transport()
    total = 60
    for n in range(total):
        notify(publisher, "events", n)

    def collect(children: list[Any]) -> Counter[int]:
        import queue as _queue
        import time

        seen: Counter[int] = Counter()
        deadline = time.monotonic() + 20
        while sum(seen.values()) < total and time.monotonic() < deadline:
            for child in children:
                try:
                    event = child.events.get(timeout=0.05)
                except _queue.Empty:
                    continue
                if event["event"] == "got":
                    seen[event["n"]] += 1
        return seen

    seen_a = collect(pool_a)
    seen_b = collect([pool_b])
    assert sorted(seen_a) == list(range(total)) and set(seen_a.values()) == {1}
    assert sorted(seen_b) == list(range(total)) and set(seen_b.values()) == {1}
    for child in [*pool_a, pool_b]:
        assert child.finish() == 0


def test_concurrent_publishers_lose_nothing(make_url, make_transport, spawn):
    url = make_url()
    consumer = make_transport()
    listener = consumer._listen_for_notifications([(Target(topic="load"), INFO)])
    per_child, children = 200, 3
    publishers = [spawn("publish", url, "load", str(i * per_child), str(per_child))
                  for i in range(children)]
    got = drain(listener, per_child * children, timeout=40)
    for child in publishers:
        child.expect("done")
        assert child.finish() == 0
    numbers = Counter(m.message["payload"]["n"] for m in got)
    assert sorted(numbers) == list(range(per_child * children))
    assert set(numbers.values()) == {1}
    listener.cleanup()


def test_a_killed_servers_fanout_queue_expires(make_url, make_transport, spawn, db_path):
    import sqlite3
    import threading
    import time

    from msgframework.drivers.base import TransportOptions
    from msgframework.exceptions import MessageUndeliverable

    # The live server renews its subscription every third of the TTL: the
    # first send below needs it alive, so the TTL must outlast a stall.
    ttl = 3
    url = make_url(transient_queue_ttl=ttl)
    server = spawn("serve", url, "gone", "s1")
    server.expect("ready")
    client = make_transport(transient_queue_ttl=ttl)
    options = TransportOptions(at_least_once=True)
    fanout = Target(topic="gone", fanout=True)
    client._send(fanout, {}, {"method": "note", "args": {}}, transport_options=options)
    server.expect("note")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    # The dead server stops heartbeating: within the TTL (plus a keeper round)
    # its fanout queue stops counting, then is collected with its messages.
    keeper = client._listen(Target(topic="other", server="x"))  # runs this side's keeper
    pause = threading.Event()
    deadline = time.monotonic() + 10 * ttl
    while True:
        try:
            client._send(fanout, {}, {"method": "note", "args": {}}, transport_options=options)
        except MessageUndeliverable:
            break
        assert time.monotonic() < deadline, "the dead server's fanout queue never expired"
        pause.wait(0.1)
    while True:
        with sqlite3.connect(db_path) as conn:
            left = conn.execute("SELECT COUNT(*) FROM queues WHERE kind = 'fanout' "
                                "AND name LIKE 'gone_fanout/%'").fetchone()[0]
        if left == 0:
            break
        assert time.monotonic() < deadline, "the dead server's fanout queue was not collected"
        pause.wait(0.1)
    keeper.cleanup()
