"""``msgframework call`` and ``msgframework cast``: RPC from the shell.

::

    msgframework call add '{"a": 1, "b": 2}'            # prints 3
    msgframework call echo --arg text=hello --server host1 --timeout 5
    msgframework cast sleep '{"seconds": 1}' --fanout

Arguments are a JSON object (inline, ``@FILE`` or ``-``) and/or ``--arg
key=value`` pairs (a value is JSON when it parses, else a string). ``call``
prints the result as one JSON line; a remote exception, a timeout or an
unreachable broker exit 1 with one readable line.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from msgframework.cli.common import (
    PROG,
    CLIContext,
    CLIError,
    Progress,
    UsageError,
    build_transport,
    emit,
    parse_json_arg,
    parse_key_values,
    positive_int,
    seconds,
)
from msgframework.cli.notify import DEFAULT_RETRY
from msgframework.exceptions import RemoteError
from msgframework.wire.failures import REMOTE_POSTFIX

__all__ = ["add_parser", "run"]




def add_parser(subparsers: Any) -> None:
    for name, helptext in (("call", "call a remote method and print its result"),
                           ("cast", "invoke a remote method without waiting")):
        p = subparsers.add_parser(name, help=helptext, description=helptext.capitalize() + ".")
        p.add_argument("method", metavar="METHOD")
        p.add_argument("arguments", metavar="ARGS", nargs="?", default=None,
                       help="keyword arguments: a JSON object, @FILE or - (default {})")
        p.add_argument("--arg", dest="kwargs", action="append", default=[],
                       metavar="KEY=VALUE", help="one keyword argument; may be repeated")
        p.add_argument("--topic", help="topic (default [msgframework_cli] rpc_topic)")
        p.add_argument("--server", help="send to this server only")
        p.add_argument("--exchange", help="exchange (default: control_exchange)")
        p.add_argument("--namespace", help="endpoint namespace")
        p.add_argument("--version", help="interface version, X.Y")
        p.add_argument("--context", metavar="JSON", default="{}",
                       help="request context, a JSON object (or @FILE)")
        p.add_argument("--retry", type=int, default=DEFAULT_RETRY, metavar="N",
                       help=f"send retries: 0 none, -1 forever (default {DEFAULT_RETRY})")
        p.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                       help="send N times (a summary shows the rate)")
        if name == "call":
            p.add_argument("--timeout", type=seconds, metavar="SECONDS",
                           help="seconds to wait for the reply (default rpc_response_timeout)")
        else:
            p.add_argument("--fanout", action="store_true",
                           help="deliver to every server listening on the topic")


def _is_remote(exc: BaseException) -> bool:
    return type(exc).__name__.endswith(REMOTE_POSTFIX)


def _remote_name(exc: BaseException) -> str:
    name = type(exc).__name__
    return name[: -len(REMOTE_POSTFIX)] if name.endswith(REMOTE_POSTFIX) else name


def run(args: argparse.Namespace) -> int:
    ctx: CLIContext = args.cli_context
    kwargs: dict[str, Any] = {}
    if args.arguments is not None:
        kwargs.update(parse_json_arg(args.arguments, "the arguments", expect=dict))
    kwargs.update(parse_key_values(args.kwargs, "--arg"))
    context = parse_json_arg(args.context, "--context", expect=dict)
    from msgframework.rpc.client import get_rpc_client
    from msgframework.target import Target

    topic = args.topic or ctx.cli_option("rpc_topic")
    target = Target(topic=topic, server=args.server, exchange=args.exchange,
                    namespace=args.namespace, version=args.version)
    is_call = args.command == "call"
    transport = build_transport(ctx, "rpc")
    try:
        options: dict[str, Any] = {"retry": args.retry}
        if is_call and args.timeout is not None:
            options["timeout"] = args.timeout
        client: Any = get_rpc_client(transport, target, **options)
        if not is_call and args.fanout:
            client = client.prepare(fanout=True)
        progress = Progress("called" if is_call else "cast", args.repeat
                            if args.repeat > 1 else None)
        result: Any = None
        for _ in range(args.repeat):
            try:
                if is_call:
                    result = client.call(context, args.method, **kwargs)
                else:
                    client.cast(context, args.method, **kwargs)
            except RemoteError as exc:  # a remote exception we may not rebuild
                raise CLIError(f"remote {exc.exc_type}: {_first_line(exc.value or '')}"
                               ) from exc
            except Exception as exc:
                if not _is_remote(exc):
                    raise
                # rebuilt from the server's reply; its text carries the remote traceback
                raise CLIError(f"remote {_remote_name(exc)}: "
                               f"{_first_line(str(exc))}") from exc
            progress.step()
        transport.flush()  # pipelined casts: every one confirmed, or the command fails
    finally:
        transport.cleanup()
    if is_call:
        try:
            emit(json.dumps(result, sort_keys=True))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"the result cannot be shown as JSON: {exc}") from exc
    if args.repeat > 1 or not is_call:
        where = f"{topic}" + (f".{args.server}" if args.server else "") + \
            (" (fanout)" if not is_call and args.fanout else "")
        emit(f"{PROG}: {progress.summary(args.method + '()')} on {where}",
             stream=sys.stderr)
    return 0


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
