"""Serializers: NoOp passes through, JsonPayload makes primitives, contexts round-trip."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Any

import pytest

from msgframework.serializer import (
    JsonPayloadSerializer,
    NoOpSerializer,
    RequestContextSerializer,
    to_primitive,
)


class Color(enum.Enum):
    RED = "red"


class WithDict:
    def to_dict(self) -> dict[str, Any]:
        return {"a": {1, 2}}


class Plain:
    def __init__(self) -> None:
        self.when = datetime.date(2024, 1, 2)


def test_noop_passes_everything_through() -> None:
    s = NoOpSerializer()
    obj = object()
    assert s.serialize_entity({}, obj) is obj
    assert s.deserialize_entity({}, obj) is obj
    assert s.serialize_context(obj) is obj
    assert s.deserialize_context(obj) is obj


def test_json_payload_serializer_makes_json_safe_values() -> None:
    value = {"dt": datetime.datetime(2024, 1, 2, 3, 4, 5), "set": {3}, "tuple": (1, 2),
             "uuid": uuid.UUID(int=1), "dec": decimal.Decimal("1.5"), "enum": Color.RED,
             "bytes": b"\xffok", "obj": WithDict(), "plain": Plain(), 1: "intkey"}
    out = JsonPayloadSerializer().serialize_entity({}, value)
    json.dumps(out)  # encodable
    assert out["dt"] == "2024-01-02T03:04:05"
    assert out["set"] == [3] and out["tuple"] == [1, 2]
    assert out["uuid"] == str(uuid.UUID(int=1)) and out["dec"] == "1.5"
    assert out["enum"] == "red" and out["bytes"].endswith("ok")
    assert sorted(out["obj"]["a"]) == [1, 2]
    assert out["plain"] == {"when": "2024-01-02"}
    assert out["1"] == "intkey"


def test_to_primitive_cuts_cycles() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    out = to_primitive(cyclic)
    json.dumps(out)


class Ctx:
    def __init__(self, user: str) -> None:
        self.user = user

    def to_dict(self) -> dict[str, Any]:
        return {"user": self.user}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ctx:
        return cls(d["user"])


def test_request_context_serializer_round_trips_contexts() -> None:
    s = RequestContextSerializer(JsonPayloadSerializer(), context_class=Ctx)
    assert s.serialize_context(Ctx("u")) == {"user": "u"}
    assert s.serialize_context({"user": "d"}) == {"user": "d"}
    assert s.serialize_context(None) == {}
    assert s.deserialize_context({"user": "u"}).user == "u"
    assert s.serialize_entity({}, {1}) == [1]
    with pytest.raises(TypeError, match="to_dict"):
        s.serialize_context(object())


def test_request_context_serializer_round_trips_an_oslo_context() -> None:
    context = pytest.importorskip("oslo_context.context")
    ctxt = context.RequestContext(user_id="u1", project_id="p1", request_id="req-1",
                                  auth_token="tok", is_admin=True, roles=["admin", "reader"],
                                  global_request_id="req-global")
    s = RequestContextSerializer(JsonPayloadSerializer())  # None: oslo's RequestContext
    wire = s.serialize_context(ctxt)
    assert json.loads(json.dumps(wire)) == wire  # what the wire carries
    back = s.deserialize_context(json.loads(json.dumps(wire)))
    assert isinstance(back, context.RequestContext)
    assert (back.user_id, back.project_id, back.request_id, back.global_request_id) == (
        "u1", "p1", "req-1", "req-global")
    assert back.is_admin is True and back.roles == ["admin", "reader"]
    assert back.auth_token == "tok"  # RPC keeps it; notifications send redacted_copy()
    assert back.to_dict() == ctxt.to_dict()
