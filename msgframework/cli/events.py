"""``msgframework send-event FILE...``: replay dumped events through the configured handlers.

The handlers come from ``--handlers``, else ``[msgframework_events]
handlers`` in the config files, else ``$MSGFRAMEWORK_EVENT_HANDLERS``; all
three use the grammar of :mod:`msgframework.events.envconfig`. A ``notify``
handler given no ``url`` sends on the command's transport (``--transport-url``
or the configuration, as ``msgframework notify`` does). One line per file
says where it went or why it failed; a bad file does not stop the others.
Exit 0 when every file was delivered to every handler, 1 otherwise, 2 for a
bad handler configuration.
"""

from __future__ import annotations

import argparse
from typing import Any

from msgframework.cli.common import PROG, CLIContext, UsageError, emit

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "send-event", help="send dumped event files through the event handlers",
        description="Replay event files (written by Event.dump or an outbox) through "
                    "the event handlers: --handlers, else [msgframework_events] handlers "
                    "of the config files, else $MSGFRAMEWORK_EVENT_HANDLERS.")
    p.add_argument("files", nargs="+", metavar="FILE", help="event file to send")
    p.add_argument("--handlers", metavar="SPEC",
                   help="handlers, e.g. 'logging|file:directory=/var/spool/events' (the "
                        "grammar of $MSGFRAMEWORK_EVENT_HANDLERS); overrides the config")
    p.add_argument("--remove-sent", action="store_true",
                   help="delete each file once every handler took it")


def command_transport_url(ctx: CLIContext) -> str:
    """The notification transport URL of the command: the flag, the files, the default.

    Not parsed here: a notify handler reports a bad URL when it sends.
    """
    from msgframework import opts as core_opts

    return (ctx.transport_url or ctx.conf[core_opts.NOTIFICATIONS_GROUP].transport_url
            or ctx.conf.transport_url or core_opts.default_transport_url())


def run(args: argparse.Namespace) -> int:
    from msgframework.events import EventManager, send_event_files
    from msgframework.exceptions import EventError

    ctx: CLIContext = args.cli_context
    # Built only if a notify handler is configured without its own url.
    defaults = {"notify": {"url": command_transport_url(ctx), "conf": ctx.conf}}
    manager = EventManager()
    try:
        try:
            if args.handlers is not None:
                manager.load_handlers(args.handlers, source="--handlers", defaults=defaults)
            else:
                manager.load_handlers_from_config(ctx.conf, defaults=defaults)
        except EventError as exc:
            raise UsageError(str(exc)) from exc
        results = send_event_files(args.files, manager, remove_sent=args.remove_sent)
    finally:
        manager.close()
    failed = 0
    for item in results:
        if item.ok and item.result is not None:
            emit(f"{item.path}: sent to {', '.join(item.result.succeeded)}")
        else:
            failed += 1
            emit(f"{item.path}: not sent: {item.error or 'no handler configured'}")
    emit(f"{PROG}: {len(results) - failed} of {len(results)} event file(s) sent")
    return 0 if failed == 0 else 1
