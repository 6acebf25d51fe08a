"""The SQLite driver in one process, through the Transport seam (several transports
on one file behave as several processes do)."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

import pytest

from msgframework.drivers.base import Capability, TransportOptions
from msgframework.exceptions import MessageUndeliverable, MessagingTimeout
from msgframework.target import Target
from msgframework.wire.failures import serialize_remote_exception

pytestmark = pytest.mark.timeout(60)


def note(transport: Any, topic: str, n: int, priority: str = "info") -> None:
    transport._send_notification(Target(topic=f"{topic}.{priority}"), {"user": "u"},
                                 {"event_type": "test.n", "priority": priority.upper(),
                                  "payload": {"n": n}}, 2.0)


class Server:
    """A polling RPC server thread with a handler per method."""

    def __init__(self, transport: Any, target: Target, handlers: dict[str, Any]) -> None:
        self.listener = transport._listen(target)
        self.handlers = handlers
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.listener.stopped:
            for msg in self.listener.poll(timeout=5):
                msg.acknowledge()
                self.handlers[msg.message["method"]](msg)

    def stop(self) -> None:
        self.listener.stop()
        self.thread.join(10)
        self.listener.cleanup()


def test_declares_its_capabilities(make_transport):
    caps = make_transport().driver.capabilities
    assert {Capability.REQUEUE, Capability.POOLS, Capability.DEAD_LETTER,
            Capability.MANDATORY, Capability.MULTI_PROCESS, Capability.DURABLE,
            Capability.CALL_MONITOR} <= caps
    assert Capability.MULTI_HOST not in caps


def test_call_cast_and_context(make_transport):
    client, server_t = make_transport(), make_transport()
    seen = []
    server = Server(server_t, Target(topic="t", server="s"), {
        "echo": lambda m: m.reply({"args": m.message["args"], "ctxt": m.ctxt}),
        "cast": lambda m: seen.append(m.message["args"]),
    })
    try:
        assert client._send(Target(topic="t"), {"user": "bob"},
                            {"method": "echo", "args": {"a": 1}},
                            wait_for_reply=True, timeout=5) == {"args": {"a": 1},
                                                                "ctxt": {"user": "bob"}}
        client._send(Target(topic="t", server="s"), {}, {"method": "cast", "args": {"b": 2}})
        assert client._send(Target(topic="t", server="s"), {}, {"method": "echo", "args": {}},
                            wait_for_reply=True, timeout=5)["args"] == {}
        assert seen == [{"b": 2}]
    finally:
        server.stop()


def test_remote_failure_is_raised(make_transport):
    client, server_t = make_transport(), make_transport()

    def fail(msg: Any) -> None:
        try:
            raise ValueError("bad value 42")
        except ValueError as exc:
            msg.reply(failure=serialize_remote_exception(exc))

    server = Server(server_t, Target(topic="t", server="s"), {"fail": fail})
    try:
        with pytest.raises(ValueError, match="bad value 42"):
            client._send(Target(topic="t"), {}, {"method": "fail", "args": {}},
                         wait_for_reply=True, timeout=5)
    finally:
        server.stop()


def test_call_times_out_in_time_and_the_request_expires(make_transport):
    client = make_transport()
    listener_t = make_transport()
    listener = listener_t._listen(Target(topic="late", server="s"))
    start = time.monotonic()
    with pytest.raises(MessagingTimeout):
        client._send(Target(topic="late"), {}, {"method": "m", "args": {}},
                     wait_for_reply=True, timeout=0.3)
    assert time.monotonic() - start < 5.0  # 0.3 s and some; a stalled host still passes
    # Nobody polled before the timeout: the request expired instead of running late.
    assert listener.poll(timeout=0.3) == []
    listener.cleanup()


def test_call_monitor_heartbeats_keep_a_long_call_alive(make_transport):
    client, server_t = make_transport(), make_transport()
    release = threading.Event()
    monitor = 1.5  # a heartbeat every 0.1 s: only a stall of over 1.4 s breaks the call

    def slow(msg: Any) -> None:
        def work() -> None:
            end = time.monotonic() + monitor * 1.5  # outlives the monitor timeout
            while time.monotonic() < end:
                msg.heartbeat()
                if release.wait(0.1):
                    break
            msg.reply("done")
        threading.Thread(target=work, daemon=True).start()

    server = Server(server_t, Target(topic="t", server="s"), {"slow": slow})
    try:
        result = client._send(Target(topic="t"), {}, {"method": "slow", "args": {}},
                              wait_for_reply=True, timeout=10, call_monitor_timeout=monitor)
        assert result == "done"
    finally:
        release.set()
        server.stop()


def test_call_monitor_times_out_without_heartbeats(make_transport):
    client, server_t = make_transport(), make_transport()
    server = Server(server_t, Target(topic="t", server="s"), {"silent": lambda m: None})
    try:
        start = time.monotonic()
        with pytest.raises(MessagingTimeout, match="heartbeat"):
            client._send(Target(topic="t"), {}, {"method": "silent", "args": {}},
                         wait_for_reply=True, timeout=10, call_monitor_timeout=0.3)
        assert time.monotonic() - start < 8  # the monitor's 0.3 s, well before the 10 s
    finally:
        server.stop()


def test_fanout_reaches_every_server(make_transport):
    client = make_transport()
    got: list[tuple[str, Any]] = []
    done = threading.Semaphore(0)

    def handler(name: str) -> Any:
        def handle(msg: Any) -> None:
            got.append((name, msg.message["args"]))
            done.release()
        return handle

    servers = [Server(make_transport(), Target(topic="f", server=name), {"n": handler(name)})
               for name in ("a", "b")]
    try:
        client._send(Target(topic="f", fanout=True), {}, {"method": "n", "args": {"x": 1}})
        assert done.acquire(timeout=5) and done.acquire(timeout=5)
        assert sorted(got) == [("a", {"x": 1}), ("b", {"x": 1})]
    finally:
        for server in servers:
            server.stop()


def test_at_least_once_fails_fast_without_a_listener(make_transport):
    client = make_transport()
    options = TransportOptions(at_least_once=True)
    with pytest.raises(MessageUndeliverable):
        client._send(Target(topic="nobody"), {}, {"method": "m", "args": {}},
                     transport_options=options)
    with pytest.raises(MessageUndeliverable):
        client._send(Target(topic="nobody", fanout=True), {}, {"method": "m", "args": {}},
                     transport_options=options)
    listener = make_transport()._listen(Target(topic="nobody", server="s"))
    client._send(Target(topic="nobody"), {}, {"method": "m", "args": {}},
                 transport_options=options)
    assert [m.message["method"] for m in listener.poll(timeout=2)] == ["m"]
    listener.cleanup()


def test_unencodable_values_fail_at_send(make_transport):
    client = make_transport()
    with pytest.raises(TypeError):
        client._send(Target(topic="t"), {}, {"method": "m", "args": {"x": object()}})


def test_notifications_are_stored_for_a_late_listener(make_transport):
    publisher, consumer = make_transport(), make_transport()
    note(publisher, "late", 1)
    listener = consumer._listen_for_notifications([(Target(topic="late"), "info")])
    [msg] = listener.poll(timeout=2)
    assert msg.message["payload"] == {"n": 1} and msg.ctxt == {"user": "u"}
    assert msg.delivery_count == 1
    msg.acknowledge()
    assert listener.poll(timeout=0.2) == []
    listener.cleanup()


def test_each_pool_gets_one_copy_shared_by_its_listeners(make_transport):
    publisher = make_transport()
    targets = [(Target(topic="p"), "info")]
    a1 = make_transport()._listen_for_notifications(targets, pool="A")
    a2 = make_transport()._listen_for_notifications(targets, pool="A")
    b = make_transport()._listen_for_notifications(targets, pool="B")
    for n in range(10):
        note(publisher, "p", n)

    def take(listener: Any, limit: int) -> list[int]:
        out = []
        for msg in listener.poll(timeout=2, batch_size=limit, batch_timeout=0.05):
            out.append(msg.message["payload"]["n"])
            msg.acknowledge()
        return out

    first = take(a1, 4)
    rest = take(a2, 10)
    assert len(first) == 4 and sorted(first + rest) == list(range(10))
    assert sorted(take(b, 10)) == list(range(10))
    for listener in (a1, a2, b):
        listener.cleanup()


def test_priorities_are_separate_queues(make_transport):
    publisher, consumer = make_transport(), make_transport()
    errors = consumer._listen_for_notifications([(Target(topic="prio"), "error")])
    note(publisher, "prio", 1, "info")
    note(publisher, "prio", 2, "error")
    assert [m.message["payload"]["n"] for m in errors.poll(timeout=2, batch_size=5)] == [2]
    errors.cleanup()


def test_requeue_redelivers_with_a_higher_count(make_transport):
    publisher, consumer = make_transport(), make_transport()
    listener = consumer._listen_for_notifications([(Target(topic="rq"), "info")])
    note(publisher, "rq", 1)
    [msg] = listener.poll(timeout=2)
    msg.requeue()
    [again] = listener.poll(timeout=2)
    assert again.message["payload"] == {"n": 1} and again.delivery_count == 2
    again.acknowledge()
    msg.acknowledge()  # a second settle of the first delivery is a no-op
    assert listener.poll(timeout=0.2) == []
    listener.cleanup()


def dead_letters(db_path: Any) -> list[tuple[str, str]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT queue, reason FROM dead_letters ORDER BY id").fetchall()


def test_dead_letter_keeps_the_message_with_its_reason(make_transport, db_path):
    publisher, consumer = make_transport(), make_transport()
    listener = consumer._listen_for_notifications([(Target(topic="dl"), "info")])
    note(publisher, "dl", 1)
    [msg] = listener.poll(timeout=2)
    msg.dead_letter("handler gave up")
    assert listener.poll(timeout=0.2) == []
    assert dead_letters(db_path) == [("openstack/dl.info", "handler gave up")]
    listener.cleanup()


def test_malformed_rows_are_dead_lettered_not_returned(make_transport, db_path):
    publisher, consumer = make_transport(), make_transport()
    listener = consumer._listen_for_notifications([(Target(topic="bad"), "info")])
    with sqlite3.connect(db_path) as conn:  # what a buggy foreign writer might leave
        conn.execute("INSERT INTO messages (queue, body, created_at) VALUES "
                     "('openstack/bad.info', 'not json', 0), "
                     "('openstack/bad.info', '{\"payload\": 1}', 0)")
    note(publisher, "bad", 7)
    got = listener.poll(timeout=2, batch_size=5, batch_timeout=0.2)
    assert [m.message["payload"] for m in got] == [{"n": 7}]
    reasons = [reason for _queue, reason in dead_letters(db_path)]
    assert len(reasons) == 2 and all(r.startswith("MalformedMessage: ") for r in reasons)
    listener.cleanup()


def test_poison_message_is_dead_lettered_after_max_deliveries(make_transport, db_path):
    publisher, consumer = make_transport(), make_transport(max_deliveries=2)
    listener = consumer._listen_for_notifications([(Target(topic="poison"), "info")])
    note(publisher, "poison", 1)
    for _ in range(2):
        [msg] = listener.poll(timeout=2)
        msg.requeue()
    assert listener.poll(timeout=0.3) == []
    [(queue, reason)] = dead_letters(db_path)
    assert queue == "openstack/poison.info" and "max_deliveries=2" in reason
    listener.cleanup()


def test_prefetch_bounds_unsettled_messages(make_transport):
    publisher, consumer = make_transport(), make_transport()
    listener = consumer._listen_for_notifications([(Target(topic="pf"), "info")])
    listener.prefetch = 2
    for n in range(5):
        note(publisher, "pf", n)
    held = listener.poll(timeout=2, batch_size=5, batch_timeout=0.1)
    assert len(held) == 2
    assert listener.poll(timeout=0.2, batch_size=5) == []
    # Settling from another thread frees capacity and wakes the waiting poll.
    threading.Timer(0.1, held[0].acknowledge).start()
    start = time.monotonic()
    more = listener.poll(timeout=10, batch_size=5)
    assert len(more) == 1 and time.monotonic() - start < 5
    listener.cleanup()


def test_poll_returns_on_timeout_and_wakes_on_stop(make_transport):
    listener = make_transport()._listen_for_notifications([(Target(topic="idle"), "info")])
    start = time.monotonic()
    assert listener.poll(timeout=0.3) == []
    assert 0.25 <= time.monotonic() - start < 5
    threading.Timer(0.2, listener.stop).start()
    start = time.monotonic()
    assert listener.poll(timeout=30) == []
    assert time.monotonic() - start < 10  # woken by stop(), long before the 30 s
    listener.cleanup()


def test_a_publish_wakes_a_waiting_listener_promptly(make_transport):
    publisher = make_transport(poll_interval=10)  # the safety net would take 10 s
    listener = make_transport(poll_interval=10)._listen_for_notifications(
        [(Target(topic="wake"), "info")])
    threading.Timer(0.1, note, (publisher, "wake", 1)).start()
    start = time.monotonic()
    # Unwoken, the poll would only look again at its 9 s timeout (the safety
    # net is 10 s): anything well under that is the wake-up.
    assert len(listener.poll(timeout=9)) == 1
    assert time.monotonic() - start < 5
    listener.cleanup()


def test_stopped_listener_hands_back_unsettled_messages(make_transport):
    publisher = make_transport()
    first = make_transport()._listen_for_notifications([(Target(topic="hb"), "info")], "p")
    second = make_transport()._listen_for_notifications([(Target(topic="hb"), "info")], "p")
    note(publisher, "hb", 1)
    [msg] = first.poll(timeout=2)
    first.stop()
    first.cleanup()
    [again] = second.poll(timeout=2)
    assert again.message["payload"] == {"n": 1}
    msg.acknowledge()  # too late: logged, not raised, and the new holder keeps it
    again.acknowledge()
    second.cleanup()


def test_messages_survive_every_transport_closing(make_transport, make_url):
    from oslo_config import cfg

    from msgframework.transport import get_rpc_transport

    publisher = get_rpc_transport(cfg.ConfigOpts(), make_url())
    note(publisher, "durable", 1)
    publisher.cleanup()
    listener = make_transport()._listen_for_notifications([(Target(topic="durable"), "info")])
    assert [m.message["payload"] for m in listener.poll(timeout=2)] == [{"n": 1}]
    listener.cleanup()


def test_a_locked_file_fails_the_send_after_its_retries(make_transport, db_path):
    from msgframework.exceptions import MessageDeliveryFailure

    client = make_transport(busy_timeout=0.05)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        with pytest.raises(MessageDeliveryFailure, match="after 3 attempt") as info:
            client._send(Target(topic="locked"), {}, {"method": "m", "args": {}}, retry=2)
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(MessageDeliveryFailure, match="after 1 attempt"):
            client._send_notification(
                Target(topic="locked.info"), {}, {"event_type": "e", "priority": "INFO",
                                                  "payload": {}}, 2.0, retry=0)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # Nothing half-sent: the failed attempts left no message behind.
    listener = make_transport()._listen(Target(topic="locked", server="s"))
    assert listener.poll(timeout=0.2) == []
    client._send(Target(topic="locked"), {}, {"method": "m", "args": {}}, retry=0)
    assert len(listener.poll(timeout=2)) == 1
    listener.cleanup()


def _rows(db_path: Any, queue: str) -> int:
    with sqlite3.connect(str(db_path)) as conn:
        return conn.execute("SELECT COUNT(*) FROM messages WHERE queue = ?",
                            (queue,)).fetchone()[0]


def test_queue_policy_bounds_the_file_while_nobody_reads(make_transport, db_path):
    """Store-time enforcement: an unread queue holds max_length rows, not every message."""
    from msgframework.drivers.base import QueuePolicy

    producer = make_transport()
    listener = make_transport()._listen_for_notifications(
        [(Target(topic="inbox"), "info")], queue_policy=QueuePolicy(max_length=5))
    for n in range(40):
        note(producer, "inbox", n)
    assert _rows(db_path, "openstack/inbox.info") == 5
    got = listener.poll(timeout=5, batch_size=10, batch_timeout=0)
    assert [m.message["payload"]["n"] for m in got] == [35, 36, 37, 38, 39]
    for m in got:
        m.acknowledge()


def test_queue_policy_ttl_rows_are_removed_as_new_ones_come(make_transport, db_path):
    from msgframework.drivers.base import QueuePolicy

    producer = make_transport()
    make_transport()._listen_for_notifications(
        [(Target(topic="short"), "info")], queue_policy=QueuePolicy(message_ttl=0.1))
    note(producer, "short", 1)
    with sqlite3.connect(str(db_path)) as conn:
        created, expires = conn.execute(
            "SELECT created_at, expires_at FROM messages WHERE queue = ?",
            ("openstack/short.info",)).fetchone()
    assert expires == pytest.approx(created + 0.1)  # stamped when stored
    with sqlite3.connect(str(db_path)) as conn:  # as if it had been stored long ago
        conn.execute("UPDATE messages SET expires_at = expires_at - 3600")
    note(producer, "short", 2)
    assert _rows(db_path, "openstack/short.info") == 1  # the expired head went


def test_a_file_without_the_policy_table_gets_it(make_transport, db_path):
    """Files written before queue policies existed are upgraded in place."""
    make_transport().cleanup()
    with sqlite3.connect(str(db_path)) as conn:
        conn.execute("DROP TABLE queue_policies")
    from msgframework.drivers.base import QueuePolicy

    transport = make_transport()
    listener = transport._listen_for_notifications(
        [(Target(topic="old"), "info")], queue_policy=QueuePolicy(max_length=1))
    note(transport, "old", 1)
    note(transport, "old", 2)
    assert [m.message["payload"]["n"] for m in listener.poll(timeout=5)] == [2]
