"""RPC servers: receive requests, dispatch them to endpoints, send the replies.

Delivery guarantee
------------------
* **call** and **cast** are *at most once*, as in oslo.messaging: the
  server acknowledges a request before dispatching it, so a request is
  never run twice, but one the server has taken and not finished is lost
  if the process dies. The loss is bounded: the server never holds more
  unacknowledged-or-running requests than its executor has workers
  (``executor_thread_pool_size``), unlike oslo.messaging's unbounded
  prefetch. A caller of ``call`` learns about a loss through
  :class:`MessagingTimeout` (sooner with ``call_monitor_timeout``); a
  ``cast`` gives no signal. Make casts idempotent or use notifications
  (at-least-once) for work that must not be lost.
* Requests are stored by the transport until a server takes them, so a
  request sent before any server is up is served when one starts (on
  drivers that store; ``TransportOptions(at_least_once=True)`` turns a
  missing subscriber into :class:`MessageUndeliverable` instead).

Replies
-------
The endpoint's return value goes back to the caller; an exception goes
back serialized (class, module, message, args, kwargs and, unless
``[DEFAULT] rpc_send_tracebacks`` is False, the traceback) and is rebuilt
by the client. A return value JSON cannot encode is reported to the caller
as a ``TypeError`` naming the method instead of being silently lost.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

from msgframework import opts as _opts
from msgframework.drivers.base import IncomingMessage, Listener
from msgframework.exceptions import ExpectedException, NoSuchMethod
from msgframework.rpc.client import _warn_if_notification_transport
from msgframework.rpc.decorators import expected_exceptions, expose
from msgframework.rpc.dispatcher import RPCDispatcher
from msgframework.rpc.monitor import CallMonitor
from msgframework.rpc.policies import RPCAccessPolicyBase
from msgframework.serializer import Serializer
from msgframework.server import MessageHandlingServer
from msgframework.target import Target
from msgframework.wire.failures import serialize_remote_exception
from msgframework.wire.jsonutil import dumps

__all__ = ["RPCServer", "get_rpc_server", "expected_exceptions", "expose"]

LOG = logging.getLogger(__name__)

_PRIMITIVES = (str, int, float, bool, type(None))
_QUIET_SUFFIX = "_ignore_errors"  # health probes call such names on purpose


class RPCServer(MessageHandlingServer):
    """A server listening on ``target`` (topic and server name) for RPC requests.

    Build it with :func:`get_rpc_server`. ``start()``, ``stop()``, ``wait()``
    and ``reset()`` come from :class:`MessageHandlingServer`.
    """

    def __init__(self, transport: Any, target: Target, dispatcher: RPCDispatcher,
                 executor: str | None = None) -> None:
        super().__init__(transport, dispatcher, executor)
        self.target = target
        self._monitor = CallMonitor()
        self._send_tracebacks = bool(self.conf.rpc_send_tracebacks)

    def _create_listener(self) -> Listener:
        # Read on every start, so reset() after a configuration reload applies it.
        self._send_tracebacks = bool(self.conf.rpc_send_tracebacks)
        return self.transport._listen(self.target, 1, None)

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        for message in incoming:
            # At most once: settle before running, so a redelivery can never
            # run a request twice (see the module docstring).
            message.acknowledge()
            self._handle(message)

    def _handle(self, message: IncomingMessage) -> None:
        watch = None
        failure: str | None = None
        result: Any = None
        if message.client_timeout and message.reply_q is not None:
            watch = self._monitor.watch(message, message.client_timeout)
        try:
            result = self.dispatcher.dispatch(message)
        except ExpectedException as expected:
            LOG.debug("Expected exception from RPC method %s",
                      message.message.get("method"), exc_info=expected.exc_info)
            failure = self._failure(expected.exc_info)
        except NoSuchMethod as exc:
            if exc.method.endswith(_QUIET_SUFFIX):
                LOG.debug("Probe for missing method %s", exc.method)
            else:
                LOG.warning("Cannot dispatch RPC request: %s", exc)
            failure = self._failure(sys.exc_info())
        except Exception:
            LOG.exception("Exception during RPC method %s", message.message.get("method"))
            failure = self._failure(sys.exc_info())
        else:
            if message.reply_q is not None and not isinstance(result, _PRIMITIVES):
                failure = self._check_encodable(message, result)
        finally:
            if watch is not None:
                self._monitor.unwatch(watch)
        if failure is not None:
            message.reply(failure=failure)
        else:
            message.reply(result)

    def _check_encodable(self, message: IncomingMessage, result: Any) -> str | None:
        """None if the result can go on the wire, else a failure explaining why not."""
        try:
            dumps(result)
        except (TypeError, ValueError) as exc:
            method = message.message.get("method")
            LOG.error("RPC method %s returned a value that cannot be sent: %s", method, exc)
            problem = TypeError(f"RPC method {method!r} returned a value that cannot be "
                                f"encoded as JSON: {exc}")
            return serialize_remote_exception(problem, include_traceback=False)
        return None

    def _failure(self, exc_info: Any) -> str:
        return serialize_remote_exception(exc_info, include_traceback=self._send_tracebacks)


def get_rpc_server(transport: Any, target: Target, endpoints: Iterable[Any],
                   executor: str | None = None, serializer: Serializer | None = None,
                   access_policy: type[RPCAccessPolicyBase] | None = None,
                   server_cls: type[RPCServer] = RPCServer) -> RPCServer:
    """Build an RPC server; call ``start()`` on it to begin serving.

    :param transport: from :func:`msgframework.transport.get_rpc_transport`.
    :param target: the topic and the server's own name (both required when
        the server starts; ``exchange`` optional).
    :param endpoints: objects whose public methods are callable remotely,
        tried in order (see :mod:`msgframework.rpc.dispatcher`).
    :param executor: ``threading`` (default), ``blocking`` or ``eventlet``.
    :param serializer: converts contexts, arguments and results.
    :param access_policy: a policy *class*; default :class:`DefaultRPCAccessPolicy`.

    The ping endpoint is added when ``rpc_ping_enabled`` is set in the
    transport's own configuration (oslo.messaging reads the global one).
    """
    if not isinstance(target, Target):
        raise TypeError(f"target must be a Target, got {type(target).__name__}")
    _opts.register_opts(transport.conf)
    _warn_if_notification_transport(transport)
    dispatcher = RPCDispatcher(endpoints, serializer, access_policy,
                               ping_enabled=bool(transport.conf.rpc_ping_enabled))
    return server_cls(transport, target, dispatcher, executor)
