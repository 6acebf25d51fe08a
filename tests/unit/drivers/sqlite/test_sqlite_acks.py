"""Acknowledgements committed in groups (``ack_delay``): never lost, never early."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from msgframework.target import Target

pytestmark = pytest.mark.timeout(60)


def note(transport: Any, topic: str, n: int) -> None:
    transport._send_notification(Target(topic=f"{topic}.info"), {},
                                 {"event_type": "test.n", "priority": "INFO",
                                  "payload": {"n": n}}, 2.0)


def rows(db_path: Path, queue: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT COUNT(*) FROM messages WHERE queue = ?",
                            (queue,)).fetchone()[0]


def wait_for(predicate: Any, timeout: float) -> bool:
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


def test_acknowledgements_are_committed_together_after_the_delay(make_transport, db_path):
    publisher = make_transport()
    # The delay must outlast the checks below that the rows are still there:
    # a stall longer than it would let the group commit first.
    listener = make_transport(ack_delay=2.0)._listen_for_notifications(
        [(Target(topic="grp"), "info")], "p")
    for n in range(5):
        note(publisher, "grp", n)
    got = listener.poll(timeout=5, batch_size=5, batch_timeout=0.5)
    assert len(got) == 5
    for msg in got:
        msg.acknowledge()
    # Still leased (nobody else may take them) until the group commits.
    queue = "openstack/grp.info/pool=p"
    assert rows(db_path, queue) == 5
    assert make_transport()._listen_for_notifications(
        [(Target(topic="grp"), "info")], "p").poll(timeout=0.1) == []
    assert wait_for(lambda: rows(db_path, queue) == 0, timeout=15)
    listener.cleanup()


def test_zero_delay_acknowledges_before_returning(make_transport, db_path):
    publisher = make_transport()
    listener = make_transport(ack_delay=0)._listen_for_notifications(
        [(Target(topic="sync"), "info")])
    note(publisher, "sync", 1)
    [msg] = listener.poll(timeout=5)
    msg.acknowledge()
    assert rows(db_path, "openstack/sync.info") == 0
    listener.cleanup()


def test_cleanup_commits_pending_acknowledgements_first(make_transport, db_path):
    publisher = make_transport()
    listener = make_transport(ack_delay=60)._listen_for_notifications(
        [(Target(topic="flush"), "info")], "p")
    for n in range(3):
        note(publisher, "flush", n)
    got = listener.poll(timeout=5, batch_size=3, batch_timeout=0.5)
    assert len(got) == 3
    got[0].acknowledge()
    got[1].acknowledge()
    listener.cleanup()  # commits the two, hands the third back
    assert rows(db_path, "openstack/flush.info/pool=p") == 1
    other = make_transport()._listen_for_notifications([(Target(topic="flush"), "info")], "p")
    again = other.poll(timeout=5, batch_size=3, batch_timeout=0.3)
    assert [m.message["payload"]["n"] for m in again] == [got[2].message["payload"]["n"]]
    again[0].acknowledge()
    other.cleanup()


def test_transport_cleanup_commits_pending_acknowledgements(make_url, make_transport,
                                                            db_path):
    from oslo_config import cfg

    from msgframework.transport import get_rpc_transport

    consumer = get_rpc_transport(cfg.ConfigOpts(), make_url(ack_delay=60))
    listener = consumer._listen_for_notifications([(Target(topic="tc"), "info")])
    note(make_transport(), "tc", 1)
    [msg] = listener.poll(timeout=5)
    msg.acknowledge()
    consumer.cleanup()
    assert rows(db_path, "openstack/tc.info") == 0


def test_a_crash_before_the_commit_redelivers(make_url, make_transport, spawn):
    """At-least-once: acknowledged but uncommitted when SIGKILLed means delivered again."""
    url = make_url(visibility_timeout=1, ack_delay=60)
    holder = spawn("hold", url, "crash", "workers", "2", "2")
    holder.expect("ready")
    publisher = make_transport()
    for n in range(2):
        note(publisher, "crash", n)
    held = holder.expect("held")
    assert sorted(held["acked"]) == [0, 1]
    holder.proc.send_signal(signal.SIGKILL)
    holder.proc.wait(10)
    listener = make_transport()._listen_for_notifications(
        [(Target(topic="crash"), "info")], "workers")
    got: list[Any] = []
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        got.extend(listener.poll(timeout=0.5, batch_size=2, batch_timeout=0.05))
    assert sorted(m.message["payload"]["n"] for m in got) == [0, 1]
    for msg in got:
        msg.acknowledge()
    listener.cleanup()


def test_many_threads_acknowledging_lose_nothing(make_transport, db_path):
    publisher = make_transport()
    consumer = make_transport(ack_delay=0.002)
    listener = consumer._listen_for_notifications([(Target(topic="many"), "info")])
    total = 300
    for n in range(total):
        note(publisher, "many", n)
    got: list[Any] = []
    deadline = time.monotonic() + 20
    while len(got) < total and time.monotonic() < deadline:
        got.extend(listener.poll(timeout=0.5, batch_size=100, batch_timeout=0.01))
    assert len(got) == total
    chunks = [got[i::4] for i in range(4)]
    threads = [threading.Thread(target=lambda c=c: [m.acknowledge() for m in c])
               for c in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert wait_for(lambda: rows(db_path, "openstack/many.info") == 0, timeout=5)
    assert listener.poll(timeout=0.1) == []
    listener.cleanup()


def test_rpc_requests_are_acknowledged_before_acknowledge_returns(make_transport,
                                                                   db_path):
    """At-most-once RPC: an acknowledged request is gone even if the server dies next."""
    client = make_transport()
    listener = make_transport(ack_delay=60)._listen(Target(topic="rpc", server="s"))
    client._send(Target(topic="rpc"), {}, {"method": "m", "args": {}})
    [msg] = listener.poll(timeout=5)
    msg.acknowledge()
    assert rows(db_path, "openstack/rpc") == 0
    listener.cleanup()
