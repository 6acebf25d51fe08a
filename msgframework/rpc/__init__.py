"""Remote procedure calls: clients, servers, the dispatcher and access policies.

Modules: :mod:`~msgframework.rpc.client` (RPCClient, get_rpc_client),
:mod:`~msgframework.rpc.server` (RPCServer, get_rpc_server and the delivery
guarantee), :mod:`~msgframework.rpc.dispatcher` (how requests find endpoint
methods), :mod:`~msgframework.rpc.policies` (who may call what),
:mod:`~msgframework.rpc.monitor` (call-monitor heartbeats).
"""

from msgframework.rpc.client import RPCClient, get_rpc_client
from msgframework.rpc.decorators import expected_exceptions, expose
from msgframework.rpc.dispatcher import RPCDispatcher
from msgframework.rpc.policies import (
    DefaultRPCAccessPolicy,
    ExplicitRPCAccessPolicy,
    LegacyRPCAccessPolicy,
    RPCAccessPolicyBase,
)
from msgframework.rpc.server import RPCServer, get_rpc_server

__all__ = [
    "RPCClient",
    "get_rpc_client",
    "RPCServer",
    "get_rpc_server",
    "RPCDispatcher",
    "RPCAccessPolicyBase",
    "DefaultRPCAccessPolicy",
    "LegacyRPCAccessPolicy",
    "ExplicitRPCAccessPolicy",
    "expected_exceptions",
    "expose",
]
