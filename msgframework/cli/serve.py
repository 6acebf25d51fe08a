"""``msgframework serve``: an RPC server for endpoints named on the command line or in the config.

::

    msgframework serve msgframework.cli.examples:ExampleRPCEndpoint
    msgframework --config-file svc.conf serve      # [msgframework_cli] rpc_endpoints

It listens on ``--topic`` (default ``[msgframework_cli] rpc_topic``), as
server ``--server`` (default the host name), plus the topic's fanout. An
endpoint is ``module:Class`` (built with no arguments) or ``module:object``.
SIGTERM/SIGINT finish the calls in flight, SIGHUP re-reads the
configuration (new endpoints included) and restarts the server.
"""

from __future__ import annotations

import argparse
from collections.abc import Hashable
from typing import Any

from msgframework.cli.common import (
    CLIContext,
    UsageError,
    build_transport,
    default_server_name,
    load_endpoints,
)
from msgframework.cli.daemon import run_service
from msgframework.cli.listen import add_daemon_options

__all__ = ["add_parser", "run", "ServeService"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="run an RPC server daemon",
        description="Serve RPC calls with the given endpoint classes.")
    p.add_argument("endpoints", nargs="*", metavar="MODULE:CLASS",
                   help="endpoint to serve (default [msgframework_cli] rpc_endpoints)")
    p.add_argument("--topic", help="topic (default [msgframework_cli] rpc_topic)")
    p.add_argument("--server", help="server name (default [msgframework_cli] rpc_server, "
                                    "then the host name)")
    p.add_argument("--exchange", help="exchange (default: control_exchange)")
    add_daemon_options(p)


class ServeService:
    """Builds the RPC server from the arguments and the (reloadable) config."""

    name = "serve"

    def __init__(self, ctx: CLIContext, args: argparse.Namespace) -> None:
        self.ctx = ctx
        self.args = args
        self._transport: Any = None
        self._transport_key: Hashable = None

    def _endpoint_specs(self) -> list[str]:
        return list(self.args.endpoints or self.ctx.cli_option("rpc_endpoints"))

    def _topic(self) -> str:
        return self.args.topic or self.ctx.cli_option("rpc_topic")

    def _server(self) -> str:
        return self.args.server or self.ctx.cli_option("rpc_server") or default_server_name()

    def _url_key(self) -> Hashable:
        return (self.ctx.transport_url, self.ctx.conf.transport_url,
                self.ctx.conf.control_exchange)

    def config_key(self) -> Hashable:
        return (tuple(self._endpoint_specs()), self._topic(), self._server(),
                self._url_key(), self.ctx.conf.executor_thread_pool_size)

    def describe(self) -> str:
        url = self._transport.url.redacted() if self._transport is not None else "?"
        return (f"topic {self._topic()}, server {self._server()}, endpoints "
                f"{', '.join(self._endpoint_specs())}, transport {url}")

    def summary(self) -> str | None:
        return None

    def make_server(self) -> Any:
        specs = self._endpoint_specs()
        if not specs:
            raise UsageError("no endpoints to serve: name them (module:Class) or set "
                             "[msgframework_cli] rpc_endpoints")
        endpoints = load_endpoints(specs)
        from msgframework.rpc.server import get_rpc_server
        from msgframework.target import Target

        if self.args.workers:
            self.ctx.conf.set_override("executor_thread_pool_size", self.args.workers)
        key = self._url_key()
        if self._transport is None or key != self._transport_key:
            self._transport = build_transport(self.ctx, "rpc")
            self._transport_key = key
        target = Target(topic=self._topic(), server=self._server(),
                        exchange=self.args.exchange)
        return get_rpc_server(self._transport, target, endpoints, executor=self.args.executor)


def run(args: argparse.Namespace) -> int:
    ctx: CLIContext = args.cli_context
    return run_service(ctx, ServeService(ctx, args), ready_file=args.ready_file)
