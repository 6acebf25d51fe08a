"""Notification listeners: servers that feed received notifications to endpoints.

``get_notification_listener`` and ``get_batch_notification_listener`` keep
oslo.messaging's signatures. The listener subscribes to ``<topic>.<priority>``
of every target, for the priorities some endpoint handles and no others.

Guarantees, per message
-----------------------
* **At-least-once.** A message is acknowledged only after the endpoints
  returned. If the process dies first, the transport delivers it again, so
  endpoints must tolerate duplicates (``metadata["message_id"]`` helps).
* **HANDLED** (or ``None``, or no endpoint's filter matched): acknowledged.
* **REQUEUE** (returned, or the endpoint raised):

  - with ``allow_requeue=True`` the message is requeued and delivered again
    (to this or another listener of the pool), until it has been delivered
    ``max_delivery_attempts`` times (``[msgframework_notifications]``,
    default 5); then it is **dead-lettered** with the last reason instead of
    looping forever. A driver's own redelivery limit (``max_deliveries`` of
    the memory and SQLite drivers, default 20) is raised to it when lower;
  - with ``allow_requeue=False`` (the default, as oslo.messaging) it is
    **dead-lettered** at once with the reason, and logged. oslo.messaging
    acknowledges it, which silently drops the notification.

  In a batch, REQUEUE applies to every message of the priority group the
  endpoint was given. Endpoints before the one that asked for REQUEUE have
  already run and will see the message again.
* **Never dispatchable** (an unknown priority, a context or payload the
  serializer cannot rebuild): logged and dead-lettered, never a crash, never
  a loop. Undecodable bytes are the driver's to dead-letter.
* ``allow_requeue=True`` on a driver that cannot requeue raises
  :class:`UnsupportedFeature` at construction (oslo.messaging stopped
  checking in 2016 and acked instead).
* **Pools**: listeners sharing a ``pool`` name share one copy of each
  notification; every pool gets its own copy. Pooled listeners do not drain
  the non-pooled ``<topic>.<priority>`` queue publishers fill: run a
  non-pooled listener as well, or that queue grows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from msgframework import opts as _opts
from msgframework.drivers.base import IncomingMessage, Listener, QueuePolicy
from msgframework.notify.dispatcher import (
    REJECT,
    BatchNotificationDispatcher,
    DispatchOutcome,
    NotificationDispatcher,
    NotificationResult,
)
from msgframework.serializer import Serializer
from msgframework.server import MessageHandlingServer
from msgframework.target import Target

__all__ = ["NotificationServer", "BatchNotificationServer",
           "get_notification_listener", "get_batch_notification_listener"]

LOG = logging.getLogger(__name__)


@runtime_checkable
class _LimitsDeliveries(Protocol):
    """A listener whose driver dead-letters requeued messages by itself after a
    number of deliveries (the memory and SQLite drivers' ``max_deliveries``).

    ``allow_deliveries(n)`` tells it the server requeues up to ``n``
    deliveries and dead-letters on its own after that, so the driver must
    not do it sooner: the listener's ``max_delivery_attempts`` wins.
    """

    def allow_deliveries(self, count: int) -> None: ...


class NotificationServer(MessageHandlingServer):
    """Receives notifications one at a time and settles each after dispatch.

    :param max_delivery_attempts: None means the option of that name.
    :param queue_policy: bounds (message TTL, max length) the transport
        enforces on the listener's queues as messages are stored; see
        :class:`~msgframework.drivers.base.QueuePolicy`.
    """

    def __init__(self, transport: Any, targets: Sequence[Target],
                 dispatcher: NotificationDispatcher, executor: str | None = None,
                 allow_requeue: bool = False, pool: str | None = None, *,
                 max_delivery_attempts: int | None = None,
                 queue_policy: QueuePolicy | None = None) -> None:
        super().__init__(transport, dispatcher, executor)
        targets = _check_targets(targets)
        _opts.register_opts(self.conf)
        if max_delivery_attempts is None:
            max_delivery_attempts = self.conf[_opts.NOTIFICATIONS_GROUP].max_delivery_attempts
        if max_delivery_attempts < 1:
            raise ValueError("max_delivery_attempts must be at least 1")
        if allow_requeue:
            transport._require_driver_features(requeue=True)
        if queue_policy:
            transport._require_driver_features(queue_policy=True)
        self.queue_policy = queue_policy or None
        self.targets = targets
        self.pool = pool
        self.allow_requeue = allow_requeue
        self.max_delivery_attempts = max_delivery_attempts

    def _create_listener(self) -> Listener:
        pairs = [(target, priority) for target in self.targets
                 for priority in self.dispatcher.supported_priorities]
        listener = self.transport._listen_for_notifications(
            pairs, self.pool, self.batch_size, self.batch_timeout,
            queue_policy=self.queue_policy)
        if self.allow_requeue and isinstance(listener, _LimitsDeliveries):
            listener.allow_deliveries(self.max_delivery_attempts)
        return listener

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        for message in incoming:
            self._settle(message, self.dispatcher.dispatch(message))

    def _settle(self, message: IncomingMessage, outcome: DispatchOutcome) -> None:
        """Acknowledge, requeue or dead-letter one message; see the module docstring."""
        if outcome.result == NotificationResult.HANDLED:
            message.acknowledge()
            return
        if outcome.result == REJECT:
            LOG.error("Notification %s cannot be dispatched: %s", message.msg_id,
                      outcome.reason)
            message.dead_letter(outcome.reason)
            return
        if not self.allow_requeue:
            LOG.error("Notification %s not handled (%s) and requeue is disabled: "
                      "dead-lettering it", message.msg_id, outcome.reason)
            message.dead_letter(f"not handled, requeue disabled: {outcome.reason}")
            return
        if message.delivery_count >= self.max_delivery_attempts:
            LOG.error("Notification %s not handled after %d deliveries (%s): "
                      "dead-lettering it", message.msg_id, message.delivery_count,
                      outcome.reason)
            message.dead_letter(f"not handled after {message.delivery_count} deliveries: "
                                f"{outcome.reason}")
            return
        LOG.debug("Requeueing notification %s (delivery %d): %s", message.msg_id,
                  message.delivery_count, outcome.reason)
        message.requeue()


class BatchNotificationServer(NotificationServer):
    """Receives notifications in batches of up to ``batch_size``.

    A batch is handed over when it is full or ``batch_timeout`` seconds after
    its first message, whichever comes first.
    """

    def __init__(self, transport: Any, targets: Sequence[Target],
                 dispatcher: BatchNotificationDispatcher, executor: str | None = None,
                 allow_requeue: bool = False, pool: str | None = None,
                 batch_size: int = 1, batch_timeout: float | None = None, *,
                 max_delivery_attempts: int | None = None,
                 queue_policy: QueuePolicy | None = None) -> None:
        super().__init__(transport, targets, dispatcher, executor, allow_requeue, pool,
                         max_delivery_attempts=max_delivery_attempts,
                         queue_policy=queue_policy)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_timeout is not None and batch_timeout < 0:
            raise ValueError(f"batch_timeout must not be negative, got {batch_timeout}")
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout

    def _process_incoming(self, incoming: list[IncomingMessage]) -> None:
        outcomes = self.dispatcher.dispatch_batch(incoming)
        for message, outcome in zip(incoming, outcomes, strict=True):
            self._settle(message, outcome)


def _check_targets(targets: Any) -> list[Target]:
    if isinstance(targets, Target):
        targets = [targets]
    targets = list(targets or [])
    if not targets:
        raise ValueError("a notification listener needs at least one target")
    for target in targets:
        if not isinstance(target, Target):
            raise TypeError(f"targets must be Target objects, not {type(target).__name__}")
        if not target.topic:
            raise ValueError(f"a notification target needs a topic: {target!r}")
    return targets


def get_notification_listener(transport: Any, targets: Sequence[Target],
                              endpoints: Sequence[Any], executor: str | None = None,
                              serializer: Serializer | None = None,
                              allow_requeue: bool = False, pool: str | None = None, *,
                              max_delivery_attempts: int | None = None,
                              queue_policy: QueuePolicy | None = None
                              ) -> NotificationServer:
    """A server that dispatches notifications one at a time.

    :param targets: Targets whose ``topic`` (and optional ``exchange``) to listen on.
    :param endpoints: objects with priority-named methods.
    :param executor: ``threading`` (default), ``blocking``, ``eventlet``.
    :param allow_requeue: honour REQUEUE (and endpoint exceptions) by
        redelivering, up to ``max_delivery_attempts`` deliveries.
    :param pool: consumer pool name: one copy per pool.
    :param queue_policy: a message TTL and/or max length (drop-head) the
        transport enforces on the listener's queues as messages are stored
        (:class:`~msgframework.drivers.base.QueuePolicy`), so an unread queue
        stays bounded.
    :raises ValueError: no endpoint handles a priority, or no target.
    :raises UnsupportedFeature: ``allow_requeue`` on a driver without requeue,
        or a ``queue_policy`` on one without queue policies.
    """
    dispatcher = NotificationDispatcher(endpoints, serializer)
    return NotificationServer(transport, targets, dispatcher, executor, allow_requeue, pool,
                              max_delivery_attempts=max_delivery_attempts,
                              queue_policy=queue_policy)


def get_batch_notification_listener(transport: Any, targets: Sequence[Target],
                                    endpoints: Sequence[Any], executor: str | None = None,
                                    serializer: Serializer | None = None,
                                    allow_requeue: bool = False, pool: str | None = None,
                                    batch_size: int | None = None,
                                    batch_timeout: float | None = None, *,
                                    max_delivery_attempts: int | None = None,
                                    queue_policy: QueuePolicy | None = None
                                    ) -> BatchNotificationServer:
    """A server whose endpoints get lists of notifications.

    ``batch_size`` None means 1 (oslo.messaging leaves it None, which its
    drivers read as 1); ``batch_timeout`` None means hand over whatever has
    arrived as soon as the first message is there. ``queue_policy`` as for
    :func:`get_notification_listener`.
    """
    dispatcher = BatchNotificationDispatcher(endpoints, serializer)
    return BatchNotificationServer(transport, targets, dispatcher, executor, allow_requeue,
                                   pool, batch_size or 1, batch_timeout,
                                   max_delivery_attempts=max_delivery_attempts,
                                   queue_policy=queue_policy)
