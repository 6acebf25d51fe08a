"""Access policies: which endpoint methods a remote caller may invoke.

An RPC request names a method by string, so without a policy any attribute
of an endpoint that happens to be callable would be reachable from the
network. The dispatcher asks its policy before every call:

* :class:`DefaultRPCAccessPolicy` (the default): every public method, none
  whose name starts with ``_``.
* :class:`ExplicitRPCAccessPolicy`: only methods marked with
  :func:`msgframework.rpc.server.expose`; the safest choice for endpoints
  that also carry helpers.
* :class:`LegacyRPCAccessPolicy`: every method, private ones included; only
  for code that relied on oslo.messaging's old default.

Policies are passed as *classes* (as in oslo.messaging); the dispatcher
builds one instance.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["RPCAccessPolicyBase", "DefaultRPCAccessPolicy", "LegacyRPCAccessPolicy",
           "ExplicitRPCAccessPolicy"]


class RPCAccessPolicyBase(abc.ABC):
    """Decides whether a method of an endpoint may be called remotely."""

    @abc.abstractmethod
    def is_allowed(self, endpoint: Any, method: str) -> bool:
        """True when ``endpoint.<method>`` may be invoked by a remote caller."""


class LegacyRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows every method, including ``_private`` ones (oslo's historic default)."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return True


class DefaultRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows public methods only: a leading underscore keeps a method local."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return not method.startswith("_")


class ExplicitRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows only methods decorated with ``@expose``."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return bool(getattr(getattr(endpoint, method, None), "exposed", False))
