"""Dispatchers on hand-made IncomingMessages: callbacks, filters, outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from msgframework.drivers.base import IncomingMessage
from msgframework.notify.dispatcher import (
    REJECT,
    BatchNotificationDispatcher,
    NotificationDispatcher,
    NotificationResult,
)
from msgframework.notify.filter import NotificationFilter
from msgframework.serializer import NoOpSerializer


class Incoming(IncomingMessage):
    def _acknowledge(self) -> None: ...
    def _requeue(self) -> None: ...
    def _dead_letter(self, reason: str) -> None: ...


def incoming(priority: Any = "INFO", event_type: str = "a.b", payload: Any = None,
             publisher_id: str = "pub", ctxt: dict[str, Any] | None = None) -> Incoming:
    return Incoming(ctxt or {"user": "u"}, {
        "message_id": "m1", "publisher_id": publisher_id, "event_type": event_type,
        "priority": priority, "payload": payload if payload is not None else {"k": 1},
        "timestamp": "2024-01-01 00:00:00.000001"})


class Endpoint:
    def __init__(self, result: Any = None, filter_rule: Any = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.result = result
        if filter_rule is not None:
            self.filter_rule = filter_rule

    def info(self, *args: Any) -> Any:
        self.calls.append(args)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    warn = info


def test_callback_arguments() -> None:
    ep = Endpoint()
    outcome = NotificationDispatcher([ep]).dispatch(incoming())
    assert outcome.result == NotificationResult.HANDLED
    assert ep.calls == [({"user": "u"}, "pub", "a.b", {"k": 1},
                         {"message_id": "m1", "timestamp": "2024-01-01 00:00:00.000001"})]


def test_supported_priorities_are_those_implemented() -> None:
    class Errors:
        def error(self, *args: Any) -> None: ...
    assert NotificationDispatcher([Endpoint(), Errors()]).supported_priorities == [
        "info", "warn", "error"]


def test_no_priority_method_is_refused() -> None:
    with pytest.raises(ValueError, match="no endpoint"):
        NotificationDispatcher([object()])


@pytest.mark.parametrize("priority", ["INFO", "info", "WARN", "WARNING", "warning"])
def test_priority_is_case_insensitive_and_warning_is_warn(priority: str) -> None:
    ep = Endpoint()
    assert NotificationDispatcher([ep]).dispatch(incoming(priority)).result == "handled"
    assert len(ep.calls) == 1


@pytest.mark.parametrize(("priority", "why"), [("BOGUS", "unknown priority"),
                                               ("ERROR", "no endpoint handles"),
                                               (None, "no priority"), (3, "no priority")])
def test_unknown_or_unhandled_priority_is_rejected(priority: Any, why: str) -> None:
    ep = Endpoint()
    outcome = NotificationDispatcher([ep]).dispatch(incoming(priority))
    assert outcome.result == REJECT
    assert why in outcome.reason
    assert ep.calls == []


def test_requeue_result_and_exception_stop_the_walk() -> None:
    first, second = Endpoint(NotificationResult.REQUEUE), Endpoint()
    outcome = NotificationDispatcher([first, second]).dispatch(incoming())
    assert outcome.result == NotificationResult.REQUEUE
    assert "returned REQUEUE" in outcome.reason
    assert second.calls == []
    failing = Endpoint(RuntimeError("db down"))
    outcome = NotificationDispatcher([failing, second]).dispatch(incoming())
    assert outcome.result == NotificationResult.REQUEUE
    assert "db down" in outcome.reason
    assert second.calls == []


def test_filter_rule_selects_endpoints() -> None:
    computes = Endpoint(filter_rule=NotificationFilter(event_type=r"compute\."))
    everyone = Endpoint()
    dispatcher = NotificationDispatcher([computes, everyone])
    dispatcher.dispatch(incoming(event_type="volume.create"))
    dispatcher.dispatch(incoming(event_type="compute.start"))
    assert [c[2] for c in computes.calls] == ["compute.start"]
    assert [c[2] for c in everyone.calls] == ["volume.create", "compute.start"]
    # a filter on the context sees the wire dict
    by_user = Endpoint(filter_rule=NotificationFilter(context={"user": "u$"}))
    NotificationDispatcher([by_user]).dispatch(incoming())
    assert len(by_user.calls) == 1


def test_nobody_wanting_a_message_is_handled() -> None:
    ep = Endpoint(filter_rule=NotificationFilter(publisher_id="nobody"))
    assert NotificationDispatcher([ep]).dispatch(incoming()).result == "handled"


def test_serializer_failure_rejects() -> None:
    class Broken(NoOpSerializer):
        def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
            raise ValueError("bad payload")
    outcome = NotificationDispatcher([Endpoint()], Broken()).dispatch(incoming())
    assert outcome.result == REJECT
    assert "bad payload" in outcome.reason


class BatchEndpoint:
    def __init__(self, result: Any = None) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.result = result

    def info(self, batch: list[dict[str, Any]]) -> Any:
        self.batches.append(batch)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result

    def error(self, batch: list[dict[str, Any]]) -> Any:
        self.batches.append(batch)
        return NotificationResult.REQUEUE


def test_batch_groups_by_priority_and_settles_per_group() -> None:
    ep = BatchEndpoint()
    messages = [incoming("INFO", "a"), incoming("ERROR", "b"), incoming("INFO", "c"),
                incoming("BOGUS", "d")]
    outcomes = BatchNotificationDispatcher([ep]).dispatch_batch(messages)
    assert [o.result for o in outcomes] == ["handled", "requeue", "handled", REJECT]
    assert [[m["event_type"] for m in b] for b in ep.batches] == [["a", "c"], ["b"]]
    assert set(ep.batches[0][0]) == {"ctxt", "publisher_id", "event_type", "payload",
                                     "metadata"}


def test_batch_exception_requeues_the_group() -> None:
    ep = BatchEndpoint(RuntimeError("boom"))
    outcomes = BatchNotificationDispatcher([ep]).dispatch_batch(
        [incoming("INFO", "a"), incoming("INFO", "b")])
    assert [o.result for o in outcomes] == ["requeue", "requeue"]
    assert "boom" in outcomes[0].reason


def test_batch_filter_applies_per_message() -> None:
    ep = BatchEndpoint()
    ep.filter_rule = NotificationFilter(event_type="keep")  # type: ignore[attr-defined]
    BatchNotificationDispatcher([ep]).dispatch_batch(
        [incoming("INFO", "keep.1"), incoming("INFO", "drop"), incoming("INFO", "keep.2")])
    assert [[m["event_type"] for m in b] for b in ep.batches] == [["keep.1", "keep.2"]]
