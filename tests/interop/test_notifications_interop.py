"""Notifications between oslo.messaging and msgframework, both ways, on RabbitMQ.

Every test runs twice (``direction``): oslo's Notifier feeding our
listeners, and ours feeding oslo's.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from msgframework.testing.waiting import Recorder, RecordingEndpoint
from tests.interop.conftest import PRIORITIES, Names
from tests.interop.helpers import BatchRecorder, InfoRecorder

pytest.importorskip("oslo_messaging")

pytestmark = pytest.mark.interop

WAIT = 15.0


def _payload(priority: str) -> dict[str, Any]:
    return {"priority": priority, "nested": {"list": [1, "two", None, {"x": 1.5}]},
            "text": "h\u00e9llo \u2713"}


def test_every_priority(direction: tuple[Any, Any], names: Names) -> None:
    sender, receiver = direction
    topic = names.notification_topic()
    endpoint = RecordingEndpoint()
    receiver.listener(topic, [endpoint])
    notifier = sender.notifier(topic, publisher_id=f"{sender.name}.host1")
    ctxt = {"request_id": "req-42", "user": "alice"}
    for priority in PRIORITIES:
        getattr(notifier, priority)(ctxt, f"interop.{priority}", _payload(priority))

    calls = endpoint.wait_for_count(len(PRIORITIES), timeout=WAIT)
    assert sorted(call[0] for call in calls) == sorted(PRIORITIES)
    for priority, got_ctxt, publisher_id, event_type, payload, metadata in calls:
        assert event_type == f"interop.{priority}"
        assert payload == _payload(priority)
        assert publisher_id == f"{sender.name}.host1"
        uuid.UUID(metadata["message_id"])  # oslo's form: str(uuid4())
        datetime.datetime.fromisoformat(metadata["timestamp"])
        if sender.name == "ours":
            # we send dict contexts (oslo sends {}); oslo's listener adds client_timeout
            got_ctxt = {k: v for k, v in got_ctxt.items() if k != "client_timeout"}
            assert got_ctxt == ctxt
        else:
            assert isinstance(got_ctxt, dict)
    assert len({call[5]["message_id"] for call in calls}) == len(PRIORITIES)


def test_warning_alias_and_secrets(direction: tuple[Any, Any], names: Names) -> None:
    """``warning()`` lands on the ``warn`` endpoint; a dict context loses its token."""
    sender, receiver = direction
    topic = names.notification_topic()
    endpoint = RecordingEndpoint()
    receiver.listener(topic, [endpoint])
    notifier = sender.notifier(topic, publisher_id="p")
    notifier.warning({"user": "bob", "auth_token": "s3cr3t"}, "interop.warning", {"n": 1})

    [(priority, ctxt, _pub, event_type, payload, _meta)] = endpoint.wait_for_count(1, WAIT)
    assert (priority, event_type, payload) == ("warn", "interop.warning", {"n": 1})
    assert "auth_token" not in ctxt


@pytest.mark.parametrize("sender_name", ["oslo", "ours"])
def test_pools(sender_name: str, oslo: Any, ours: Any, names: Names) -> None:
    """Each pool gets one copy; a pool shared by oslo and our listeners splits it."""
    sender = {"oslo": oslo, "ours": ours}[sender_name]
    mixed, ours_only, oslo_only = (names.pool("mixed"), names.pool("ours"),
                                   names.pool("oslo"))
    topic = names.notification_topic()
    got_mixed, got_ours, got_oslo = Recorder(), Recorder(), Recorder()
    oslo.listener(topic, [InfoRecorder(got_mixed, "oslo")], pool=mixed)
    ours.listener(topic, [InfoRecorder(got_mixed, "ours")], pool=mixed)
    ours.listener(topic, [InfoRecorder(got_ours, "ours")], pool=ours_only)
    oslo.listener(topic, [InfoRecorder(got_oslo, "oslo")], pool=oslo_only)

    notifier = sender.notifier(topic, publisher_id="pools")
    count = 12
    for n in range(count):
        notifier.info({}, "interop.pool", {"n": n})

    expected = list(range(count))
    for recorder in (got_mixed, got_ours, got_oslo):
        items = recorder.wait_for_count(count, timeout=WAIT)
        assert sorted(payload["n"] for _tag, payload in items) == expected
    assert {tag for tag, _payload in got_ours.snapshot()} == {"ours"}
    assert {tag for tag, _payload in got_oslo.snapshot()} == {"oslo"}


def test_batch_listener(direction: tuple[Any, Any], names: Names) -> None:
    """Notifications queued before the batch listener starts come in full batches."""
    sender, receiver = direction
    topic = names.notification_topic()
    notifier = sender.notifier(topic, publisher_id="batch")
    for n in range(10):  # the notifier declares <topic>.info, so they wait there
        notifier.info({"request_id": f"req-{n}"}, "interop.batch", {"n": n})

    endpoint = BatchRecorder()
    receiver.listener(topic, [endpoint], batch_size=5, batch_timeout=5)

    assert endpoint.wait_for(lambda batches: sum(map(len, batches)) >= 10, WAIT), \
        endpoint.snapshot()
    batches = endpoint.snapshot()
    assert [len(batch) for batch in batches] == [5, 5]
    received = [message for batch in batches for message in batch]
    assert sorted(m["payload"]["n"] for m in received) == list(range(10))
    for message in received:
        assert message["event_type"] == "interop.batch"
        assert message["publisher_id"] == "batch"
        assert set(message["metadata"]) >= {"message_id", "timestamp"}
