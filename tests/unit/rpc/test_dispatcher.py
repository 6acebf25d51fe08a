"""RPCDispatcher, access policies and endpoint decorators, without a transport."""

from __future__ import annotations

import logging
import types
from typing import Any

import pytest

from msgframework.exceptions import ExpectedException, NoSuchMethod, UnsupportedVersion
from msgframework.rpc.decorators import expected_exceptions, expose
from msgframework.rpc.dispatcher import PING_METHOD, RPCDispatcher
from msgframework.rpc.policies import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
)
from msgframework.serializer import Serializer
from msgframework.target import Target


def request(method: str, args: dict[str, Any] | None = None, namespace: str | None = None,
            version: str | None = None, ctxt: dict[str, Any] | None = None) -> Any:
    message: dict[str, Any] = {"method": method, "args": args or {}}
    if namespace is not None:
        message["namespace"] = namespace
    if version is not None:
        message["version"] = version
    return types.SimpleNamespace(ctxt=ctxt or {}, message=message)


class Named:
    def __init__(self, name: str, target: Target | None = None) -> None:
        self.name = name
        if target is not None:
            self.target = target

    def who(self, ctxt: Any) -> str:
        return self.name

    def add(self, ctxt: Any, a: int, b: int) -> int:
        return a + b

    def echo_ctxt(self, ctxt: Any) -> Any:
        return ctxt

    def _secret(self, ctxt: Any) -> str:
        return "leaked"

    @expose
    def shown(self, ctxt: Any) -> str:
        return "shown"


def test_endpoint_without_target_serves_null_namespace_version_1():
    d = RPCDispatcher([Named("plain")])
    assert d.dispatch(request("add", {"a": 2, "b": 3})) == 5
    assert d.dispatch(request("who", version="1.0")) == "plain"
    assert d.dispatch(request("who", version="1.0.0")) == "plain"
    with pytest.raises(UnsupportedVersion):
        d.dispatch(request("who", version="1.1"))
    with pytest.raises(UnsupportedVersion):
        d.dispatch(request("who", namespace="other"))


def test_endpoints_tried_in_order_by_namespace_and_version():
    d = RPCDispatcher([
        Named("a", Target(namespace="ns", version="1.1")),
        Named("b", Target(namespace="ns", version="2.3")),
        Named("c", Target(version="1.5")),
        Named("d", Target(namespace="ns", version="1.4")),
    ])
    assert d.dispatch(request("who", namespace="ns", version="1.0")) == "a"
    assert d.dispatch(request("who", namespace="ns", version="1.3")) == "d"
    assert d.dispatch(request("who", namespace="ns", version="2.0")) == "b"
    assert d.dispatch(request("who", version="1.2")) == "c"
    with pytest.raises(UnsupportedVersion) as err:
        d.dispatch(request("who", namespace="ns", version="3.0"))
    assert err.value.version == "3.0" and err.value.method == "who"


def test_missing_version_means_1_0():
    d = RPCDispatcher([Named("two", Target(version="2.0")), Named("one", Target(version="1.9"))])
    assert d.dispatch(request("who")) == "one"


def test_legacy_namespaces_accepted():
    d = RPCDispatcher([Named("x", Target(namespace="new", legacy_namespaces=["old", None]))])
    assert d.dispatch(request("who", namespace="new")) == "x"
    assert d.dispatch(request("who", namespace="old")) == "x"
    assert d.dispatch(request("who")) == "x"
    with pytest.raises(UnsupportedVersion):
        d.dispatch(request("who", namespace="other"))


class OnlyPing:
    target = Target(version="1.0")

    def ping(self, ctxt: Any) -> str:
        return "ping"


def test_no_such_method_when_a_candidate_lacks_it_falls_through_to_next():
    d = RPCDispatcher([OnlyPing(), Named("n")])
    # first endpoint lacks 'who': the next compatible one serves it
    assert d.dispatch(request("who")) == "n"
    with pytest.raises(NoSuchMethod) as err:
        d.dispatch(request("nothing_here"))
    assert err.value.method == "nothing_here"
    assert isinstance(err.value, AttributeError)


def test_non_callable_attributes_and_target_are_not_methods():
    d = RPCDispatcher([Named("n", Target())])
    for attr in ("name", "target"):
        with pytest.raises(NoSuchMethod):
            d.dispatch(request(attr))


def test_bad_args_raise_type_error():
    d = RPCDispatcher([Named("n")])
    with pytest.raises(TypeError):
        d.dispatch(request("add", {"a": 1}))
    with pytest.raises(TypeError):
        d.dispatch(request("add", {"a": 1, "b": 2, "c": 3}))


def test_malformed_requests():
    d = RPCDispatcher([Named("n")])
    with pytest.raises(NoSuchMethod):
        d.dispatch(types.SimpleNamespace(ctxt={}, message={"args": {}}))
    with pytest.raises(TypeError, match="args"):
        d.dispatch(types.SimpleNamespace(ctxt={}, message={"method": "who", "args": [1]}))
    with pytest.raises(UnsupportedVersion):
        d.dispatch(request("who", version="banana"))


def test_default_policy_hides_private_methods():
    d = RPCDispatcher([Named("n")])
    with pytest.raises(NoSuchMethod):
        d.dispatch(request("_secret"))
    with pytest.raises(NoSuchMethod):
        d.dispatch(request("__init__", {"name": "x"}))
    assert d.dispatch(request("who")) == "n"


def test_legacy_policy_allows_private_methods():
    d = RPCDispatcher([Named("n")], access_policy=LegacyRPCAccessPolicy)
    assert d.dispatch(request("_secret")) == "leaked"


def test_explicit_policy_allows_only_exposed():
    d = RPCDispatcher([Named("n")], access_policy=ExplicitRPCAccessPolicy)
    assert d.dispatch(request("shown")) == "shown"
    with pytest.raises(NoSuchMethod):
        d.dispatch(request("who"))


def test_policy_must_be_a_policy_class():
    for bad in (DefaultRPCAccessPolicy(), object, "default"):
        with pytest.raises(TypeError, match="access_policy"):
            RPCDispatcher([], access_policy=bad)  # type: ignore[arg-type]

    class OnlyWho(RPCAccessPolicyBase):
        def is_allowed(self, endpoint: Any, method: str) -> bool:
            return method == "who"

    d = RPCDispatcher([Named("n")], access_policy=OnlyWho)
    assert d.dispatch(request("who")) == "n"
    with pytest.raises(NoSuchMethod):
        d.dispatch(request("add", {"a": 1, "b": 1}))


def test_endpoint_target_must_be_a_target():
    bad = Named("n")
    bad.target = "topic"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="Target"):
        RPCDispatcher([bad])


class Doubling(Serializer):
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return ("out", entity)

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity * 2

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        return dict(ctxt)

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        return {"rebuilt": ctxt}


def test_serializer_applied_to_context_args_and_result():
    d = RPCDispatcher([Named("n")], Doubling())
    assert d.dispatch(request("add", {"a": 1, "b": 10})) == ("out", 22)
    result = d.dispatch(request("echo_ctxt", ctxt={"user": "u"}))
    assert result == ("out", {"rebuilt": {"user": "u"}})


def test_ping_endpoint_only_when_enabled(caplog: pytest.LogCaptureFixture):
    assert RPCDispatcher([], ping_enabled=True).dispatch(request(PING_METHOD)) == "pong"
    with pytest.raises(UnsupportedVersion):
        RPCDispatcher([]).dispatch(request(PING_METHOD))

    class OwnPing:
        def oslo_rpc_server_ping(self, ctxt: Any) -> str:
            return "mine"

    with caplog.at_level(logging.WARNING):
        d = RPCDispatcher([OwnPing()], ping_enabled=True)
    assert PING_METHOD in caplog.text
    assert d.dispatch(request(PING_METHOD)) == "mine"


def test_lookup_cache_is_bounded_and_keeps_answers_right():
    d = RPCDispatcher([Named("a", Target(version="1.5"))])
    for minor in range(6):
        assert d.dispatch(request("who", version=f"1.{minor}")) == "a"
    for i in range(3000):  # many distinct names from "the network" must not grow memory
        with pytest.raises(NoSuchMethod):
            d.dispatch(request(f"m{i}"))
    assert d.dispatch(request("add", {"a": 1, "b": 1}, version="1.0")) == 2


class BoomError(Exception):
    pass


class WithExpected:
    @expected_exceptions(KeyError, BoomError)
    def lookup(self, ctxt: Any, kind: str) -> Any:
        if kind == "key":
            raise KeyError("k")
        if kind == "boom":
            raise type("SubBoomError", (BoomError,), {})("sub")
        raise ValueError("v")

    @expose
    @expected_exceptions(KeyError)
    def both(self, ctxt: Any) -> str:
        return "ok"


def test_expected_exceptions_wrap_listed_types_and_subclasses():
    d = RPCDispatcher([WithExpected()])
    with pytest.raises(ExpectedException) as err:
        d.dispatch(request("lookup", {"kind": "key"}))
    assert isinstance(err.value.exc_info[1], KeyError)
    with pytest.raises(ExpectedException) as err:
        d.dispatch(request("lookup", {"kind": "boom"}))
    assert isinstance(err.value.exc_info[1], BoomError)
    with pytest.raises(ValueError):
        d.dispatch(request("lookup", {"kind": "other"}))


def test_decorators_compose_with_explicit_policy():
    d = RPCDispatcher([WithExpected()], access_policy=ExplicitRPCAccessPolicy)
    assert d.dispatch(request("both")) == "ok"
    assert WithExpected.both.__name__ == "both"


def test_expected_exceptions_rejects_non_classes():
    with pytest.raises(TypeError):
        expected_exceptions("KeyError")  # type: ignore[arg-type]
