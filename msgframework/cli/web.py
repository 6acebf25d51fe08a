"""``msgframework web``: serve the live notification page of a hub.

::

    msgframework web                                  # hub "web" on topic notifications
    msgframework web --hub ops --topic notifications --buffer /var/lib/app/ops-replay.db
    msgframework web --port 9000 --backlog 200

Open ``http://127.0.0.1:8765/``; filters go in the page's form or the URL
(``/?event_type=backup.*&priority=error``). The replay buffer is a file,
by default ``replay-<hub>.db`` next to the default SQLite transport file in
the user's state directory, so a restarted server still replays what
browsers missed; ``--buffer :memory:`` keeps it in memory instead.
Needs the ``web`` extra (Starlette, sse-starlette, uvicorn); this module
imports without it, so ``msgframework web`` is always listed and says what
to install when it is missing.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
from typing import Any

from msgframework.cli.common import CLIContext, UsageError, build_transport

__all__ = ["add_parser", "run"]

LOG = logging.getLogger(__name__)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "web", help="serve a hub's notifications live in a browser (SSE)",
        description="Serve a page showing a hub's notifications as they arrive; a "
                    "reconnecting browser is sent what it missed.")
    p.add_argument("--hub", default="web", help="hub name; names its durable pool "
                                               "(default: web)")
    p.add_argument("--topic", dest="topics", action="append", metavar="TOPIC",
                   help="topic to listen to; may be repeated (default: notifications)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; the page has no authentication)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument("--buffer", metavar="PATH",
                   help="SQLite file of the replay buffer (default: replay-<hub>.db in the "
                        "user's state directory; ':memory:' for none)")
    p.add_argument("--capacity", type=int, default=1000,
                   help="events the replay buffer keeps (default 1000)")
    p.add_argument("--backlog", type=int, default=50,
                   help="recent events a newly opened page shows (default 50)")


def run(args: argparse.Namespace) -> int:
    ctx: CLIContext = args.cli_context
    if args.capacity < 1:
        raise UsageError("--capacity must be at least 1")
    if args.backlog < 0:
        raise UsageError("--backlog must not be negative")
    if not 0 <= args.port <= 65535:
        raise UsageError("--port must be between 0 and 65535")
    try:
        from msgframework.web import create_app, serve
    except ImportError as exc:
        raise UsageError(f"the web page needs the 'web' extra "
                         f"(pip install 'msgframework[web]'): {exc}") from exc
    from msgframework.hubs.hub import Hub

    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        LOG.warning("Serving notifications on %s: anyone who can reach it sees them all",
                    args.host)
    transport = build_transport(ctx, "notification")
    try:
        hub = Hub(transport, args.hub, topics=args.topics or None)
        app = create_app(hub, buffer_path=args.buffer, capacity=args.capacity,
                         backlog=args.backlog)
        serve(app, host=args.host, port=args.port,
              log_level="debug" if ctx.debug else "info")
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        transport.cleanup()
    return 0
