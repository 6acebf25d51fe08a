"""Remote exceptions end to end: rebuilt when allowed, RemoteError otherwise."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from msgframework.exceptions import MessagingTimeout, RemoteError
from msgframework.rpc.client import get_rpc_client
from msgframework.rpc.decorators import expected_exceptions
from msgframework.target import Target


class LocalError(Exception):
    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.kwargs = {"code": code}
        self.code = code


class Failing:
    def value_error(self, ctxt: Any) -> None:
        raise ValueError("bad value")

    def key_error(self, ctxt: Any) -> None:
        raise KeyError("missing-key")

    def local(self, ctxt: Any) -> None:
        raise LocalError("local failure", code=7)

    def our_timeout(self, ctxt: Any) -> None:
        raise MessagingTimeout("downstream took too long")

    @expected_exceptions(LookupError)
    def not_found(self, ctxt: Any, key: str) -> None:
        raise KeyError(key)


def client_for(servers: Any, **transport_kwargs: Any) -> Any:
    servers.server([Failing()])
    transport = servers.transport(**transport_kwargs)
    return get_rpc_client(transport, Target(topic="topic"), timeout=5)


def test_builtin_exceptions_are_rebuilt_with_remote_traceback(servers):
    client = client_for(servers)
    with pytest.raises(ValueError) as err:
        client.call({}, "value_error")
    exc = err.value
    assert type(exc).__name__ == "ValueError_Remote"
    assert "bad value" in str(exc)
    assert "Traceback" in str(exc) and "value_error" in str(exc)
    with pytest.raises(KeyError):
        client.call({}, "key_error")


def test_our_own_exceptions_are_always_allowed(servers):
    client = client_for(servers)
    with pytest.raises(MessagingTimeout, match="downstream"):
        client.call({}, "our_timeout")


def test_unlisted_module_gives_remote_error(servers):
    client = client_for(servers)
    with pytest.raises(RemoteError) as err:
        client.call({}, "local")
    assert err.value.exc_type == "LocalError"
    assert err.value.value == "local failure"
    assert "Traceback" in (err.value.traceback or "")


def test_allowed_module_rebuilds_a_subclass_that_still_matches(servers):
    client = client_for(servers, allowed_remote_exmods=[__name__])
    with pytest.raises(LocalError) as err:
        client.call({}, "local")
    assert type(err.value).__name__ == "LocalError_Remote"
    assert err.value.code == 7
    assert str(err.value).startswith("local failure")


def test_tracebacks_can_be_withheld_by_the_server(servers, conf):
    conf.set_override("rpc_send_tracebacks", False)
    client = client_for(servers)
    with pytest.raises(ValueError) as err:
        client.call({}, "value_error")
    assert "Traceback" not in str(err.value) and "bad value" in str(err.value)
    with pytest.raises(RemoteError) as err2:
        client.call({}, "local")
    assert not err2.value.traceback


def test_expected_exceptions_reach_caller_and_log_quietly(servers, caplog):
    client = client_for(servers)
    with caplog.at_level(logging.DEBUG, logger="msgframework.rpc"):
        with pytest.raises(KeyError, match="k1"):
            client.call({}, "not_found", key="k1")
        with pytest.raises(ValueError):
            client.call({}, "value_error")
    rpc_records = [r for r in caplog.records if r.name.startswith("msgframework.rpc")]
    errors = [r for r in rpc_records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "value_error" in errors[0].getMessage()
    assert any(r.levelno == logging.DEBUG and "not_found" in r.getMessage()
               for r in rpc_records)


def test_traceback_option_is_reread_on_reset(servers, conf):
    srv = servers.server([Failing()])
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=5)
    with pytest.raises(ValueError) as err:
        client.call({}, "value_error")
    assert "Traceback" in str(err.value)
    conf.set_override("rpc_send_tracebacks", False)
    srv.reset()
    with pytest.raises(ValueError) as err:
        client.call({}, "value_error")
    assert "Traceback" not in str(err.value)
