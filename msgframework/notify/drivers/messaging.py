"""Drivers that publish notifications on the transport.

``messagingv2`` (the recommended one) wraps the message in oslo's
``oslo.version``/``oslo.message`` envelope; ``messaging`` sends the bare dict
(envelope version 1.0) for old consumers. Each sends one copy per topic to
``Target(topic="<topic>.<priority lower-cased>")``.

A failing topic does not stop the others: every topic is tried, then one
:class:`MessageDeliveryFailure` lists the failed topics (``.failures``).
Values JSON cannot encode raise TypeError/ValueError at once: that is a bug
in the caller, not a delivery failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgframework.drivers.base import QueuePolicy
from msgframework.exceptions import InvalidTarget, NotifierDriverLoadFailure
from msgframework.notify.drivers.base import Driver, send_failure
from msgframework.target import Target

__all__ = ["MessagingDriver", "MessagingV2Driver"]


class MessagingDriver(Driver):
    """Sends notifications without the envelope (version 1.0)."""

    version: float = 1.0
    name = "messaging"
    #: Set by the Notifier's ``queue_policy``: bounds the queues sent to.
    queue_policy: QueuePolicy | None = None

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Any = None) -> None:
        super().__init__(conf, topics, transport)
        if transport is None:
            raise NotifierDriverLoadFailure(
                self.name, "this driver publishes on a transport, and none was given")
        if not self.topics:
            raise NotifierDriverLoadFailure(self.name, "no topics to send to")
        # Targets are built once per (topic, priority), not per notification.
        self._targets: dict[tuple[str, str], Target] = {}

    def _target(self, topic: str, priority: str) -> Target:
        key = (topic, priority)
        target = self._targets.get(key)
        if target is None:
            target = self._targets[key] = Target(topic=f"{topic}.{priority.lower()}")
        return target

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> None:
        failures: list[tuple[str, BaseException]] = []
        for topic in self.topics:
            try:
                self.transport._send_notification(
                    self._target(topic, priority), ctxt, message, self.version,
                    retry=retry, queue_policy=self.queue_policy)
            except InvalidTarget:
                raise
            except (TypeError, ValueError):
                raise  # cannot be encoded: the caller's bug, not a delivery failure
            except Exception as exc:
                failures.append((topic, exc))
        if failures:
            raise send_failure(str(message.get("event_type")), failures) from failures[0][1]


class MessagingV2Driver(MessagingDriver):
    """Sends notifications in oslo's 2.0 envelope (the default driver)."""

    version = 2.0
    name = "messagingv2"
