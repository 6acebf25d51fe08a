"""The exception tree: one root, oslo names, the documented extra bases."""

from __future__ import annotations

import pytest

from msgframework import exceptions as exc


def test_every_public_exception_descends_from_the_root() -> None:
    for name in exc.__all__:
        cls = getattr(exc, name)
        assert issubclass(cls, exc.MessagingException), name


@pytest.mark.parametrize("cls, bases", [
    (exc.InvalidTarget, (ValueError,)), (exc.ConfigurationError, (ValueError,)),
    (exc.NoSuchMethod, (exc.RPCDispatcherError, AttributeError)),
    (exc.ConfirmTimeout, (exc.MessageDeliveryFailure, exc.MessagingTimeout)),
    (exc.MessageUndeliverable, (exc.MessageDeliveryFailure,)),
    (exc.ClientSendError, (exc.MessageDeliveryFailure,)),
    (exc.BrokerUnavailable, (exc.TransportDriverError,)),
    (exc.ServerListenError, (exc.MessagingServerError,)),
])
def test_documented_bases(cls: type, bases: tuple[type, ...]) -> None:
    for base in bases:
        assert issubclass(cls, base)


def test_tree_in_docstring_names_every_exception() -> None:
    for name in exc.__all__:
        assert name in (exc.__doc__ or ""), name


def test_messages_carry_their_parts() -> None:
    err = exc.ConfigurationError("[g] opt", "must be positive")
    assert "[g] opt" in str(err) and "must be positive" in str(err)
    assert (err.option, err.problem) == ("[g] opt", "must be positive")
    und = exc.MessageUndeliverable(None, "ex", "key", {"m": 1})
    assert "ex" in str(und) and "key" in str(und)
    assert (und.exchange, und.routing_key, und.message) == ("ex", "key", {"m": 1})
    load = exc.DriverLoadFailure("nope", LookupError("x"))
    assert "nope" in str(load) and load.driver == "nope"
    assert exc.MessagingException("m").msg == "m"
