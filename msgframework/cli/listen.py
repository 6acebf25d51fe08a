"""``msgframework listen``: a notification listener daemon.

::

    msgframework listen                               # print every notification
    msgframework listen --json --priority error       # JSON lines, errors only
    msgframework listen --event-type '^compute\\.' --pool audit-tail
    msgframework listen --endpoint mypkg.handlers:Audit   # or [msgframework_cli]
                                                           # notification_endpoints

Without endpoints, each notification is printed on standard output, one line
each (readable, or JSON with ``--json``). Messages are acknowledged only
after the endpoints return; SIGTERM/SIGINT finish the ones in flight, SIGHUP
re-reads the configuration (see :mod:`msgframework.cli.daemon`).
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from msgframework import opts as core_opts
from msgframework.cli.common import (
    CLIContext,
    UsageError,
    build_transport,
    emit,
    load_endpoints,
)
from msgframework.cli.daemon import Daemon, run_service
from msgframework.cli.notify import PRIORITIES, priority_name

__all__ = ["add_parser", "run", "ListenService"]


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "listen", help="run a notification listener daemon",
        description="Listen to notifications: print them, or dispatch them to endpoints.")
    p.add_argument("--topic", dest="topics", action="append", metavar="TOPIC",
                   help="topic to listen to; may be repeated "
                        "(default [msgframework_notifications] topics)")
    p.add_argument("--exchange", help="exchange (default: control_exchange)")
    p.add_argument("--pool", help="listener pool: each pool gets its own copy "
                                  "(default [msgframework_cli] notification_pool)")
    p.add_argument("--priority", dest="priorities", action="append", type=priority_name,
                   choices=PRIORITIES, metavar="PRIORITY",
                   help=f"priority to print; may be repeated ({', '.join(PRIORITIES)}; "
                        "default all)")
    p.add_argument("--event-type", metavar="REGEX",
                   help="only notifications whose event type matches (re.match)")
    p.add_argument("--publisher-id", metavar="REGEX",
                   help="only notifications whose publisher id matches (re.match)")
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("--endpoint", dest="endpoints", action="append", metavar="MODULE:CLASS",
                   help="dispatch to this endpoint instead of printing; may be repeated "
                        "(default [msgframework_cli] notification_endpoints)")
    p.add_argument("--allow-requeue", action="store_true",
                   help="honour NotificationResult.REQUEUE from endpoints")
    add_daemon_options(p)
    p.add_argument("--max-messages", type=int, metavar="N",
                   help="stop (exit 0) after N notifications were dispatched")


def add_daemon_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the daemons (listen, serve)."""
    p.add_argument("--executor", choices=("threading", "blocking", "eventlet"),
                   help="how messages are dispatched (default threading)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="dispatch threads, also the bound on in-flight messages "
                        "(default executor_thread_pool_size)")
    p.add_argument("--ready-file", metavar="PATH",
                   help="create PATH once the daemon listens (for supervisors and scripts)")


class _Printer:
    """Prints notifications; one method per chosen priority is added by :func:`printer_for`."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._lock = threading.Lock()

    def handle(self, priority: str, ctxt: Any, publisher_id: str, event_type: str,
               payload: Any, metadata: Any) -> None:
        if self.as_json:
            line = json.dumps({"priority": priority, "event_type": event_type,
                               "publisher_id": publisher_id, "payload": payload,
                               "context": ctxt, "metadata": metadata},
                              sort_keys=True, default=str)
        else:
            meta = metadata if isinstance(metadata, dict) else {}
            stamp = meta.get("timestamp") or "-"
            line = (f"{stamp} {priority.upper():<8} {event_type} "
                    f"publisher={publisher_id} payload="
                    f"{json.dumps(payload, sort_keys=True, default=str)}")
        with self._lock:
            emit(line)


class _Counter:
    """Counts what the other endpoints were given (it runs last); stops at a limit."""

    def __init__(self, limit: int | None, on_limit: Callable[[], None]) -> None:
        self.count = 0
        self.limit = limit
        self._on_limit = on_limit
        self._lock = threading.Lock()

    def handle(self, priority: str, *_: Any) -> None:
        with self._lock:
            self.count += 1
            reached = self.limit is not None and self.count == self.limit
        if reached:
            self._on_limit()


def _with_priorities(base: type, priorities: Sequence[str], *init: Any) -> Any:
    """An instance of a subclass of ``base`` with one endpoint method per priority.

    The dispatcher subscribes to the priorities endpoints have methods for,
    so a printer for ``--priority error`` must not even have ``info``.
    """
    def method_for(prio: str) -> Callable[..., Any]:
        def method(self: Any, ctxt: Any, publisher_id: str, event_type: str,
                   payload: Any, metadata: Any) -> None:
            self.handle(prio, ctxt, publisher_id, event_type, payload, metadata)
        method.__name__ = prio
        return method

    cls = type(base.__name__.lstrip("_"), (base,), {p: method_for(p) for p in priorities})
    return cls(*init)


class ListenService:
    """Builds the notification listener from the arguments and the (reloadable) config."""

    name = "listen"

    def __init__(self, ctx: CLIContext, args: argparse.Namespace) -> None:
        self.ctx = ctx
        self.args = args
        self.counter: _Counter | None = None
        self.daemon: Daemon | None = None
        self._transport: Any = None
        self._transport_key: Hashable = None

    # -- settings: command line first, then the config file ----------------
    def _endpoint_specs(self) -> list[str]:
        return list(self.args.endpoints or self.ctx.cli_option("notification_endpoints"))

    def _topics(self) -> list[str]:
        return list(self.args.topics or self.ctx.conf[core_opts.NOTIFICATIONS_GROUP].topics)

    def _pool(self) -> str | None:
        return self.args.pool or self.ctx.cli_option("notification_pool") or None

    def _url_key(self) -> Hashable:
        conf = self.ctx.conf
        return (self.ctx.transport_url, conf[core_opts.NOTIFICATIONS_GROUP].transport_url,
                conf.transport_url, conf.control_exchange)

    def config_key(self) -> Hashable:
        return (tuple(self._endpoint_specs()), tuple(self._topics()), self._pool(),
                self._url_key(), self.ctx.conf.executor_thread_pool_size)

    def describe(self) -> str:
        url = self._transport.url.redacted() if self._transport is not None else "?"
        pool = f", pool {self._pool()}" if self._pool() else ""
        return f"topics {', '.join(self._topics())}{pool}, transport {url}"

    def summary(self) -> str | None:
        if self.counter is None:
            return None
        return f"{self.counter.count} notification(s) dispatched"

    # -- building ------------------------------------------------------------
    def _transport_for_now(self) -> Any:
        key = self._url_key()
        if self._transport is None or key != self._transport_key:
            self._transport = build_transport(self.ctx, "notification")
            self._transport_key = key
        return self._transport

    def _filter(self) -> Any:
        if not (self.args.event_type or self.args.publisher_id):
            return None
        from msgframework.notify.filter import NotificationFilter

        try:
            return NotificationFilter(event_type=self.args.event_type,
                                      publisher_id=self.args.publisher_id)
        except Exception as exc:  # re.error from a bad regex
            raise UsageError(f"bad filter: {exc}") from exc

    def make_server(self) -> Any:
        from msgframework.notify.listener import get_notification_listener
        from msgframework.target import Target

        specs = self._endpoint_specs()
        rule = self._filter()
        if specs:
            endpoints = load_endpoints(specs)
            for endpoint in endpoints:
                if rule is not None and getattr(endpoint, "filter_rule", None) is None:
                    endpoint.filter_rule = rule
            handled = sorted({p for e in endpoints for p in PRIORITIES
                              if callable(getattr(e, p, None))})
            priorities = [p for p in handled if p in self.args.priorities] \
                if self.args.priorities else handled
            if not priorities:
                raise UsageError("the endpoints handle none of the chosen priorities: "
                                 + ", ".join(specs))
        else:
            priorities = list(self.args.priorities or PRIORITIES)
            endpoints = [_with_priorities(_Printer, priorities, self.args.json)]
            if rule is not None:
                endpoints[0].filter_rule = rule
        previous = self.counter.count if self.counter is not None else 0
        counter = _with_priorities(_Counter, priorities, self.args.max_messages,
                                   self._limit_reached)
        counter.count = previous
        if rule is not None:
            counter.filter_rule = rule
        endpoints.append(counter)
        self.counter = counter
        if self.args.workers:
            self.ctx.conf.set_override("executor_thread_pool_size", self.args.workers)
        transport = self._transport_for_now()
        targets = [Target(topic=topic, exchange=self.args.exchange) for topic in self._topics()]
        return get_notification_listener(transport, targets, endpoints,
                                         executor=self.args.executor,
                                         allow_requeue=self.args.allow_requeue,
                                         pool=self._pool())

    def _limit_reached(self) -> None:
        if self.daemon is not None:
            self.daemon.request_stop()


def run(args: argparse.Namespace) -> int:
    ctx: CLIContext = args.cli_context
    if args.max_messages is not None and args.max_messages < 1:
        raise UsageError("--max-messages must be at least 1")
    service = ListenService(ctx, args)

    def attach(daemon: Daemon) -> None:
        service.daemon = daemon

    return run_service(ctx, service, ready_file=args.ready_file, on_daemon=attach)

