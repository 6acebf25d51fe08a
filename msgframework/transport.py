"""Transports: the handle that binds a configuration and a URL to a loaded driver.

``get_rpc_transport`` and ``get_notification_transport`` are the front door,
as in oslo.messaging. The driver is chosen by the URL scheme's part before
``+`` and loaded from the ``msgframework.drivers`` entry points.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from oslo_config import cfg

from msgframework import opts as _opts
from msgframework.drivers.base import (
    BaseDriver,
    Listener,
    QueuePolicy,
    TransportOptions,
)
from msgframework.drivers.loader import DRIVER_NAMESPACE, load_class
from msgframework.exceptions import DriverLoadFailure, InvalidTarget
from msgframework.target import Target
from msgframework.transport_url import TransportHost, TransportURL

__all__ = [
    "Transport",
    "RPCTransport",
    "NotificationTransport",
    "TransportURL",
    "TransportHost",
    "TransportOptions",
    "QueuePolicy",
    "get_transport",
    "get_rpc_transport",
    "get_notification_transport",
    "set_transport_defaults",
]

LOG = logging.getLogger(__name__)


class Transport:
    """A messaging transport: a configuration, a URL and the driver they load.

    Build it with :func:`get_rpc_transport` or :func:`get_notification_transport`.
    The underscored methods are the seam the RPC and notification layers use.
    """

    def __init__(self, driver: BaseDriver, conf: cfg.ConfigOpts, url: TransportURL) -> None:
        self.conf = conf
        self.url = url
        self._driver = driver

    @property
    def driver(self) -> BaseDriver:
        return self._driver

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url.redacted()}>"

    def _require_driver_features(self, requeue: bool = False,
                                 queue_policy: bool = False) -> None:
        self._driver.require_features(requeue=requeue, queue_policy=queue_policy)

    def _send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
              wait_for_reply: bool = False, timeout: float | None = None,
              call_monitor_timeout: float | None = None, retry: int | None = None,
              transport_options: TransportOptions | None = None) -> Any:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        return self._driver.send(target, ctxt, message, wait_for_reply=wait_for_reply,
                                 timeout=timeout, call_monitor_timeout=call_monitor_timeout,
                                 retry=retry, transport_options=transport_options)

    def _send_notification(self, target: Target, ctxt: dict[str, Any],
                           message: dict[str, Any], version: float,
                           retry: int | None = None, *,
                           queue_policy: QueuePolicy | None = None) -> None:
        """Store a notification on ``target.topic`` (``<topic>.<priority>``).

        ``queue_policy`` creates that store-and-forward queue bounded, so it
        stays bounded before anyone subscribes.

        :raises UnsupportedFeature: a ``queue_policy`` on a driver without
            :attr:`Capability.QUEUE_POLICY`.
        """
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        if queue_policy:
            self._require_driver_features(queue_policy=True)
            # Only such drivers take the keyword (see drivers/base.py).
            send: Any = self._driver.send_notification
            send(target, ctxt, message, version, retry=retry, queue_policy=queue_policy)
            return
        self._driver.send_notification(target, ctxt, message, version, retry=retry)


    def _listen(self, target: Target, batch_size: int = 1,
                batch_timeout: float | None = None) -> Listener:
        if not (target.topic and target.server):
            raise InvalidTarget("A server's target must have topic and server names specified",
                                target)
        return self._driver.listen(target, batch_size, batch_timeout)

    def _listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                  pool: str | None = None, batch_size: int = 1,
                                  batch_timeout: float | None = None, *,
                                  queue_policy: QueuePolicy | None = None) -> Listener:
        """Subscribe to notifications; ``queue_policy`` bounds the queues at store time.

        :raises UnsupportedFeature: a ``queue_policy`` on a driver that does
            not declare :attr:`Capability.QUEUE_POLICY`.
        """
        for target, _priority in targets_and_priorities:
            if not target.topic:
                raise InvalidTarget("A target must have topic specified", target)
        if queue_policy:
            self._require_driver_features(queue_policy=True)
            # Only such drivers take the keyword (see drivers/base.py).
            listen: Any = self._driver.listen_for_notifications
            listener: Listener = listen(targets_and_priorities, pool, batch_size,
                                        batch_timeout, queue_policy=queue_policy)
            return listener
        return self._driver.listen_for_notifications(targets_and_priorities, pool,
                                                     batch_size, batch_timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every message sent without waiting for its confirm is settled.

        Notifications and casts within the RabbitMQ driver's
        ``confirm_window`` return before the broker confirms them; this is
        the point where their outcome is known. Raises
        :class:`~msgframework.exceptions.EarlierSendFailed` for those that
        failed (each failure is raised once); returns False when
        ``timeout`` passed first. Drivers that store before returning have
        nothing to wait for. ``cleanup()`` flushes too.
        """
        return self._driver.flush(timeout)

    def cleanup(self) -> None:
        """Settle what is in flight, then release the driver's connections, threads and files."""
        self._driver.cleanup()


class RPCTransport(Transport):
    """A transport meant for RPC clients and servers."""


class NotificationTransport(Transport):
    """A transport meant for notifiers and notification listeners."""


def _get_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None,
                   allowed_remote_exmods: Iterable[str] | None,
                   transport_cls: type[Transport]) -> Transport:
    _opts.register_opts(conf)
    if not isinstance(url, TransportURL):
        url = TransportURL.parse(conf, url)
    name = url.driver_name
    try:
        driver_cls = load_class(DRIVER_NAMESPACE, name)
    except LookupError as exc:
        raise DriverLoadFailure(name, exc) from None
    driver = driver_cls(conf, url, default_exchange=conf.control_exchange,
                        allowed_remote_exmods=list(allowed_remote_exmods or []))
    return transport_cls(driver, conf, url)


def get_rpc_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                      allowed_remote_exmods: Iterable[str] | None = None,
                      transport_cls: type[Transport] = RPCTransport) -> Transport:
    """Build the transport RPC clients and servers use.

    :param conf: the caller's ConfigOpts; our options are registered on it.
    :param url: a URL string or TransportURL; None means ``[DEFAULT] transport_url``,
        and when that is unset the embedded SQLite default.
    :param allowed_remote_exmods: modules whose exceptions may be rebuilt from
        RPC replies (builtins always are).
    :raises InvalidTransportURL: the URL cannot be parsed.
    :raises DriverLoadFailure: no driver is installed for the scheme.
    """
    return _get_transport(conf, url, allowed_remote_exmods, transport_cls)


def get_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                  allowed_remote_exmods: Iterable[str] | None = None) -> Transport:
    """Deprecated alias of :func:`get_rpc_transport`, kept for ported code."""
    return get_rpc_transport(conf, url, allowed_remote_exmods)


def get_notification_transport(conf: cfg.ConfigOpts, url: str | TransportURL | None = None,
                               allowed_remote_exmods: Iterable[str] | None = None
                               ) -> Transport:
    """Build the transport notifiers and listeners use.

    ``url`` None means ``[msgframework_notifications] transport_url``, then
    ``[DEFAULT] transport_url``, then the embedded default.
    """
    _opts.register_opts(conf)
    if url is None:
        url = conf[_opts.NOTIFICATIONS_GROUP].transport_url or None
    return _get_transport(conf, url, allowed_remote_exmods, NotificationTransport)


def set_transport_defaults(control_exchange: str) -> None:
    """Change the default ``control_exchange`` for every ConfigOpts registered later.

    Services call it once at start-up (nova -> "nova") so their topics are
    scoped in their own exchange.
    """
    for opt in _opts.DEFAULT_OPTS:
        if opt.dest == "control_exchange":
            opt.default = control_exchange
