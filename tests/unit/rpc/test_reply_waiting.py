"""Reply routing the client relies on (drivers/common.py ReplyWaiters)."""

from __future__ import annotations

import threading

import pytest

from msgframework.drivers.common import Reply, ReplyWaiters
from msgframework.exceptions import MessagingTimeout


def test_duplicate_replies_are_ignored():
    waiters = ReplyWaiters()
    waiters.listen("m1")
    try:
        assert waiters.deliver("m1", Reply(result=1, unique_id="u1"))
        assert waiters.deliver("m1", Reply(result=1, unique_id="u1"))  # redelivered copy
        assert waiters.wait("m1", 1) == 1
        with pytest.raises(MessagingTimeout):
            waiters.wait("m1", 0.05)  # the copy was not queued
    finally:
        waiters.unlisten("m1")


def test_replies_routed_to_their_own_caller_across_threads():
    waiters = ReplyWaiters()
    ids = [f"m{i}" for i in range(20)]
    for msg_id in ids:
        waiters.listen(msg_id)
    results: dict[str, object] = {}

    def wait(msg_id: str) -> None:
        results[msg_id] = waiters.wait(msg_id, 5)

    threads = [threading.Thread(target=wait, args=(m,)) for m in ids]
    for t in threads:
        t.start()
    for msg_id in reversed(ids):
        waiters.deliver(msg_id, Reply(result=msg_id.upper(), unique_id=msg_id))
    for t in threads:
        t.join(10)
    assert results == {m: m.upper() for m in ids}
    assert not waiters.deliver("unknown", Reply(result=1))


def test_a_failed_request_fails_the_waiting_call_at_once():
    """A driver that learns its request was not delivered (nacked, returned,
    connection lost past its retries) fails the waiter instead of letting it
    run into its timeout; a reply that already arrived wins."""
    from msgframework.exceptions import MessageUndeliverable

    waiters = ReplyWaiters()
    waiters.listen("lost")
    waiters.listen("answered")
    failed = threading.Thread(
        target=waiters.fail, args=("lost", MessageUndeliverable(None, "x", "k", "")))
    try:
        failed.start()
        with pytest.raises(MessageUndeliverable):
            waiters.wait("lost", 30)
        waiters.deliver("answered", Reply(result=2, unique_id="u"))
        waiters.fail("answered", MessageUndeliverable(None, "x", "k", ""))
        assert waiters.wait("answered", 1) == 2
        waiters.fail("nobody", MessageUndeliverable(None, "x", "k", ""))  # no-op
    finally:
        failed.join(5)
        waiters.unlisten("lost")
        waiters.unlisten("answered")
