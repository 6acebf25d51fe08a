"""Every public exception of msgframework, under one root.

Callers catch :class:`MessagingException` to handle anything we raise; the
names follow oslo.messaging so ported code keeps its ``except`` clauses.
Driver errors (kombu, py-amqp, sqlite3) are translated at the driver's edge
into this tree with the original exception chained as ``__cause__``.

::

    MessagingException
    ├── ConfigurationError              bad option value, names the option
    ├── InvalidTransportURL             URL cannot be parsed / bad query key
    ├── DriverLoadFailure               unknown or broken transport driver
    ├── ExecutorLoadFailure             unknown executor
    ├── NotifierDriverLoadFailure       unknown notifier driver
    ├── InvalidTarget (+ ValueError)    a Target unusable for the operation
    ├── MessagingTimeout                no answer / no confirm in time
    ├── MessageDeliveryFailure          send failed after its retries
    │   ├── ClientSendError             RPC client could not send
    │   ├── MessageUndeliverable        broker says nobody can receive it
    │   ├── EarlierSendFailed           messages sent without waiting failed later
    │   └── ConfirmTimeout (+ MessagingTimeout)   publish not confirmed in time
    ├── TransportDriverError            a driver failure not covered above
    │   └── BrokerUnavailable           cannot connect within the retry budget
    ├── MalformedMessage                undecodable bytes or missing keys
    ├── RemoteError                     remote exception we may not rebuild
    ├── RPCVersionCapError              version above the client's cap
    ├── RPCDispatcherError
    │   ├── NoSuchMethod (+ AttributeError)
    │   └── UnsupportedVersion
    ├── ExpectedException               wraps an exception an endpoint declared
    ├── MessagingServerError
    │   ├── ServerListenError
    │   └── TaskTimeout                 start/stop/wait did not finish in time
    ├── UnsupportedFeature              the driver cannot do what was asked
    └── EventError                      e3-style events: closed event, bad attachment,
                                        bad handler config, unreadable event dump

Secrets (transport URL passwords) never appear in these messages: code that
builds them passes :meth:`TransportURL.redacted` text, never the raw URL.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MessagingException",
    "ConfigurationError",
    "InvalidTransportURL",
    "DriverLoadFailure",
    "ExecutorLoadFailure",
    "NotifierDriverLoadFailure",
    "InvalidTarget",
    "MessagingTimeout",
    "MessageDeliveryFailure",
    "ClientSendError",
    "MessageUndeliverable",
    "EarlierSendFailed",
    "ConfirmTimeout",
    "TransportDriverError",
    "BrokerUnavailable",
    "MalformedMessage",
    "RemoteError",
    "RPCVersionCapError",
    "RPCDispatcherError",
    "NoSuchMethod",
    "UnsupportedVersion",
    "ExpectedException",
    "MessagingServerError",
    "ServerListenError",
    "TaskTimeout",
    "UnsupportedFeature",
    "EventError",
]


class MessagingException(Exception):
    """The root of every exception msgframework raises."""

    def __init__(self, msg: object = None) -> None:
        super().__init__(msg)
        self.msg = msg


class ConfigurationError(MessagingException, ValueError):
    """An option has a bad value; the message names the group and option."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"invalid option {option}: {problem}")
        self.option = option
        self.problem = problem


class InvalidTransportURL(MessagingException):
    """The transport URL cannot be used; ``url`` is the redacted text."""

    def __init__(self, url: str, msg: str) -> None:
        super().__init__(msg)
        self.url = url


class DriverLoadFailure(MessagingException):
    """The transport driver named by the URL's scheme cannot be loaded."""

    def __init__(self, driver: str, ex: BaseException | str) -> None:
        super().__init__(f"Failed to load transport driver {driver!r}: {ex}")
        self.driver = driver
        self.ex = ex


class ExecutorLoadFailure(MessagingException):
    """The executor named for a server cannot be loaded."""

    def __init__(self, executor: str, ex: BaseException | str) -> None:
        super().__init__(f"Failed to load executor {executor!r}: {ex}")
        self.executor = executor
        self.ex = ex


class NotifierDriverLoadFailure(MessagingException):
    """A notifier driver name is unknown or its plugin fails to load."""

    def __init__(self, driver: str, ex: BaseException | str) -> None:
        super().__init__(f"Failed to load notifier driver {driver!r}: {ex}")
        self.driver = driver
        self.ex = ex


class InvalidTarget(MessagingException, ValueError):
    """A Target lacks what the operation needs (a topic, a server...)."""

    def __init__(self, msg: str, target: Any) -> None:
        super().__init__(f"{msg}: {target!r}")
        self.target = target


class MessagingTimeout(MessagingException):
    """An operation did not complete within its timeout."""


class MessageDeliveryFailure(MessagingException):
    """A message could not be handed to the transport after its retries."""


class EarlierSendFailed(MessageDeliveryFailure):
    """Messages sent earlier without waiting for their confirm were not delivered.

    Pipelined sends (notifications and casts within ``confirm_window``)
    return before the broker confirms; when one of them then fails, the
    next send of the same kind raises this *after* its own message went
    out, so that message is not to be sent again. ``failures`` lists what
    failed, as ``(destination, exception)`` pairs.
    """

    def __init__(self, message: str, failures: list[tuple[str, BaseException]]) -> None:
        super().__init__(message)
        self.failures = failures


class ClientSendError(MessageDeliveryFailure):
    """The RPC client failed to send a request."""

    def __init__(self, target: Any, ex: BaseException) -> None:
        super().__init__(f"Failed to send to target {target!r}: {ex}")
        self.target = target
        self.ex = ex


class MessageUndeliverable(MessageDeliveryFailure):
    """The transport knows nobody can receive the message (no queue bound)."""

    def __init__(
        self, exception: BaseException | None, exchange: str | None,
        routing_key: str | None, message: Any = None,
    ) -> None:
        super().__init__(
            f"Message undeliverable: exchange={exchange!r} routing_key={routing_key!r}"
        )
        self.exception = exception
        self.exchange = exchange
        self.routing_key = routing_key
        self.message = message


class ConfirmTimeout(MessageDeliveryFailure, MessagingTimeout):
    """The broker did not confirm a publish in time: it may or may not be stored."""


class TransportDriverError(MessagingException):
    """A driver failure that no more specific exception describes."""


class BrokerUnavailable(TransportDriverError):
    """The broker could not be reached within the connection retry budget."""


class MalformedMessage(MessagingException):
    """A received message cannot be decoded; it is dead-lettered, not dispatched."""


class RemoteError(MessagingException):
    """An exception raised by the remote side that we may not rebuild locally.

    ``exc_type`` is the remote class name, ``value`` its message and
    ``traceback`` the remote traceback text (empty when the server does not
    send tracebacks).
    """

    def __init__(self, exc_type: str | None = None, value: str | None = None,
                 traceback: str | None = None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        super().__init__(f"Remote error: {exc_type} {value}\n{traceback or ''}.")


class RPCVersionCapError(MessagingException):
    """The requested version is above the client's ``version_cap``."""

    def __init__(self, version: str | None, version_cap: str) -> None:
        super().__init__(
            f"Requested message version, {version} is incompatible. It needs to be "
            f"equal in major version and less than or equal in minor version as "
            f"the specified version cap {version_cap}."
        )
        self.version = version
        self.version_cap = version_cap


class RPCDispatcherError(MessagingException):
    """The RPC dispatcher could not route a request to an endpoint."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    """No endpoint that accepts the namespace/version exposes the method."""

    def __init__(self, method: str) -> None:
        super().__init__(f"Endpoint does not support RPC method {method}")
        self.method = method


class UnsupportedVersion(RPCDispatcherError):
    """No endpoint accepts the requested namespace and version."""

    def __init__(self, version: str | None, method: str | None = None) -> None:
        super().__init__(f"Endpoint does not support RPC version {version}. "
                         f"Attempted method: {method}")
        self.version = version
        self.method = method


class ExpectedException(MessagingException):
    """Wraps an exception an endpoint declared with ``@expected_exceptions``.

    The server replies with the original exception and logs it at debug
    level only, since it is part of the method's contract.
    """

    def __init__(self) -> None:
        import sys

        super().__init__()
        self.exc_info = sys.exc_info()


class MessagingServerError(MessagingException):
    """Base class for errors of a MessageHandlingServer."""


class ServerListenError(MessagingServerError):
    """The server could not subscribe to its target(s)."""

    def __init__(self, target: Any, ex: BaseException) -> None:
        super().__init__(f"Failed to listen on target {target!r}: {ex}")
        self.target = target
        self.ex = ex


class TaskTimeout(MessagingServerError):
    """start(), stop() or wait() did not finish within the given timeout."""


class UnsupportedFeature(MessagingException):
    """The transport driver cannot provide a requested feature."""


class EventError(MessagingException):
    """An operation on an e3-style event failed (see :mod:`msgframework.events`).

    Raised for writes to a closed event, unsafe or oversized attachments,
    malformed handler configuration and unreadable event dumps; the message
    says which.
    """
