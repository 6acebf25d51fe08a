"""RPCClient options, messages and errors, checked on a recording driver."""

from __future__ import annotations

from typing import Any

import pytest

from msgframework.drivers.base import TransportOptions
from msgframework.exceptions import (
    ClientSendError,
    ConfigurationError,
    InvalidTarget,
    MessagingException,
    RPCVersionCapError,
    TransportDriverError,
)
from msgframework.rpc.client import RPCClient, get_rpc_client
from msgframework.serializer import Serializer
from msgframework.target import Target


def test_cast_builds_oslo_message(recording):
    transport, driver = recording
    client = get_rpc_client(transport, Target(topic="t", namespace="ns", version="1.2"))
    assert client.cast({"user": "u"}, "do", a=1, b=[2]) is None
    sent = driver.sent[-1]
    assert sent["message"] == {"method": "do", "args": {"a": 1, "b": [2]},
                               "namespace": "ns", "version": "1.2"}
    assert sent["ctxt"] == {"user": "u"}
    assert sent["wait_for_reply"] is False
    assert sent["target"] == Target(topic="t", namespace="ns", version="1.2")


def test_message_leaves_out_unset_namespace_and_version(recording):
    transport, driver = recording
    get_rpc_client(transport, Target(topic="t")).cast(None, "do")
    assert driver.sent[-1]["message"] == {"method": "do", "args": {}}
    assert driver.sent[-1]["ctxt"] == {}


def test_call_returns_answer_and_passes_options(recording, conf):
    transport, driver = recording
    driver.answer = 42
    opts = TransportOptions(at_least_once=True)
    client = RPCClient(transport, Target(topic="t"), timeout=3, retry=2,
                       call_monitor_timeout=1.5, transport_options=opts)
    assert client.call({}, "answer") == 42
    sent = driver.sent[-1]
    assert (sent["wait_for_reply"], sent["timeout"], sent["retry"],
            sent["call_monitor_timeout"], sent["transport_options"]) == (True, 3, 2, 1.5, opts)


def test_timeout_falls_back_to_rpc_response_timeout_read_per_call(recording, conf):
    transport, driver = recording
    client = get_rpc_client(transport, Target(topic="t"))
    client.call({}, "m")
    assert driver.sent[-1]["timeout"] == 60
    conf.set_override("rpc_response_timeout", 7)
    client.call({}, "m")
    assert driver.sent[-1]["timeout"] == 7
    client.prepare(timeout=0.5).call({}, "m")
    assert driver.sent[-1]["timeout"] == 0.5


def test_prepare_overrides_everything_and_leaves_original(recording):
    transport, driver = recording
    base = get_rpc_client(transport, Target(topic="t", version="1.0"), timeout=1, retry=0)
    opts = TransportOptions(at_least_once=True)
    prepared = base.prepare(exchange="x", topic="t2", namespace="ns", version="1.1",
                            server="s1", timeout=9, version_cap="1.5", retry=5,
                            call_monitor_timeout=2, transport_options=opts)
    prepared.call({}, "m")
    sent = driver.sent[-1]
    assert sent["target"] == Target(exchange="x", topic="t2", namespace="ns", version="1.1",
                                    server="s1")
    assert (sent["timeout"], sent["retry"], sent["call_monitor_timeout"],
            sent["transport_options"]) == (9, 5, 2, opts)
    assert prepared.version_cap == "1.5"
    # prepare of a prepared context, and the original untouched
    again = prepared.prepare(server=None, retry=None)
    again.cast({}, "m")
    assert driver.sent[-1]["target"].server is None and driver.sent[-1]["retry"] is None
    base.cast({}, "m")
    assert driver.sent[-1]["target"] == Target(topic="t", version="1.0")
    assert driver.sent[-1]["retry"] == 0


def test_call_with_fanout_is_invalid(recording):
    transport, driver = recording
    client = get_rpc_client(transport, Target(topic="t"))
    with pytest.raises(InvalidTarget, match="fanout"):
        client.prepare(fanout=True).call({}, "m")
    assert driver.sent == []
    client.prepare(fanout=True).cast({}, "m")
    assert driver.sent[-1]["target"].fanout is True


def test_send_without_topic_is_invalid(recording):
    transport, _driver = recording
    with pytest.raises(InvalidTarget, match="topic"):
        get_rpc_client(transport, Target()).cast({}, "m")


def test_version_cap(recording):
    transport, driver = recording
    client = get_rpc_client(transport, Target(topic="t", version="1.5"), version_cap="1.4")
    assert not client.can_send_version()
    assert client.can_send_version("1.4")
    assert client.can_send_version("1.0")
    assert not client.can_send_version("2.0")
    with pytest.raises(RPCVersionCapError) as err:
        client.call({}, "m")
    assert (err.value.version, err.value.version_cap) == ("1.5", "1.4")
    with pytest.raises(RPCVersionCapError):
        client.cast({}, "m")
    assert driver.sent == []
    client.prepare(version="1.3").cast({}, "m")
    assert driver.sent[-1]["message"]["version"] == "1.3"
    # a cap with no version on the message fails, as in oslo.messaging
    with pytest.raises(RPCVersionCapError):
        client.prepare(version=None).cast({}, "m")
    assert get_rpc_client(transport, Target(topic="t")).can_send_version("9.9")


@pytest.mark.parametrize("bad", ["1", "a.b", "1.2.3.4", "", "1.x"])
def test_malformed_versions_fail_clearly(recording, bad):
    transport, _driver = recording
    with pytest.raises(InvalidTarget, match="major and minor") as err:
        get_rpc_client(transport, Target(topic="t", version=bad))
    assert isinstance(err.value, ValueError) and isinstance(err.value, MessagingException)
    client = get_rpc_client(transport, Target(topic="t"))
    with pytest.raises(InvalidTarget, match="major and minor"):
        client.prepare(version=bad)
    with pytest.raises(ConfigurationError, match="version_cap"):
        client.prepare(version_cap=bad)
    with pytest.raises(InvalidTarget):
        client.prepare(version_cap="1.0").can_send_version(bad)


@pytest.mark.parametrize("kwargs", [
    {"timeout": -1}, {"timeout": "10"}, {"call_monitor_timeout": -0.5},
    {"retry": -2}, {"retry": 1.5}, {"retry": "3"}, {"transport_options": {"at_least_once": True}},
])
def test_bad_options_fail_clearly(recording, kwargs):
    transport, _driver = recording
    with pytest.raises((ValueError, TypeError), match=next(iter(kwargs))):
        get_rpc_client(transport, Target(topic="t"), **kwargs)


def test_bad_target_and_method(recording):
    transport, _driver = recording
    with pytest.raises(TypeError, match="Target"):
        get_rpc_client(transport, "topic")  # type: ignore[arg-type]
    client = get_rpc_client(transport, Target(topic="t"))
    with pytest.raises(ValueError, match="method"):
        client.cast({}, "")
    with pytest.raises(ValueError, match="method"):
        client.call({}, None)  # type: ignore[arg-type]


def test_driver_errors_become_client_send_error(recording):
    transport, driver = recording
    cause = TransportDriverError("connection reset")
    driver.raises = cause
    client = get_rpc_client(transport, Target(topic="t"))
    for send in (client.call, client.cast):
        with pytest.raises(ClientSendError) as err:
            send({}, "m")
        assert err.value.ex is cause and err.value.__cause__ is cause


class Tagging(Serializer):
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return {"tagged": entity}

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return ("untagged", entity)

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        return {"ctx": ctxt.name}

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        return ctxt


class Ctx:
    name = "me"


def test_serializer_used_for_args_context_and_result(recording):
    transport, driver = recording
    driver.answer = 5
    client = get_rpc_client(transport, Target(topic="t"), serializer=Tagging())
    assert client.call(Ctx(), "m", x=1) == ("untagged", 5)
    assert driver.sent[-1]["message"]["args"] == {"x": {"tagged": 1}}
    assert driver.sent[-1]["ctxt"] == {"ctx": "me"}


def test_repr_has_no_secret(conf, recording):
    from msgframework.transport import RPCTransport
    from msgframework.transport_url import TransportURL

    url = TransportURL.parse(conf, "recording://user:s3cret@host/")
    transport = RPCTransport(type(recording[1])(conf, url), conf, url)
    assert "s3cret" not in repr(get_rpc_client(transport, Target(topic="t")))
