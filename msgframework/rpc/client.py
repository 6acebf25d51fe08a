"""RPCClient: invoke methods on remote servers, with or without waiting.

``call()`` sends a request and blocks for its reply, ``cast()`` sends and
returns. Both are *at most once* (see :mod:`msgframework.rpc.server`): a
request reaches one server at most once, and is lost if that server dies
while running it, which the caller of ``call()`` learns by a
:class:`MessagingTimeout`.

Waiting never polls: the driver keeps one reply queue per transport and a
single consumer routes each reply by message id to the thread waiting for
it (:class:`msgframework.drivers.common.ReplyWaiters`), so any number of
threads can call at once through one client.

Timeouts: ``timeout`` (default ``[DEFAULT] rpc_response_timeout``) bounds a
call from send to reply. ``call_monitor_timeout`` additionally fails a call
when the server sent no heartbeat for that long, which detects a dead
server quickly while letting a live one work up to ``timeout``. Heartbeats
start when a server begins running the request, so the monitor timeout
must also cover the time a request may wait for a free server.
"""

from __future__ import annotations

import logging
from typing import Any

from msgframework import opts as _opts
from msgframework.drivers.base import TransportOptions
from msgframework.exceptions import (
    ClientSendError,
    ConfigurationError,
    InvalidTarget,
    RPCVersionCapError,
    TransportDriverError,
)
from msgframework.serializer import NoOpSerializer, Serializer
from msgframework.target import Target, parse_version, version_is_compatible

__all__ = ["RPCClient", "get_rpc_client"]

LOG = logging.getLogger(__name__)


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()
_TARGET_FIELDS = ("exchange", "topic", "namespace", "version", "server", "fanout")


def _check_version(version: Any, target: Target) -> None:
    if version is None:
        return
    try:
        parse_version(version)
    except ValueError as exc:
        raise InvalidTarget(str(exc), target) from None


def _check_timeout(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0 or None, got {value!r}")


def _check_retry(retry: Any) -> None:
    if retry is None:
        return
    if isinstance(retry, bool) or not isinstance(retry, int) or retry < -1:
        raise ValueError(f"retry must be None, -1 (forever), 0 or a positive count, "
                         f"got {retry!r}")


def _warn_if_notification_transport(transport: Any) -> None:
    from msgframework.transport import NotificationTransport

    if isinstance(transport, NotificationTransport):
        LOG.warning("Using a notification transport for RPC; build it with "
                    "get_rpc_transport() (it may point at another broker)")


class _CallContext:
    """A target plus call options; what :meth:`RPCClient.prepare` returns.

    Holds no state besides its options, so one prepared context can be used
    from many threads at once.
    """

    def __init__(self, transport: Any, target: Target, serializer: Serializer,
                 timeout: float | None, version_cap: str | None, retry: int | None,
                 call_monitor_timeout: float | None,
                 transport_options: TransportOptions | None) -> None:
        if not isinstance(target, Target):
            raise TypeError(f"target must be a Target, got {type(target).__name__}")
        _check_version(target.version, target)
        if version_cap is not None:
            try:
                parse_version(version_cap)
            except ValueError as exc:
                raise ConfigurationError("version_cap", str(exc)) from None
        _check_timeout("timeout", timeout)
        _check_timeout("call_monitor_timeout", call_monitor_timeout)
        _check_retry(retry)
        if transport_options is not None and not isinstance(transport_options,
                                                            TransportOptions):
            raise TypeError("transport_options must be a TransportOptions, got "
                            f"{type(transport_options).__name__}")
        self.transport = transport
        self.target = target
        self.serializer = serializer
        self.timeout = timeout
        self.version_cap = version_cap
        self.retry = retry
        self.call_monitor_timeout = call_monitor_timeout
        self.transport_options = transport_options

    # -- options ------------------------------------------------------------
    def prepare(self, exchange: Any = _UNSET, topic: Any = _UNSET, namespace: Any = _UNSET,
                version: Any = _UNSET, server: Any = _UNSET, fanout: Any = _UNSET,
                timeout: Any = _UNSET, version_cap: Any = _UNSET, retry: Any = _UNSET,
                call_monitor_timeout: Any = _UNSET,
                transport_options: Any = _UNSET) -> _CallContext:
        """A copy with the given target fields and call options overridden."""
        given = dict(exchange=exchange, topic=topic, namespace=namespace, version=version,
                     server=server, fanout=fanout)
        changes = {key: value for key, value in given.items() if value is not _UNSET}
        target = self.target(**changes) if changes else self.target

        def pick(value: Any, current: Any) -> Any:
            return current if value is _UNSET else value

        return _CallContext(
            self.transport, target, self.serializer,
            pick(timeout, self.timeout), pick(version_cap, self.version_cap),
            pick(retry, self.retry), pick(call_monitor_timeout, self.call_monitor_timeout),
            pick(transport_options, self.transport_options))

    def can_send_version(self, version: Any = _UNSET) -> bool:
        """Whether a message at ``version`` (default: the target's) passes the cap."""
        version = self.target.version if version is _UNSET else version
        if self.version_cap is None:
            return True
        _check_version(version, self.target)
        return version_is_compatible(self.version_cap, version)

    # -- sending ------------------------------------------------------------
    def _message(self, ctxt: Any, method: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(method, str) or not method:
            raise ValueError(f"method must be a non-empty string, got {method!r}")
        if type(self.serializer) is NoOpSerializer:  # kwargs is already a fresh dict
            args = kwargs
        else:
            serialize = self.serializer.serialize_entity
            args = {key: serialize(ctxt, value) for key, value in kwargs.items()}
        msg: dict[str, Any] = {"method": method, "args": args}
        target = self.target
        if target.namespace is not None:
            msg["namespace"] = target.namespace
        if target.version is not None:
            msg["version"] = target.version
        if self.version_cap is not None and not version_is_compatible(
                self.version_cap, target.version):
            raise RPCVersionCapError(version=target.version, version_cap=self.version_cap)
        return msg

    def _context(self, ctxt: Any) -> dict[str, Any]:
        packed = self.serializer.serialize_context(ctxt)
        return {} if packed is None else packed

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Send a request without waiting; returns once the transport accepted it.

        With ``fanout=True`` every server on the topic gets it; with
        ``server=`` only that server.

        :raises MessageDeliveryFailure: sending failed after ``retry`` attempts.
        :raises RPCVersionCapError: the target's version is above ``version_cap``.
        """
        msg = self._message(ctxt, method, kwargs)
        try:
            self.transport._send(self.target, self._context(ctxt), msg, retry=self.retry,
                                 transport_options=self.transport_options)
        except TransportDriverError as exc:
            raise ClientSendError(self.target, exc) from exc

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Invoke ``method`` on one server and return its (deserialized) result.

        :raises InvalidTarget: the target is a fanout (a call has one answer).
        :raises MessagingTimeout: no reply within ``timeout`` (or no heartbeat
            within ``call_monitor_timeout``).
        :raises MessageUndeliverable: with ``at_least_once``, nobody listens.
        :raises RemoteError: the server raised an exception that may not be
            rebuilt here; allowed ones are raised as themselves (``<Name>_Remote``).
        """
        if self.target.fanout:
            raise InvalidTarget("A call cannot be used with fanout", self.target)
        msg = self._message(ctxt, method, kwargs)
        timeout = self.timeout
        if timeout is None:
            timeout = self.transport.conf.rpc_response_timeout
        try:
            result = self.transport._send(
                self.target, self._context(ctxt), msg, wait_for_reply=True,
                timeout=timeout, call_monitor_timeout=self.call_monitor_timeout,
                retry=self.retry, transport_options=self.transport_options)
        except TransportDriverError as exc:
            raise ClientSendError(self.target, exc) from exc
        return self.serializer.deserialize_entity(ctxt, result)


class RPCClient(_CallContext):
    """Calls and casts methods of RPC servers on ``target``.

    :param transport: from :func:`msgframework.transport.get_rpc_transport`.
    :param target: where requests go: ``topic`` required, ``server`` to pick
        one server, ``namespace``/``version`` to pick an interface.
    :param timeout: seconds a call waits for its reply; None means
        ``[DEFAULT] rpc_response_timeout`` of the transport's configuration.
    :param version_cap: highest version this client may send (rolling upgrades).
    :param serializer: converts arguments, results and the context.
    :param retry: send attempts: None or -1 forever, 0 once, N up to N retries.
    :param call_monitor_timeout: fail a call when the server sent no
        heartbeat for this long (servers heartbeat at half this interval).
    :param transport_options: :class:`TransportOptions`, e.g.
        ``at_least_once=True`` to fail fast when nobody listens.
    """

    def __init__(self, transport: Any, target: Target, timeout: float | None = None,
                 version_cap: str | None = None, serializer: Serializer | None = None,
                 retry: int | None = None, call_monitor_timeout: float | None = None,
                 transport_options: TransportOptions | None = None) -> None:
        _opts.register_opts(transport.conf)
        _warn_if_notification_transport(transport)
        super().__init__(transport, target, serializer or NoOpSerializer(), timeout,
                         version_cap, retry, call_monitor_timeout, transport_options)

    def __repr__(self) -> str:
        return f"<RPCClient {self.target!r} via {self.transport!r}>"


def get_rpc_client(transport: Any, target: Target, client_cls: type[RPCClient] = RPCClient,
                   **kwargs: Any) -> RPCClient:
    """Build an :class:`RPCClient` (the oslo.messaging front door); see its parameters."""
    return client_cls(transport, target, **kwargs)
