"""RPC requests, replies and notifications: build/parse and malformed input."""

from __future__ import annotations

import pytest

from msgframework.drivers.common import Reply
from msgframework.exceptions import MalformedMessage
from msgframework.wire import notification, rpc

_UNIQUE_HEX = 32


def test_cast_request_has_no_reply_keys():
    message = {"method": "ping", "args": {"x": 1}}
    raw = rpc.build_request({"user": "u"}, message)
    assert set(raw) == {"method", "args", "_unique_id", "_context_user"}
    assert len(raw["_unique_id"]) == _UNIQUE_HEX
    assert message == {"method": "ping", "args": {"x": 1}}, "input must not be modified"


def test_call_request_carries_reply_routing():
    raw = rpc.build_request({}, {"method": "m", "args": {}, "version": "1.2",
                                 "namespace": "ns"},
                            msg_id="abc", reply_q="reply_q1", call_monitor_timeout=5)
    assert raw["_msg_id"] == "abc"
    assert raw["_reply_q"] == "reply_q1"
    assert raw["_timeout"] == 5
    req = rpc.parse_request(raw)
    assert (req.msg_id, req.reply_q, req.client_timeout) == ("abc", "reply_q1", 5)
    assert req.unique_id == raw["_unique_id"]
    assert req.message == {"method": "m", "args": {}, "version": "1.2", "namespace": "ns"}
    assert (req.method, req.args, req.version, req.namespace) == ("m", {}, "1.2", "ns")


def test_call_without_monitor_timeout_sends_null_timeout():
    raw = rpc.build_request({}, {"method": "m", "args": {}}, msg_id="a", reply_q="q")
    assert "_timeout" in raw and raw["_timeout"] is None


def test_two_requests_get_different_unique_ids():
    a = rpc.build_request({}, {"method": "m", "args": {}})
    b = rpc.build_request({}, {"method": "m", "args": {}})
    assert a["_unique_id"] != b["_unique_id"]


def test_parse_request_defaults_missing_args_to_empty():
    assert rpc.parse_request({"method": "m"}).args == {}


@pytest.mark.parametrize("raw, problem", [
    ({"args": {}}, "no 'method' key"),
    ({"method": 3, "args": {}}, "'method' must be a string, got int"),
    ({"method": "m", "args": [1]}, "'args' must be an object, got list"),
    ({"method": "m", "version": 1.2}, "'version' must be a string"),
    ({"method": "m", "namespace": ["x"]}, "'namespace' must be a string"),
    ({"method": "m", "_msg_id": 5}, "'_msg_id' must be a string"),
    ({"method": "m", "_msg_id": "a", "_reply_q": 5}, "'_reply_q' must be a string"),
    ({"method": "m", "_msg_id": "a", "_timeout": "soon"}, "'_timeout' must be a number"),
    ([1], "not an object"),
])
def test_parse_request_names_what_is_malformed(raw, problem):
    with pytest.raises(MalformedMessage, match=problem):
        rpc.parse_request(raw)


def test_reply_shape_and_parse():
    raw = rpc.build_reply("abc", result={"r": [1]})
    assert set(raw) == {"result", "failure", "ending", "_msg_id", "_unique_id"}
    msg_id, reply = rpc.parse_reply(raw)
    assert msg_id == "abc"
    assert isinstance(reply, Reply)
    assert (reply.result, reply.failure, reply.ending) == ({"r": [1]}, None, True)
    assert reply.unique_id == raw["_unique_id"]


def test_heartbeat_is_a_reply_that_does_not_end():
    raw = rpc.build_heartbeat("abc")
    assert (raw["result"], raw["failure"], raw["ending"]) == (None, None, False)
    assert rpc.parse_reply(raw)[1].ending is False


def test_reply_without_ending_is_not_final():
    assert rpc.parse_reply({"result": 1, "_msg_id": "a"})[1].ending is False


@pytest.mark.parametrize("raw, problem", [
    ({"failure": {"class": "X"}}, "'failure' must be JSON text"),
    ({"_msg_id": 5}, "'_msg_id' must be a string"),
    ("x", "not an object"),
])
def test_parse_reply_names_what_is_malformed(raw, problem):
    with pytest.raises(MalformedMessage, match=problem):
        rpc.parse_reply(raw)


def test_notification_round_trip():
    message = {"message_id": "m-1", "publisher_id": "p", "event_type": "e.x",
               "priority": "INFO", "payload": {"a": 1}, "timestamp": "2020-01-01 00:00:00"}
    raw = notification.build_notification({"user": "u"}, message)
    assert set(raw) == set(message) | {"_unique_id", "_context_user"}
    ctxt, parsed = notification.parse_notification(raw)
    assert ctxt == {"user": "u"}
    assert parsed == message


@pytest.mark.parametrize("raw, problem", [
    ({"priority": "INFO"}, "no 'event_type' key"),
    ({"event_type": "e"}, "no 'priority' key"),
    ({"event_type": "e", "priority": 3}, "'priority' must be a string"),
])
def test_parse_notification_requires_event_type_and_priority(raw, problem):
    with pytest.raises(MalformedMessage, match=problem):
        notification.parse_notification(raw)


def test_ids_are_uuid4_hex():
    import uuid

    from msgframework.wire.ids import uuid4_hex

    ids = {uuid4_hex() for _ in range(200)}
    assert len(ids) == 200
    for text in ids:
        parsed = uuid.UUID(hex=text)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, text)
