"""Property tests: any JSON-able payload and context survives build/encode/decode/parse."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgframework.wire import envelope, notification, rpc

_scalars = (st.none() | st.booleans() | st.integers() | st.text()
            | st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20)
json_dicts = st.dictionaries(st.text(), json_values, max_size=6)
names = st.text(min_size=1, max_size=20)
_settings = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(ctxt=json_dicts, args=json_dicts, method=names,
       call=st.booleans(), version=st.sampled_from([1.0, 2.0]))
def test_requests_round_trip(ctxt, args, method, call, version):
    ids = {"msg_id": "m1", "reply_q": "reply_x", "call_monitor_timeout": 2.5} if call else {}
    raw = rpc.build_request(ctxt, {"method": method, "args": args}, **ids)
    req = rpc.parse_request(envelope.decode_body(envelope.encode_body(raw, version)))
    assert req.ctxt == ctxt
    assert req.message == {"method": method, "args": args}
    assert req.msg_id == ("m1" if call else None)
    assert req.client_timeout == (2.5 if call else None)
    assert req.unique_id == raw["_unique_id"]


@_settings
@given(result=json_values, ending=st.booleans())
def test_replies_round_trip(result, ending):
    raw = rpc.build_reply("abc", result=result, ending=ending)
    msg_id, reply = rpc.parse_reply(envelope.decode_body(envelope.encode_body(raw)))
    assert (msg_id, reply.result, reply.ending, reply.failure) == ("abc", result, ending, None)


@_settings
@given(ctxt=json_dicts, payload=json_values, event_type=names,
       version=st.sampled_from([1.0, 2.0]))
def test_notifications_round_trip(ctxt, payload, event_type, version):
    message = {"message_id": "id", "publisher_id": "p", "event_type": event_type,
               "priority": "INFO", "payload": payload, "timestamp": "t"}
    raw = notification.build_notification(ctxt, message)
    got_ctxt, got = notification.parse_notification(
        envelope.decode_body(envelope.encode_body(raw, version)))
    assert (got_ctxt, got) == (ctxt, message)
