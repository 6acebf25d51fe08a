"""Closing the SQLite transport while other threads use it, and thread exits.

The race test runs in a child process: closing a sqlite3 connection under a
thread that is using it crashed the interpreter (SIGSEGV), which must fail
the test rather than kill pytest.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.exceptions import TransportDriverError
from msgframework.target import Target
from msgframework.transport import get_rpc_transport

pytestmark = pytest.mark.timeout(60)


def note(transport: Any, topic: str, n: int) -> None:
    transport._send_notification(Target(topic=f"{topic}.info"), {},
                                 {"event_type": "test.n", "priority": "INFO",
                                  "payload": {"n": n}}, 2.0)


def test_cleanup_under_threads_that_acknowledge_and_publish_never_crashes(make_url, spawn):
    child = spawn("cleanup-race", make_url(), "race", "15")
    done = child.expect("done", timeout=50)
    code = child.finish()
    assert code == 0, f"the child died with {code} (negative: killed by that signal)"
    assert done["acked"] > 0, "the workers never got going: the race was not exercised"
    # Each worker stopped on the clear error, nothing else; settling never raised.
    assert set(done["errors"]) <= {"TransportDriverError: closed"}, done["errors"]
    assert done["logged"] == []


def test_operations_after_cleanup_raise_transport_closed(make_url):
    transport = get_rpc_transport(cfg.ConfigOpts(), make_url())
    listener = transport._listen_for_notifications([(Target(topic="after"), "info")])
    note(transport, "after", 1)
    [msg] = listener.poll(timeout=5)
    transport.cleanup()
    msg.acknowledge()  # logs, never raises
    assert msg.settled
    with pytest.raises(TransportDriverError, match="transport is closed"):
        note(transport, "after", 2)
    with pytest.raises(TransportDriverError, match="transport is closed"):
        transport._send(Target(topic="after"), {}, {"method": "m", "args": {}},
                        wait_for_reply=True, timeout=1)
    assert listener.poll(timeout=0.1) == []
    transport.cleanup()  # idempotent


def test_unacknowledged_message_of_a_closed_transport_is_delivered_again(make_url):
    first = get_rpc_transport(cfg.ConfigOpts(), make_url())
    listener = first._listen_for_notifications([(Target(topic="back"), "info")], "p")
    note(first, "back", 7)
    [msg] = listener.poll(timeout=5)
    first.cleanup()
    msg.acknowledge()  # too late: the lease was handed back at cleanup
    second = get_rpc_transport(cfg.ConfigOpts(), make_url())
    try:
        other = second._listen_for_notifications([(Target(topic="back"), "info")], "p")
        [again] = other.poll(timeout=5)
        assert again.message["payload"] == {"n": 7} and again.delivery_count == 2
        again.acknowledge()
        other.cleanup()
    finally:
        second.cleanup()


def _open_files_under(directory: Path) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(directory)):
                count += 1
        except OSError:  # closed meanwhile (listdir's own descriptor)
            pass
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_threads_that_come_and_go_leave_no_connections_open(make_url, db_path):
    transport = get_rpc_transport(cfg.ConfigOpts(), make_url())
    try:
        note(transport, "threads", 0)
        before = _open_files_under(db_path.parent)
        for n in range(12):
            thread = threading.Thread(target=note, args=(transport, "threads", n))
            thread.start()
            thread.join(10)
        # Threads taking turns reuse pooled connections (SQLite may keep one spare
        # descriptor of the file); 12 threads keeping theirs would be dozens.
        assert _open_files_under(db_path.parent) <= before + 1
    finally:
        transport.cleanup()
    assert _open_files_under(db_path.parent) == 0
