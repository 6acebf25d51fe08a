"""The notifier driver contract and the plugin loader for notifier drivers.

A notifier driver is a class registered under the
``msgframework.notify.drivers`` entry points and built as
``Driver(conf, topics=..., transport=...)``, the call oslo.messaging makes,
so a driver written for one is easy to port to the other.

``notify(ctxt, message, priority, retry)`` gets the finished notification
dict (``message_id``, ``publisher_id``, ``event_type``, ``priority``,
``payload``, ``timestamp``) and the context as a dict. A driver:

* raises :class:`TypeError` (or ValueError) at once for a message it cannot
  encode: that is the caller's bug and the Notifier lets it through;
* raises :class:`MessageDeliveryFailure` when delivery failed after
  ``retry``; :func:`send_failure` builds one that says which topics failed
  so the Notifier can log and count them. The Notifier decides whether that
  reaches the application (see ``raise_on_send_failure``);
* returns :data:`UNROUTED` when, by its configuration, it sent the
  notification nowhere (the routing driver when no rule accepts it), so the
  Notifier counts it apart from those sent; anything else (None) means
  handled.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from msgframework.drivers.loader import NOTIFIER_NAMESPACE, load_class
from msgframework.exceptions import (
    MessageDeliveryFailure,
    MessagingException,
    NotifierDriverLoadFailure,
)

__all__ = ["Driver", "UNROUTED", "send_failure", "load_notifier_driver"]

#: What ``Driver.notify`` returns for a notification it sent nowhere on purpose.
UNROUTED = "unrouted"


def send_failure(event_type: str,
                 failures: Sequence[tuple[str, BaseException]]) -> MessageDeliveryFailure:
    """A MessageDeliveryFailure saying which topics of one notification failed.

    ``failures`` (a list of ``(topic, exception)``) is kept on the exception
    as ``.failures`` so the Notifier can log and count each topic; the
    raiser chains the first exception as ``__cause__``.
    """
    topics = ", ".join(topic for topic, _ in failures)
    detail = "; ".join(f"{topic}: {exc}" for topic, exc in failures)
    exc = MessageDeliveryFailure(
        f"notification {event_type!r} not delivered to topic(s) {topics}: {detail}")
    exc.failures = list(failures)  # type: ignore[attr-defined]
    return exc


class Driver(abc.ABC):
    """Base class of notifier drivers.

    :param conf: the ConfigOpts the transport (or the caller) holds.
    :param topics: topics to send to (messaging drivers use them).
    :param transport: the notification Transport, or None for drivers that
        do not need one (log, noop, test).
    """

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Any = None) -> None:
        self.conf = conf
        self.topics = list(topics or [])
        self.transport = transport

    @abc.abstractmethod
    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> str | None:
        """Deliver one notification; see the module docstring for errors and
        for :data:`UNROUTED`."""


def load_notifier_driver(name: str, conf: Any, topics: Sequence[str],
                         transport: Any) -> Driver:
    """Build the notifier driver registered as ``name``.

    :raises NotifierDriverLoadFailure: unknown name (the message lists the
        installed ones) or the driver refused to build.
    """
    try:
        cls = load_class(NOTIFIER_NAMESPACE, name)
    except LookupError as exc:
        raise NotifierDriverLoadFailure(name, exc) from None
    try:
        return cls(conf, topics=list(topics), transport=transport)
    except MessagingException:
        raise  # already says what is wrong (ConfigurationError, ...)
    except (TypeError, ValueError, OSError) as exc:
        raise NotifierDriverLoadFailure(name, exc) from exc
