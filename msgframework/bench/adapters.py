"""The two libraries behind one face: what a role needs to build transports.

msgframework and oslo.messaging share their public names (``Target``,
``Notifier``, ``get_notification_listener``, ``get_rpc_server``,
``get_rpc_client``), so one set of roles (:mod:`msgframework.bench.roles_api`)
drives both; an adapter only knows how each builds its configuration and
transports, and which reply queue it declared (deleted after the run).
Each adapter imports its library lazily: only the child process that plays
a role for that library ever imports it.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

#: Seconds an idle reply or fanout queue lives after its consumer left: the
#: safety net for queues whose names we cannot learn (fanout queues).
TRANSIENT_QUEUES_TTL = 60


class OursAPI:
    """msgframework, configured on a fresh ConfigOpts per transport."""

    name = "ours"

    def __init__(self) -> None:
        from msgframework.notify.listener import get_notification_listener
        from msgframework.notify.notifier import Notifier
        from msgframework.rpc.client import get_rpc_client
        from msgframework.rpc.server import get_rpc_server
        from msgframework.target import Target

        self.api = SimpleNamespace(
            Target=Target, Notifier=Notifier,
            get_notification_listener=get_notification_listener,
            get_rpc_server=get_rpc_server, get_rpc_client=get_rpc_client)

    def _conf(self, spec: dict[str, Any]) -> Any:
        from oslo_config import cfg

        from msgframework import opts

        conf = cfg.ConfigOpts()
        opts.register_opts(conf)
        conf.set_override("control_exchange", spec["exchange"])
        return conf

    def rpc_transport(self, spec: dict[str, Any]) -> Any:
        from msgframework.transport import get_rpc_transport

        return get_rpc_transport(self._conf(spec), spec["url"])

    def notification_transport(self, spec: dict[str, Any]) -> Any:
        from msgframework.transport import get_notification_transport

        return get_notification_transport(self._conf(spec), spec["url"])

    def reply_queues(self, transport: Any) -> list[str]:
        queue = getattr(transport.driver, "_reply_queue", None)
        name = getattr(queue, "name", None)
        return [name] if isinstance(name, str) else []


class OsloAPI:
    """oslo.messaging on the global cfg.CONF (it reads tracing/metrics options there)."""

    name = "oslo"

    def __init__(self) -> None:
        import oslo_messaging

        self.api = oslo_messaging
        self._configured = False

    def _conf(self, spec: dict[str, Any]) -> Any:
        import oslo_messaging
        from oslo_config import cfg
        from oslo_messaging._drivers import impl_rabbit

        conf = cfg.CONF
        if not self._configured:
            conf([], project="msgframework-bench")
            oslo_messaging.set_transport_defaults(spec["exchange"])
            conf.register_opts(impl_rabbit.rabbit_opts, group="oslo_messaging_rabbit")
            conf.set_override("rabbit_transient_queues_ttl", TRANSIENT_QUEUES_TTL,
                              group="oslo_messaging_rabbit")
            self._configured = True
        return conf

    def rpc_transport(self, spec: dict[str, Any]) -> Any:
        return self.api.get_rpc_transport(self._conf(spec), url=spec["oslo_url"])

    def notification_transport(self, spec: dict[str, Any]) -> Any:
        return self.api.get_notification_transport(self._conf(spec), url=spec["oslo_url"])

    def reply_queues(self, transport: Any) -> list[str]:
        name = getattr(getattr(transport, "_driver", None), "_reply_q", None)
        return [name] if isinstance(name, str) else []


def load(name: str) -> OursAPI | OsloAPI:
    """The adapter called ``name`` (``ours`` or ``oslo``)."""
    if name == "ours":
        return OursAPI()
    if name == "oslo":
        return OsloAPI()
    raise ValueError(f"unknown implementation {name!r}: expected 'ours' or 'oslo'")
