"""RPC between oslo.messaging and msgframework, both ways, on RabbitMQ.

``direction`` runs each test with an oslo client against our servers and
with our client against oslo servers.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from msgframework.testing.waiting import Recorder
from tests.interop import helpers
from tests.interop.conftest import Names
from tests.interop.helpers import InteropError, RPCEndpoint

pytest.importorskip("oslo_messaging")

pytestmark = pytest.mark.interop

TIMEOUT = 15
CTXT = {"request_id": "req-7", "user": "alice", "roles": ["admin", "member"]}

RESULTS = [
    pytest.param({"a": 1, "b": "two"}, id="dict"),
    pytest.param([1, "two", None, 3.5, True], id="list"),
    pytest.param(None, id="None"),
    pytest.param("h\u00e9llo \u2713", id="str"),
    pytest.param({"servers": [{"id": 1, "tags": ["x", {"deep": [None, False]}]}],
                  "meta": {"count": 2, "ratio": 0.25, "empty": {}}}, id="nested"),
    pytest.param({"blob": "x" * 300_000, "rows": list(range(20_000))}, id="large"),
]


@pytest.mark.parametrize("value", RESULTS)
def test_call_result_types(direction: tuple[Any, Any], names: Names, value: Any) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    assert client.call(CTXT, "echo", value=value) == value


def test_call_context_and_sequence(direction: tuple[Any, Any], names: Names) -> None:
    """The context reaches the endpoint; calls in a row on one client all answer."""
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    got = client.call(CTXT, "context")
    got.pop("client_timeout", None)  # oslo's server adds it to every context
    assert got == CTXT
    assert [client.call({}, "echo", value=n) for n in range(20)] == list(range(20))


def test_cast(direction: tuple[Any, Any], names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    endpoint = RPCEndpoint("s1")
    server_side.rpc_server(topic, "s1", [endpoint])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    for n in range(5):
        assert client.cast(CTXT, "record", value={"n": n}) is None
    casts = endpoint.casts.wait_for_count(5, timeout=TIMEOUT)
    assert sorted(value["n"] for _name, value in casts) == list(range(5))


def test_fanout_cast_reaches_every_server(direction: tuple[Any, Any], names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1", "s2", "s3"))
    casts = Recorder()
    for name in ("s1", "s2", "s3"):
        server_side.rpc_server(topic, name, [RPCEndpoint(name, casts)])
    client = client_side.rpc_client(topic, timeout=TIMEOUT).prepare(fanout=True)
    client.cast(CTXT, "record", value="one")
    client.cast(CTXT, "record", value="two")
    got = casts.wait_for_count(6, timeout=TIMEOUT)
    assert sorted(got) == sorted((name, value) for name in ("s1", "s2", "s3")
                                 for value in ("one", "two"))


def test_fanout_to_mixed_servers(oslo: Any, ours: Any, names: Names) -> None:
    """oslo and our servers on one topic: both clients' fanouts reach both servers,
    and topic calls are served by either (the shared queue was declared alike)."""
    topic = names.rpc_topic(servers=("oslo1", "ours1"))
    casts = Recorder()
    oslo.rpc_server(topic, "oslo1", [RPCEndpoint("oslo1", casts)])
    ours.rpc_server(topic, "ours1", [RPCEndpoint("ours1", casts)])
    for side in (oslo, ours):
        side.rpc_client(topic, timeout=TIMEOUT).prepare(fanout=True).cast(
            {}, "record", value=side.name)
        served = {side.rpc_client(topic, timeout=TIMEOUT).call({}, "whoami")
                  for _ in range(10)}
        assert served <= {"oslo1", "ours1"} and served
    got = casts.wait_for_count(4, timeout=TIMEOUT)
    assert sorted(got) == sorted((server, sender) for server in ("oslo1", "ours1")
                                 for sender in ("oslo", "ours"))


def test_server_directed_call(direction: tuple[Any, Any], names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1", "s2"))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    server_side.rpc_server(topic, "s2", [RPCEndpoint("s2")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    for _ in range(5):
        assert client.prepare(server="s2").call({}, "whoami") == "s2"
        assert client.prepare(server="s1").call({}, "whoami") == "s1"
    assert client.call({}, "whoami") in {"s1", "s2"}


class _Versioned:
    """An endpoint of one namespace and version (its Target is the server side's)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def hello(self, ctxt: Any) -> str:
        return f"{self.target.namespace}-{self.target.version}"


def test_namespace_and_version(direction: tuple[Any, Any], names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [
        _Versioned(server_side.Target(namespace="other", version="1.9")),
        _Versioned(server_side.Target(namespace="ns", version="1.3"))])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    assert client.prepare(namespace="ns", version="1.2").call({}, "hello") == "ns-1.3"
    assert client.prepare(namespace="other", version="1.0").call({}, "hello") == "other-1.9"
    with pytest.raises(Exception) as info:
        client.prepare(namespace="ns", version="2.0").call({}, "hello")
    if client_side.name == "ours":
        from msgframework.exceptions import UnsupportedVersion

        assert isinstance(info.value, UnsupportedVersion)
    else:
        assert isinstance(info.value, client_side.RemoteError)
        assert info.value.exc_type == "UnsupportedVersion"


def test_expected_exception(direction: tuple[Any, Any], names: Names) -> None:
    """@expected_exceptions changes only the server's logging: the caller sees the
    original class, never the ExpectedException wrapper."""
    client_side, server_side = direction

    class Lookup:
        @server_side.expected_exceptions(KeyError)
        def lookup(self, ctxt: Any, key: str) -> None:
            raise KeyError(key)

    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [Lookup()])
    with pytest.raises(KeyError, match="missing-key"):
        client_side.rpc_client(topic, timeout=TIMEOUT).call({}, "lookup", key="missing-key")


# -- remote exceptions ---------------------------------------------------------------

def test_builtin_exception_is_rebuilt(direction: tuple[Any, Any], names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    with pytest.raises(ValueError, match="bad value 42") as info:
        client.call({}, "fail_builtin", text="bad value 42")
    assert not isinstance(info.value, client_side.RemoteError)
    assert "fail_builtin" in str(info.value)  # the server's traceback comes along


def test_allowed_custom_exception_is_rebuilt(direction: tuple[Any, Any],
                                             names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, allowed_remote_exmods=[helpers.MODULE],
                                    timeout=TIMEOUT)
    with pytest.raises(InteropError, match="quota exceeded") as info:
        client.call({}, "fail_custom", text="quota exceeded", code=413)
    assert info.value.code == 413
    assert type(info.value).__name__ == "InteropError_Remote"


def test_unlisted_custom_exception_is_remote_error(direction: tuple[Any, Any],
                                                   names: Names) -> None:
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    with pytest.raises(client_side.RemoteError) as info:
        client.call({}, "fail_custom", text="quota exceeded", code=413)
    assert not isinstance(info.value, InteropError)
    assert info.value.exc_type == "InteropError"
    assert info.value.value == "quota exceeded"
    assert "fail_custom" in str(info.value.traceback)


def test_missing_method(direction: tuple[Any, Any], names: Names) -> None:
    """NoSuchMethod: ours rebuilds oslo's as our own class; oslo gets a RemoteError."""
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT)
    if client_side.name == "ours":
        from msgframework.exceptions import NoSuchMethod

        with pytest.raises(NoSuchMethod):
            client.call({}, "no_such_method")
    else:
        with pytest.raises(client_side.RemoteError) as info:
            client.call({}, "no_such_method")
        assert info.value.exc_type == "NoSuchMethod"
        assert "no_such_method" in info.value.value


@pytest.mark.parametrize("version,attribute,value", [
    pytest.param(None, "method", "no_such_method", id="NoSuchMethod.method"),
    pytest.param("9.0", "version", "9.0", id="UnsupportedVersion.version"),
])
def test_oslo_dispatcher_errors_keep_their_attributes(oslo: Any, ours: Any, names: Names,
                                                      version: str | None, attribute: str,
                                                      value: str) -> None:
    """Code ported from oslo.messaging reads ``exc.method`` / ``exc.version`` in its
    handlers; they must at least exist (None when unknown)."""
    from msgframework.exceptions import RPCDispatcherError

    topic = names.rpc_topic(servers=("s1",))
    oslo.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = ours.rpc_client(topic, timeout=TIMEOUT).prepare(version=version)
    with pytest.raises(RPCDispatcherError) as info:
        client.call({}, "no_such_method" if version is None else "echo", value=1)
    assert getattr(info.value, attribute, "<missing>") in (None, value)


# -- call monitoring -----------------------------------------------------------------

def test_call_monitor_heartbeats_keep_a_long_call_alive(direction: tuple[Any, Any],
                                                        names: Names) -> None:
    """A call running twice the monitor timeout succeeds: the server heartbeats."""
    client_side, server_side = direction
    topic = names.rpc_topic(servers=("s1",))
    server_side.rpc_server(topic, "s1", [RPCEndpoint("s1")])
    client = client_side.rpc_client(topic, timeout=TIMEOUT, call_monitor_timeout=2)
    start = time.monotonic()
    assert client.call({}, "slow", seconds=4.5) == "done"
    assert time.monotonic() - start >= 4.5


def test_call_monitor_fails_fast_without_heartbeats(oslo: Any, ours: Any,
                                                    names: Names) -> None:
    """The control for the test above: with nobody serving, both clients give up
    after the monitor timeout, long before the call timeout."""
    topic = names.rpc_topic()
    for side in (oslo, ours):
        client = side.rpc_client(topic, timeout=TIMEOUT, call_monitor_timeout=2)
        start = time.monotonic()
        with pytest.raises(side.MessagingTimeout):
            client.call({}, "slow", seconds=0)
        assert time.monotonic() - start < TIMEOUT - 5
