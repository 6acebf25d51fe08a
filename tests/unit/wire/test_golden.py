"""Pin our encoders to the bodies the real oslo.messaging 18.3.1 published.

The goldens under ``golden/`` come from ``tests/interop/capture_golden.py``.
Each test builds the same message with msgframework, normalises it with the
same placeholder rules, and compares; then decodes the real body verbatim.
No oslo.messaging needed here.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import sys
import uuid
from typing import Any

import pytest

from msgframework.exceptions import RemoteError
from msgframework.wire import envelope, failures, notification, rpc

GOLDEN = pathlib.Path(__file__).parent / "golden"
CONTEXT = {"user": "alice", "project_id": "p1", "request_id": "req-123"}
STAMP = datetime.datetime(1920, 2, 3, 4, 5, 6, 7)
TARGET = {"namespace": "golden_ns", "version": "1.2"}

_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_REPLY_Q = re.compile(r"^reply_[0-9a-f]{32}$")
_NAIVE_TS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$")


def _norm(key: str | None, value: Any) -> Any:
    """The placeholder rules of capture_golden.py."""
    if isinstance(value, dict):
        return {k: _norm(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(None, v) for v in value]
    if not isinstance(value, str):
        return value
    if key == "failure":
        failure = json.loads(value)
        tb = failure["tb"]
        failure["tb"] = [tb[0], "<frames>", tb[-1]] if tb else []
        return {"<json>": failure}
    for pattern, placeholder in ((_HEX32, "<uuid4hex>"), (_UUID, "<uuid4>"),
                                 (_REPLY_Q, "reply_<uuid4hex>"), (_NAIVE_TS, "<utcnow>")):
        if pattern.match(value):
            return placeholder
    return value


def _golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / f"{name}.json").read_text())


def _assert_matches(name: str, msg: dict[str, Any], version: float = 2.0) -> None:
    """Encode ``msg`` as a driver would and compare it with the golden."""
    golden = _golden(name)
    outer = json.loads(envelope.encode_body(msg, version))
    if golden["enveloped"]:
        assert set(outer) == set(golden["envelope"])
        assert outer["oslo.version"] == golden["envelope"]["oslo.version"]
        inner = json.loads(outer["oslo.message"])
    else:
        assert "oslo.version" not in outer
        inner = outer
    assert sorted(inner) == golden["keys"]
    assert _norm(None, inner) == golden["message"]


def _call_ids() -> dict[str, Any]:
    return {"msg_id": uuid.uuid4().hex, "reply_q": "reply_" + uuid.uuid4().hex}


def test_rpc_cast_matches_golden():
    msg = rpc.build_request(CONTEXT, {"method": "note", "args": {"value": [1, "two", None]},
                                      **TARGET})
    _assert_matches("rpc_cast", msg)


def test_rpc_fanout_cast_matches_golden():
    msg = rpc.build_request(CONTEXT, {"method": "note", "args": {"value": "fanout"}, **TARGET})
    _assert_matches("rpc_fanout_cast", msg)


def test_rpc_call_request_matches_golden():
    msg = rpc.build_request(CONTEXT, {"method": "echo",
                                      "args": {"value": {"k": 1.5}, "when": STAMP}, **TARGET},
                            **_call_ids())
    _assert_matches("rpc_call_request", msg)


def test_rpc_call_monitor_request_matches_golden():
    msg = rpc.build_request(CONTEXT, {"method": "slow", "args": {}, **TARGET},
                            call_monitor_timeout=3, **_call_ids())
    _assert_matches("rpc_call_monitor_request", msg)


def test_reply_with_result_matches_golden():
    msg = rpc.build_reply(uuid.uuid4().hex, result={"value": {"k": 1.5}, "when": STAMP})
    _assert_matches("rpc_reply_result", msg)


def test_heartbeat_matches_golden():
    _assert_matches("rpc_heartbeat", rpc.build_heartbeat(uuid.uuid4().hex))


def _raise_in_endpoint(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def test_reply_with_builtin_failure_matches_golden():
    failure = failures.serialize_remote_exception(
        _raise_in_endpoint(ValueError("bad value", 42)))
    _assert_matches("rpc_reply_failure_builtin",
                    rpc.build_reply(uuid.uuid4().hex, failure=failure))


class GoldenError(Exception):
    def __init__(self, message=None, **kwargs):
        super().__init__(message)
        self.kwargs = kwargs


GoldenError.__module__ = "golden_app.errors"


def test_reply_with_custom_failure_matches_golden():
    failure = failures.serialize_remote_exception(
        _raise_in_endpoint(GoldenError("custom failure", code=7)))
    _assert_matches("rpc_reply_failure_custom",
                    rpc.build_reply(uuid.uuid4().hex, failure=failure))


def _notification(driver: str, payload: dict[str, Any]) -> dict[str, Any]:
    message = {"message_id": str(uuid.uuid4()), "publisher_id": "compute.host1",
               "event_type": "compute.instance.create.end", "priority": "INFO",
               "payload": payload, "timestamp": str(datetime.datetime.utcnow())}
    # oslo's notifier sends no context keys for a plain dict context.
    return notification.build_notification({}, message)


def test_notification_v2_matches_golden():
    msg = _notification("messagingv2", {"id": 1, "driver": "messagingv2", "at": STAMP})
    _assert_matches("notification_v2", msg, 2.0)


def test_notification_v1_matches_golden_apart_from_kombu_datetime_tags():
    # oslo hands a v1 body to kombu unencoded, so kombu tags the datetime;
    # we always send oslo's ISO text. Everything else is identical.
    golden = _golden("notification_v1")
    assert golden["message"]["payload"].pop("at")["__type__"] == "datetime"
    msg = _notification("messaging", {"id": 1, "driver": "messaging"})
    outer = json.loads(envelope.encode_body(msg, 1.0))
    assert sorted(outer) == golden["keys"]
    assert _norm(None, outer) == golden["message"]


# -- decoding the real bodies --------------------------------------------------

def _body(name: str) -> str:
    return _golden(name)["body_text"]


@pytest.mark.parametrize("name", ["rpc_cast", "rpc_fanout_cast"])
def test_real_casts_parse(name):
    req = rpc.parse_request(envelope.decode_body(_body(name)))
    assert req.ctxt == CONTEXT
    assert (req.method, req.namespace, req.version) == ("note", "golden_ns", "1.2")
    assert req.msg_id is None and req.reply_q is None
    assert _HEX32.match(req.unique_id)


def test_real_call_request_parses():
    req = rpc.parse_request(envelope.decode_body(_body("rpc_call_request").encode()))
    assert req.ctxt == CONTEXT
    assert req.args == {"value": {"k": 1.5}, "when": "1920-02-03T04:05:06.000007"}
    assert _HEX32.match(req.msg_id) and _REPLY_Q.match(req.reply_q)
    assert req.client_timeout is None
    assert "_msg_id" not in req.message and "_unique_id" not in req.message


def test_real_call_monitor_request_carries_the_monitor_timeout():
    req = rpc.parse_request(envelope.decode_body(_body("rpc_call_monitor_request")))
    assert req.client_timeout == 3


def test_real_replies_parse():
    msg_id, reply = rpc.parse_reply(envelope.decode_body(_body("rpc_reply_result")))
    assert _HEX32.match(msg_id)
    assert (reply.result["when"], reply.failure, reply.ending) == (
        "1920-02-03T04:05:06.000007", None, True)
    _, beat = rpc.parse_reply(envelope.decode_body(_body("rpc_heartbeat")))
    assert (beat.result, beat.failure, beat.ending) == (None, None, False)


def test_real_builtin_failure_rebuilds_as_value_error():
    _, reply = rpc.parse_reply(envelope.decode_body(_body("rpc_reply_failure_builtin")))
    exc = failures.deserialize_remote_exception(reply.failure, [])
    assert isinstance(exc, ValueError)
    assert exc.args == ("bad value", 42)
    assert "Traceback" in str(exc)


def test_real_custom_failure_from_an_unknown_module_is_remote_error():
    _, reply = rpc.parse_reply(envelope.decode_body(_body("rpc_reply_failure_custom")))
    for allowed in ([], ["golden_app.errors"]):   # not allowed / not importable
        exc = failures.deserialize_remote_exception(reply.failure, allowed)
        assert isinstance(exc, RemoteError)
        assert (exc.exc_type, exc.value) == ("GoldenError", "custom failure")
        assert "GoldenError: custom failure" in exc.traceback


@pytest.mark.parametrize("name", ["notification_v1", "notification_v2"])
def test_real_notifications_parse(name):
    ctxt, msg = notification.parse_notification(envelope.decode_body(_body(name)))
    assert ctxt == {}
    assert (msg["event_type"], msg["priority"]) == ("compute.instance.create.end", "INFO")
    assert "_unique_id" not in msg
    # v2 carries oslo's ISO text; v1's kombu tag is untagged into a datetime,
    # as kombu's own consumer would hand it to an oslo.messaging listener.
    expected = STAMP if name == "notification_v1" else "1920-02-03T04:05:06.000007"
    assert msg["payload"]["at"] == expected
