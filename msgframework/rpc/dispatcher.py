"""RPCDispatcher: find the endpoint method a request names and call it.

Endpoints are tried **in the order given**. An endpoint is a candidate when
its ``target`` accepts the request's namespace (the target's namespace or
one of its ``legacy_namespaces``; no ``target`` attribute means the null
namespace at version 1.0) and its version can serve the requested one
(same major, minor at least the requested). The first candidate that has
the method, and whose access policy allows calling it, runs it as
``method(ctxt, **args)``.

When no candidate exists the request fails with :class:`UnsupportedVersion`;
when candidates exist but none offers the method, with
:class:`NoSuchMethod`. Both travel back to the caller as remote errors.

Serializers are applied here: the context and every argument are
deserialized before the call, the result serialized after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from msgframework.exceptions import NoSuchMethod, UnsupportedVersion
from msgframework.rpc.policies import DefaultRPCAccessPolicy, RPCAccessPolicyBase
from msgframework.serializer import NoOpSerializer, Serializer
from msgframework.target import Target, version_is_compatible

__all__ = ["RPCDispatcher", "PingEndpoint", "PING_METHOD"]

LOG = logging.getLogger(__name__)

PING_METHOD = "oslo_rpc_server_ping"
_DEFAULT_VERSION = "1.0"
_CACHE_LIMIT = 1024


class PingEndpoint:
    """Answers ``oslo_rpc_server_ping`` with ``'pong'``: a liveness probe for operators."""

    target = Target()

    def oslo_rpc_server_ping(self, ctxt: Any, **kwargs: Any) -> str:
        return "pong"


class RPCDispatcher:
    """Routes RPC requests to endpoint methods (see the module docstring).

    :param endpoints: objects whose methods are callable remotely, tried in order.
    :param serializer: converts contexts, arguments and results; None means
        :class:`NoOpSerializer`.
    :param access_policy: a *class* derived from :class:`RPCAccessPolicyBase`;
        None means :class:`DefaultRPCAccessPolicy` (no ``_private`` methods).
    :param ping_enabled: append a :class:`PingEndpoint`. The RPC server sets it
        from its transport's ``rpc_ping_enabled`` option.
    :raises TypeError: an endpoint's ``target`` is not a Target, or the policy
        is not a policy class.
    """

    def __init__(self, endpoints: Iterable[Any], serializer: Serializer | None = None,
                 access_policy: type[RPCAccessPolicyBase] | None = None, *,
                 ping_enabled: bool = False) -> None:
        if access_policy is None:
            access_policy = DefaultRPCAccessPolicy
        if not (isinstance(access_policy, type)
                and issubclass(access_policy, RPCAccessPolicyBase)):
            raise TypeError("access_policy must be a class derived from "
                            f"RPCAccessPolicyBase, got {access_policy!r}")
        endpoints = list(endpoints)
        for endpoint in endpoints:
            target = getattr(endpoint, "target", None)
            if target is not None and not isinstance(target, Target):
                raise TypeError(f"Endpoint {endpoint!r}: 'target' must be a Target, "
                                f"got {type(target).__name__}")
        if ping_enabled:
            for endpoint in endpoints:
                if callable(getattr(endpoint, PING_METHOD, None)):
                    LOG.warning("Endpoint %r defines %s; the built-in ping endpoint "
                                "comes after it and will not answer", endpoint, PING_METHOD)
            endpoints.append(PingEndpoint())
        self.endpoints = endpoints
        self.serializer = serializer or NoOpSerializer()
        self._passthrough = type(self.serializer) is NoOpSerializer
        self.access_policy = access_policy()
        # (namespaces, version) per endpoint, read once: targets do not change.
        self._routes = [(endpoint, _accepted(endpoint)) for endpoint in endpoints]
        self._cache: dict[tuple[str | None, str, str], Any] = {}
        self._cache_lock = threading.Lock()

    def _lookup(self, namespace: str | None, version: str, method: str) -> Any:
        """The bound method serving the request; NoSuchMethod or UnsupportedVersion."""
        key = (namespace, version, method)
        found = self._cache.get(key)
        if found is not None:
            return found
        candidate = False
        for endpoint, (namespaces, imp_version) in self._routes:
            if namespace not in namespaces:
                continue
            try:
                compatible = version_is_compatible(imp_version, version)
            except ValueError:
                raise UnsupportedVersion(version, method=method) from None
            if not compatible:
                continue
            candidate = True
            func = getattr(endpoint, method, None)
            if (func is None or not callable(func) or isinstance(func, Target)
                    or not self.access_policy.is_allowed(endpoint, method)):
                continue
            with self._cache_lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()   # bounded: names come from the network
                self._cache[key] = func
            return func
        if candidate:
            raise NoSuchMethod(method)
        raise UnsupportedVersion(version, method=method)

    def dispatch(self, incoming: Any) -> Any:
        """Call the method ``incoming.message`` names with ``incoming.ctxt``; return its result.

        Exceptions of the endpoint propagate unchanged (the server turns them
        into the reply's failure).
        """
        message = incoming.message
        method = message.get("method")
        if not isinstance(method, str):
            raise NoSuchMethod(repr(method))
        args = message.get("args") or {}
        if not isinstance(args, dict):
            raise TypeError(f"RPC method {method} got 'args' of type "
                            f"{type(args).__name__}, expected an object")
        func = self._lookup(message.get("namespace"),
                            message.get("version") or _DEFAULT_VERSION, method)
        serializer = self.serializer
        if self._passthrough:   # the usual case: skip three no-op calls per value
            return func(incoming.ctxt, **args)
        ctxt = serializer.deserialize_context(incoming.ctxt)
        kwargs = {name: serializer.deserialize_entity(ctxt, value)
                  for name, value in args.items()}
        result = func(ctxt, **kwargs)
        return serializer.serialize_entity(ctxt, result)


def _accepted(endpoint: Any) -> tuple[frozenset[str | None], str]:
    target = getattr(endpoint, "target", None) or Target()
    return frozenset(target.accepted_namespaces), target.version or _DEFAULT_VERSION
