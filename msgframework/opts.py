"""Core options, their registration on the caller's ConfigOpts, and list_opts().

Options are registered on the ``ConfigOpts`` the caller hands us, never on
``oslo_config.cfg.CONF`` behind their back (oslo.messaging registers some on
the global object at import time, which breaks private configs). Our groups
carry our name and accept oslo.messaging's group names as deprecated aliases,
so an existing oslo.messaging ini file configures us unchanged.

Drivers add their own groups through :func:`register_driver_opts`, which
also applies the transport URL's query parameters as typed overrides.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from oslo_config import cfg

from msgframework.exceptions import ConfigurationError, InvalidTransportURL

__all__ = [
    "DEFAULT_OPTS",
    "NOTIFICATION_OPTS",
    "NOTIFICATIONS_GROUP",
    "register_opts",
    "register_driver_opts",
    "list_opts",
    "set_defaults",
    "default_transport_url",
    "DriverOptions",
]

NOTIFICATIONS_GROUP = "msgframework_notifications"
OSLO_NOTIFICATIONS_GROUP = "oslo_messaging_notifications"


def default_transport_url() -> str:
    """The transport used when none is configured: an SQLite file in the user's state dir.

    ``MSGFRAMEWORK_TRANSPORT_URL`` overrides it; otherwise the file is
    ``$XDG_STATE_HOME/msgframework/messages.db`` (``~/.local/state`` when
    ``XDG_STATE_HOME`` is unset). Every process of one user on one host
    therefore meets on the same file without configuration.
    """
    env = os.environ.get("MSGFRAMEWORK_TRANSPORT_URL")
    if env:
        return env
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return "sqlite:///" + str(Path(state) / "msgframework" / "messages.db").lstrip("/")


DEFAULT_OPTS = [
    cfg.StrOpt("transport_url", secret=True,
               help="Transport URL: driver://[user:pass@]host:port[,host2...]/vhost?opt=value. "
                    "Unset means the embedded SQLite transport in the user's state "
                    "directory (see MSGFRAMEWORK_TRANSPORT_URL)."),
    cfg.StrOpt("control_exchange", default="openstack",
               help="The default exchange topics are scoped to; services usually set "
                    "their own name through set_transport_defaults()."),
    cfg.IntOpt("rpc_response_timeout", default=60, min=0,
               help="Seconds to wait for an RPC reply when the client sets no timeout."),
    cfg.IntOpt("executor_thread_pool_size", default=64, min=1,
               deprecated_name="rpc_thread_pool_size",
               help="Worker threads of a server's threading executor; also bounds how "
                    "many messages a server holds unacknowledged at once."),
    cfg.BoolOpt("rpc_ping_enabled", default=False,
                help="Add an endpoint answering oslo_rpc_server_ping with 'pong'."),
    cfg.BoolOpt("rpc_send_tracebacks", default=True,
                help="Send the server-side traceback with a remote exception. True for "
                     "compatibility with oslo.messaging; set False to keep server "
                     "internals from clients."),
]

NOTIFICATION_OPTS = [
    cfg.MultiStrOpt("driver", default=[], deprecated_group=OSLO_NOTIFICATIONS_GROUP,
                    help="Notifier driver(s): messagingv2, messaging, log, noop, test, "
                         "routing. Unset means messagingv2 when a transport is given."),
    cfg.StrOpt("transport_url", secret=True, deprecated_group=OSLO_NOTIFICATIONS_GROUP,
               help="Transport URL for notifications; falls back to [DEFAULT] transport_url."),
    cfg.ListOpt("topics", default=["notifications"],
                deprecated_group=OSLO_NOTIFICATIONS_GROUP,
                help="Topics notifications are sent to."),
    cfg.IntOpt("retry", default=-1, deprecated_group=OSLO_NOTIFICATIONS_GROUP,
               help="Send retries: -1 retries forever, 0 never, N up to N times."),
    cfg.StrOpt("routing_config", default="", deprecated_group=OSLO_NOTIFICATIONS_GROUP,
               help="YAML file for the routing notifier driver."),
    cfg.BoolOpt("raise_on_send_failure", default=False,
                help="Raise MessageDeliveryFailure from Notifier methods when a send "
                     "fails after its retries. False (the oslo.messaging behaviour) logs "
                     "the failure with event type and topic and counts it."),
    cfg.IntOpt("max_delivery_attempts", default=5, min=1,
               help="Deliveries of a requeued notification before it is dead-lettered "
                    "instead of requeued again."),
]

_lock = threading.Lock()


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the core options on ``conf`` (idempotent, thread-safe)."""
    with _lock:
        conf.register_opts(DEFAULT_OPTS)
        conf.register_opts(NOTIFICATION_OPTS, group=NOTIFICATIONS_GROUP)


def set_defaults(conf: cfg.ConfigOpts, executor_thread_pool_size: int | None = None) -> None:
    """Change defaults of core options, as oslo.messaging's ``opts.set_defaults``."""
    register_opts(conf)
    if executor_thread_pool_size is not None:
        conf.set_default("executor_thread_pool_size", executor_thread_pool_size)


_DRIVER_OPTS: dict[str, list[cfg.Opt]] = {}


def register_driver_opts(group: str, opts: list[cfg.Opt]) -> None:
    """Make a driver's option group known to :func:`list_opts`."""
    _DRIVER_OPTS[group] = opts


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    """Every option, grouped, for ``oslo-config-generator --namespace msgframework``."""
    from msgframework.drivers.loader import import_driver_options
    from msgframework.events import options as event_options

    import_driver_options()
    groups: list[tuple[str | None, list[cfg.Opt]]] = [
        (None, copy.deepcopy(DEFAULT_OPTS)),
        (NOTIFICATIONS_GROUP, copy.deepcopy(NOTIFICATION_OPTS)),
    ]
    groups += event_options.list_opts()
    for group, opts in sorted(_DRIVER_OPTS.items()):
        groups.append((group, copy.deepcopy(opts)))
    return groups


class DriverOptions(Mapping[str, Any]):
    """A driver's option values: its config group overridden by URL query parameters.

    Built once when the driver loads, so a bad value fails at start-up naming
    the option, and the hot path reads plain attributes instead of going
    through oslo.config each time.
    """

    def __init__(self, conf: cfg.ConfigOpts, group: str, opts: list[cfg.Opt],
                 query: Mapping[str, str] | None = None,
                 ignore_query: Iterable[str] = ()) -> None:
        with _lock:
            conf.register_opts(opts, group=group)
        by_name = {opt.dest: opt for opt in opts}
        values: dict[str, Any] = {}
        section = getattr(conf, group)
        for opt in opts:
            try:
                values[opt.dest] = getattr(section, opt.dest)
            except (ValueError, cfg.ConfigFileValueError) as exc:
                raise ConfigurationError(f"[{group}] {opt.name}", str(exc)) from None
        ignored = set(ignore_query)
        for key, raw in (query or {}).items():
            if key in ignored:
                continue
            query_opt = by_name.get(key.replace("-", "_"))
            if query_opt is None:
                known = ", ".join(sorted(by_name))
                raise InvalidTransportURL(
                    key, f"Unknown transport URL query parameter {key!r} for [{group}]; "
                         f"known: {known}")
            try:
                values[query_opt.dest] = query_opt.type(raw)
            except (ValueError, TypeError) as exc:
                raise ConfigurationError(
                    f"[{group}] {query_opt.name} (from the transport URL)",
                    f"bad value: {exc}") from None
        self._group = group
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<DriverOptions [{self._group}]>"
