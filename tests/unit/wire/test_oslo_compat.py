"""Both directions against the real oslo.messaging functions (no broker)."""

from __future__ import annotations

import datetime
import sys

import pytest

from msgframework import exceptions as exc_mod
from msgframework.wire import context, envelope, failures, jsonutil, rpc

oslo_messaging = pytest.importorskip("oslo_messaging")
oslo_common = pytest.importorskip("oslo_messaging._drivers.common")
oslo_amqp = pytest.importorskip("oslo_messaging._drivers.amqp")
oslo_json = pytest.importorskip("oslo_serialization.jsonutils")


class AppError(Exception):
    """oslo-style application exception: message positionally, details as kwargs."""

    def __init__(self, message=None, **kwargs):
        super().__init__(message)
        self.kwargs = kwargs


def _raised(exc):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def test_datetimes_encode_as_oslo_jsonutils_does():
    value = {"at": datetime.datetime(1920, 2, 3, 4, 5, 6, 7), "d": datetime.date(2001, 2, 3)}
    assert jsonutil.loads(jsonutil.dumps(value)) == oslo_json.loads(oslo_json.dumps(value))


def test_envelopes_are_interchangeable():
    msg = {"method": "m", "args": {"x": [1, None, "é"]}}
    assert oslo_common.deserialize_msg(envelope.serialize_msg(msg)) == msg
    assert envelope.deserialize_msg(oslo_common.serialize_msg(msg)) == msg


def test_oslo_unpacks_our_request_context_and_routing():
    raw = rpc.build_request({"user": "u", "roles": ["a"]}, {"method": "m", "args": {}},
                            msg_id="id1", reply_q="reply_q1", call_monitor_timeout=4)
    unpacked = oslo_amqp.unpack_context(dict(raw))
    assert {k: unpacked.to_dict()[k] for k in ("user", "roles")} == {"user": "u", "roles": ["a"]}
    assert (unpacked.msg_id, unpacked.reply_q, unpacked.client_timeout) == (
        "id1", "reply_q1", 4)


def test_we_unpack_oslo_packed_context():
    msg = {"method": "m"}
    oslo_amqp.pack_context(msg, {"user": "u", "is_admin": True})
    ctxt, rest = context.unpack_context(msg)
    assert ctxt == {"user": "u", "is_admin": True}
    assert rest == {"method": "m"}


def test_oslo_rebuilds_our_builtin_failure():
    text = failures.serialize_remote_exception(_raised(KeyError("missing")))
    exc = oslo_common.deserialize_remote_exception(text, [])
    assert isinstance(exc, KeyError)
    assert "missing" in str(exc)


def test_oslo_rebuilds_our_custom_failure_when_allowed():
    text = failures.serialize_remote_exception(_raised(AppError("nope", code=3)))
    exc = oslo_common.deserialize_remote_exception(text, [__name__])
    assert isinstance(exc, AppError)
    assert exc.kwargs == {"code": 3}
    assert str(exc).startswith("nope")


def test_oslo_gets_remote_error_for_our_exceptions_it_does_not_allow():
    text = failures.serialize_remote_exception(_raised(exc_mod.NoSuchMethod("frob")))
    exc = oslo_common.deserialize_remote_exception(text, [])
    assert isinstance(exc, oslo_messaging.RemoteError)
    assert exc.exc_type == "NoSuchMethod"


@pytest.mark.parametrize("original", [ValueError("bad", 1), TypeError("t"),
                                      AppError("custom", code=9)],
                         ids=lambda e: type(e).__name__)
def test_we_rebuild_oslo_failures(original):
    text = oslo_common.serialize_remote_exception(_raised(original))
    exc = failures.deserialize_remote_exception(text, [__name__])
    assert isinstance(exc, type(original))
    assert type(exc).__name__ == type(original).__name__ + "_Remote"
    assert exc.args == original.args
    assert str(exc).startswith(str(original))
    assert "Traceback" in str(exc)


def test_oslo_dispatcher_errors_become_ours():
    from oslo_messaging.rpc import dispatcher

    text = oslo_common.serialize_remote_exception(_raised(dispatcher.NoSuchMethod("frob")))
    exc = failures.deserialize_remote_exception(text, [])
    assert isinstance(exc, exc_mod.NoSuchMethod)
    assert str(exc).startswith("Endpoint does not support RPC method frob")


def test_oslo_remote_error_survives_a_second_hop():
    """An oslo RemoteError is not ours: unlisted, it degrades to our RemoteError."""
    text = oslo_common.serialize_remote_exception(
        _raised(oslo_messaging.RemoteError("X", "v", ["tb"])))
    exc = failures.deserialize_remote_exception(text, [])
    assert isinstance(exc, exc_mod.RemoteError)
