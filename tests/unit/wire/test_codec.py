"""jsonutil, envelope and context: encoding rules and malformed input."""

from __future__ import annotations

import datetime
import decimal
import json

import pytest

from msgframework.exceptions import MalformedMessage
from msgframework.wire import context, envelope, jsonutil


def test_dumps_is_compact_and_encodes_datetimes_like_oslo():
    value = {"at": datetime.datetime(1920, 2, 3, 4, 5, 6, 7), "d": datetime.date(2020, 1, 2)}
    assert jsonutil.dumps(value) == '{"at":"1920-02-03T04:05:06.000007","d":"2020-01-02"}'


def test_dumps_converts_aware_datetimes_to_naive_utc():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    value = datetime.datetime(2020, 1, 1, 12, 0, tzinfo=tz)
    assert jsonutil.dumps(value) == '"2020-01-01T10:00:00.000000"'


@pytest.mark.parametrize("value", [object(), {1, 2}, decimal.Decimal("1.5"), b"raw"])
def test_dumps_refuses_what_json_cannot_encode_naming_the_type(value):
    with pytest.raises(TypeError, match=type(value).__name__):
        jsonutil.dumps({"x": value})


def test_loads_accepts_str_and_utf8_bytes():
    assert jsonutil.loads('{"a":"é"}') == {"a": "é"}
    assert jsonutil.loads('{"a":"é"}'.encode()) == {"a": "é"}


@pytest.mark.parametrize("data, problem", [
    ("{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    (42, "expected JSON text"),
])
def test_loads_raises_malformed_message_naming_the_problem(data, problem):
    with pytest.raises(MalformedMessage, match=problem):
        jsonutil.loads(data)


def test_serialize_msg_wraps_in_a_2_0_envelope():
    env = envelope.serialize_msg({"method": "m"})
    assert env == {"oslo.version": "2.0", "oslo.message": '{"method":"m"}'}
    assert envelope.deserialize_msg(env) == {"method": "m"}


@pytest.mark.parametrize("obj", [[1, 2], "text", {"oslo.version": "2.0"}, {"method": "m"}])
def test_deserialize_msg_returns_non_envelopes_unchanged(obj):
    assert envelope.deserialize_msg(obj) is obj


@pytest.mark.parametrize("version", ["3.0", "2.1", "1.0", 2.0, None, "two"])
def test_deserialize_msg_refuses_incompatible_envelope_versions(version):
    with pytest.raises(MalformedMessage, match="unsupported envelope version"):
        envelope.deserialize_msg({"oslo.version": version, "oslo.message": "{}"})


def test_deserialize_msg_refuses_a_non_text_inner_message():
    with pytest.raises(MalformedMessage, match="oslo.message"):
        envelope.deserialize_msg({"oslo.version": "2.0", "oslo.message": {"a": 1}})


def test_encode_body_double_encodes_for_2_0_and_not_for_1_0():
    msg = {"event_type": "e", "n": 1}
    body2 = envelope.encode_body(msg)
    outer = json.loads(body2)
    assert set(outer) == {"oslo.version", "oslo.message"}
    assert json.loads(outer["oslo.message"]) == msg
    assert json.loads(envelope.encode_body(msg, 1.0)) == msg
    assert envelope.decode_body(body2) == msg
    assert envelope.decode_body(envelope.encode_body(msg, 1.0).encode()) == msg


def test_encode_body_refuses_unknown_versions():
    with pytest.raises(ValueError, match="3.0"):
        envelope.encode_body({}, 3.0)


@pytest.mark.parametrize("body, problem", [
    ("[1]", "JSON list, not an object"),
    ('{"oslo.version":"2.0","oslo.message":"[1]"}', "enveloped message is a JSON list"),
    ('{"oslo.version":"2.0","oslo.message":"{bad"}', "not valid JSON"),
    ('{"oslo.version":"9.0","oslo.message":"{}"}', "unsupported envelope version '9.0'"),
])
def test_decode_body_raises_malformed_message(body, problem):
    with pytest.raises(MalformedMessage, match=problem):
        envelope.decode_body(body)


class _Ctx:
    def to_dict(self):
        return {"user": "u", "request_id": "req-1"}


def test_pack_context_flattens_dicts_and_to_dict_objects():
    msg = {"a": 1}
    context.pack_context(msg, _Ctx())
    assert msg == {"a": 1, "_context_user": "u", "_context_request_id": "req-1"}
    msg = {}
    context.pack_context(msg, None)
    assert msg == {}


def test_pack_context_refuses_other_objects():
    with pytest.raises(TypeError, match="int"):
        context.pack_context({}, 5)


def test_unpack_context_splits_without_touching_the_input():
    raw = {"a": 1, "_context_user": "u", "_context_": "empty key"}
    ctxt, rest = context.unpack_context(raw)
    assert ctxt == {"user": "u", "": "empty key"}
    assert rest == {"a": 1}
    assert "_context_user" in raw


def test_dumps_reports_cycles_as_value_error():
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="Circular"):
        jsonutil.dumps({"x": cyclic})


@pytest.mark.parametrize("text", ['  {"a": 1}', '{"a": 1}\n ', '\t[1]\t'])
def test_loads_tolerates_surrounding_whitespace(text):
    assert jsonutil.loads(text) in ({"a": 1}, [1])


@pytest.mark.parametrize("text", ['{"a": 1} x', "", "   ", "{"])
def test_loads_rejects_extra_or_missing_data(text):
    with pytest.raises(MalformedMessage, match="not valid JSON"):
        jsonutil.loads(text)


def test_dumps_matches_the_standard_encoder_byte_for_byte():
    value = {"s": "é\n\"\u2028\x00", "f": [0.1, -0.0, 1e300, 2**70], "n": None, "t": True,
             "nan": float("nan"), "nested": {"k": [{"a": []}]}}
    assert jsonutil.dumps(value) == json.dumps(value, separators=(",", ":"))
