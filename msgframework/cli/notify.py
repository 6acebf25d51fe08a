"""``msgframework notify``: send a notification from the shell.

::

    msgframework notify compute.instance.create '{"id": 42}' --priority info
    msgframework notify backup.done @payload.json --publisher-id backup.host1

Unlike a service's Notifier, a failed send is an error here (exit 1), and
retries are bounded (``--retry``, default 3) so an unreachable broker ends
the command instead of hanging it.
"""

from __future__ import annotations

import argparse
from typing import Any

from msgframework import opts as core_opts
from msgframework.cli.common import (
    PROG,
    Progress,
    default_server_name,
    emit,
    parse_json_arg,
    positive_int,
)

__all__ = ["PRIORITIES", "priority_name", "add_parser", "run"]

#: Notifier methods and listener priorities, as oslo.messaging names them
#: (``warning`` is accepted as an alias of ``warn``).
PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


def priority_name(text: str) -> str:
    """Lower-case ``text``; ``warning`` becomes ``warn``. Not validated here."""
    text = text.strip().lower()
    return "warn" if text == "warning" else text
DEFAULT_RETRY = 3


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "notify", help="send a notification",
        description="Send a notification (oslo.messaging's Notifier from the shell).")
    p.add_argument("event_type", metavar="EVENT_TYPE", help="e.g. compute.instance.create")
    p.add_argument("payload", metavar="PAYLOAD", nargs="?", default="{}",
                   help="JSON payload, @FILE to read it from a file, - for stdin (default {})")
    p.add_argument("--priority", "-p", default="info",
                   type=priority_name,
                   choices=PRIORITIES, help="notification priority (default info)")
    p.add_argument("--publisher-id", metavar="ID",
                   help=f"publisher id (default {PROG}.<hostname>)")
    p.add_argument("--topic", dest="topics", action="append", metavar="TOPIC",
                   help="topic to send to; may be repeated "
                        "(default [msgframework_notifications] topics)")
    p.add_argument("--driver", dest="drivers", action="append", metavar="NAME",
                   help="notifier driver: messagingv2 (default), messaging, log, noop, routing")
    p.add_argument("--context", metavar="JSON", default="{}",
                   help="request context, a JSON object (or @FILE)")
    p.add_argument("--retry", type=int, default=DEFAULT_RETRY, metavar="N",
                   help=f"send retries: 0 none, -1 forever (default {DEFAULT_RETRY})")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="send the notification N times (a summary shows the rate)")



def run(args: argparse.Namespace) -> int:
    from msgframework.cli.common import build_transport
    from msgframework.notify.notifier import Notifier

    ctx = args.cli_context
    payload = parse_json_arg(args.payload, "the payload")
    context = parse_json_arg(args.context, "--context", expect=dict)
    transport = build_transport(ctx, "notification")
    try:
        notifier = Notifier(transport, publisher_id=args.publisher_id or
                            f"{PROG}.{default_server_name()}",
                            driver=args.drivers, retry=args.retry, topics=args.topics,
                            raise_on_send_failure=True)  # a failed send fails the command
        send = getattr(notifier, args.priority)
        progress = Progress("sent", args.repeat if args.repeat > 1 else None)
        for _ in range(args.repeat):
            send(context, args.event_type, payload)
            progress.step()
        transport.flush()  # pipelined sends: every one confirmed, or the command fails
    finally:
        transport.cleanup()
    topics = ", ".join(args.topics or ctx.conf[core_opts.NOTIFICATIONS_GROUP].topics)
    emit(f"{PROG}: {progress.summary('notification(s)')} "
         f"({args.priority} {args.event_type} to {topics})")
    return 0
