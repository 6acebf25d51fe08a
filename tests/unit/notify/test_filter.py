"""NotificationFilter: oslo's matching rules and the & | ^ ~ algebra."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from msgframework.notify.filter import NotificationFilter

MSG: dict[str, Any] = {
    "context": {"user": "alice", "project": "p1", "count": 3},
    "publisher_id": "compute.host1",
    "event_type": "compute.instance.create.end",
    "metadata": {"message_id": "abc", "timestamp": "2024-01-01 00:00:00"},
    "payload": {"state": "active", "size": 10},
}


def matches(f: Any, **changes: Any) -> bool:
    msg = {**MSG, **changes}
    return f.match(msg["context"], msg["publisher_id"], msg["event_type"],
                   msg["metadata"], msg["payload"])


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({}, True),
    ({"publisher_id": "compute"}, True),                 # re.match: anchored at start only
    ({"publisher_id": "host1"}, False),
    ({"publisher_id": "compute$"}, False),
    ({"event_type": r"compute\.instance\..*\.end$"}, True),
    ({"event_type": "volume"}, False),
    ({"context": {"user": "ali"}}, True),
    ({"context": {"user": "bob"}}, False),
    ({"context": {"missing": ".*"}}, False),              # a missing key never matches
    ({"context": {"count": "3"}}, False),                 # nor a value that is not text
    ({"metadata": {"message_id": "abc$"}}, True),
    ({"payload": {"state": "active", "size": ".*"}}, False),
    ({"payload": {"state": "act"}}, True),
    ({"publisher_id": "compute", "event_type": "volume"}, False),  # all must match
])
def test_criteria(kwargs: dict[str, Any], expected: bool) -> None:
    assert matches(NotificationFilter(**kwargs)) is expected


def test_payload_that_is_not_a_dict_does_not_match_payload_rules() -> None:
    assert not matches(NotificationFilter(payload={"a": "b"}), payload="text")
    assert matches(NotificationFilter(event_type="compute"), payload="text")


def test_context_object_with_to_dict_is_matched_by_its_dict() -> None:
    class Ctx:
        def to_dict(self) -> dict[str, str]:
            return {"user": "alice"}
    assert matches(NotificationFilter(context={"user": "alice"}), context=Ctx())


YES = NotificationFilter(publisher_id="compute")
NO = NotificationFilter(publisher_id="network")


@pytest.mark.parametrize(("a", "b"), list(itertools.product([True, False], repeat=2)))
def test_truth_tables(a: bool, b: bool) -> None:
    fa, fb = (YES if a else NO), (YES if b else NO)
    assert matches(fa & fb) is (a and b)
    assert matches(fa | fb) is (a or b)
    assert matches(fa ^ fb) is (a != b)
    assert matches(~fa) is (not a)
    assert matches(~(fa & fb)) is (not (a and b))


def test_nested_composition() -> None:
    compute = NotificationFilter(event_type=r"compute\.")
    deletes = NotificationFilter(event_type=r".*\.delete\.")
    wanted = compute & ~deletes
    assert matches(wanted)
    assert not matches(wanted, event_type="compute.instance.delete.end")
    assert not matches(wanted, event_type="volume.create")
    assert matches(wanted | NotificationFilter(event_type="volume"), event_type="volume.x")
    assert "compute" in repr(wanted)


def test_short_circuit_skips_right_side() -> None:
    class Boom(NotificationFilter):
        def match(self, *args: Any) -> bool:
            raise AssertionError("evaluated")
    assert not matches(NO & Boom())
    assert matches(YES | Boom())


@pytest.mark.parametrize("kwargs", [{"event_type": "("}, {"payload": {"a": "[z-a]"}}])
def test_invalid_regex_is_a_clear_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        NotificationFilter(**kwargs)


def test_bad_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="publisher_id"):
        NotificationFilter(publisher_id=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="context"):
        NotificationFilter(context="user")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="combines"):
        YES & "x"  # type: ignore[operator]
