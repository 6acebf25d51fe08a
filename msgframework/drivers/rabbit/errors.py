"""Sorting kombu and py-amqp errors, and translating them at the driver's edge.

The driver reacts to three kinds of failure differently:

* *connection* errors (socket errors, connection-level AMQP errors, a dead
  heartbeat): the connection is gone; reconnect (maybe to another host) and
  retry within the caller's ``retry`` budget;
* *channel* errors (404 NOT_FOUND, 406 PRECONDITION_FAILED...): the broker
  refused one operation and closed the channel; retrying the same thing
  does not help;
* anything else is a bug or a bad value and propagates.

Everything that leaves the driver is a :mod:`msgframework.exceptions`
exception with the original chained as ``__cause__``.
"""

from __future__ import annotations

import socket

import amqp.exceptions as amqp_exc
import kombu.exceptions as kombu_exc

from msgframework.exceptions import (
    BrokerUnavailable,
    MessageDeliveryFailure,
    MessagingException,
    TransportDriverError,
)

__all__ = [
    "CONNECTION_ERRORS",
    "is_connection_error",
    "is_channel_error",
    "is_precondition_failed",
    "is_not_found",
    "translate",
]

#: Errors after which the connection cannot be used any more.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # socket.error, ConnectionResetError, TimeoutError...
    EOFError,
    amqp_exc.ConnectionError,
    amqp_exc.RecoverableConnectionError,
    kombu_exc.OperationalError,
    kombu_exc.ConnectionError,
)


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the connection is lost (reconnect and retry)."""
    if isinstance(exc, amqp_exc.ChannelError) and not isinstance(
            exc, amqp_exc.RecoverableChannelError):
        return False
    return isinstance(exc, CONNECTION_ERRORS) or isinstance(
        exc, amqp_exc.RecoverableChannelError)


def is_channel_error(exc: BaseException) -> bool:
    """True for a refusal that closed only the channel (404, 406, 403...)."""
    return isinstance(exc, (amqp_exc.ChannelError, kombu_exc.ChannelError))


def is_precondition_failed(exc: BaseException) -> bool:
    """406: an entity exists with other arguments than the ones we declared."""
    return isinstance(exc, amqp_exc.PreconditionFailed) or getattr(exc, "code", None) == 406


def is_not_found(exc: BaseException) -> bool:
    """404: the exchange or queue does not exist."""
    return isinstance(exc, amqp_exc.NotFound) or getattr(exc, "code", None) == 404


def translate(exc: BaseException, what: str, where: str = "") -> MessagingException:
    """The msgframework exception for a kombu/py-amqp failure of ``what``.

    ``where`` is a redacted host description. The caller raises the result
    ``from exc`` so the original stays chained.
    """
    if isinstance(exc, MessagingException):
        return exc
    suffix = f" on {where}" if where else ""
    if isinstance(exc, socket.timeout):
        return BrokerUnavailable(f"{what}{suffix} timed out: {exc}")
    if is_connection_error(exc):
        return BrokerUnavailable(f"{what}{suffix} failed, broker unreachable: {exc}")
    if is_channel_error(exc):
        return MessageDeliveryFailure(f"{what}{suffix} refused by the broker: {exc}")
    return TransportDriverError(f"{what}{suffix} failed: {type(exc).__name__}: {exc}")
