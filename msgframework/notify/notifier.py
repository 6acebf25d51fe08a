"""The Notifier: sends notifications through one or more notifier drivers.

Same API as oslo.messaging's ``Notifier``: ``audit``, ``debug``, ``info``,
``warn``/``warning``, ``error``, ``critical`` and ``sample`` each take
``(ctxt, event_type, payload)``, and ``prepare()`` returns a cheap copy with
another publisher id or retry that shares the drivers.

Where we differ from oslo.messaging, on purpose:

* **No silent nowhere.** With no ``driver`` argument and no
  ``[msgframework_notifications] driver`` option, oslo.messaging loads no
  driver and drops every notification while ``is_enabled()`` says True. We
  use ``messagingv2`` when a transport is given (``noop``, with a warning,
  when not).
* **A failed send is never silent.** A driver failing after its retries is
  logged at ERROR with the event type, priority, message id and topic(s),
  and counted in :attr:`Notifier.stats`. By default it does not raise,
  which is what code written for oslo.messaging expects (a notification
  must not break the operation it reports on). With
  ``raise_on_send_failure=True`` (constructor flag or option) the Notifier
  raises :class:`MessageDeliveryFailure` after every driver was tried. A
  notification the routing driver sends nowhere (no rule accepts it) is
  counted as ``unrouted``, not as sent.
* **Bad input raises.** A payload JSON cannot encode fails with TypeError at
  the call, an ``event_type`` that is not a non-empty string with
  TypeError/ValueError: those are bugs, not delivery failures.
* **Contexts.** oslo.messaging (since 2023) sends an empty context for a
  plain ``dict`` and ``ctxt.redacted_copy()`` for objects. We keep objects'
  ``redacted_copy()`` (an oslo.context RequestContext drops its tokens that
  way), but a dict context is sent, since listeners use its request id and
  user; keys that name credentials (``auth_token``, ``password``...) are
  removed from it first. The result goes through the serializer's
  ``serialize_context``; an object with neither ``redacted_copy()`` nor
  ``to_dict()`` is a TypeError.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from oslo_config import cfg

from msgframework import opts as _opts
from msgframework.drivers.base import QueuePolicy
from msgframework.exceptions import MessageDeliveryFailure
from msgframework.notify.drivers.base import UNROUTED, Driver, load_notifier_driver
from msgframework.serializer import NoOpSerializer, Serializer
from msgframework.wire.ids import uuid4_hex

__all__ = ["Notifier", "NotifierStats", "PRIORITIES"]

LOG = logging.getLogger(__name__)

#: Priority names a listener endpoint can implement (oslo's list: no "warning").
PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")

# Context keys that carry credentials: never sent in a notification.
_SECRET_CONTEXT_KEYS = frozenset({
    "auth_token", "auth_token_info", "auth_plugin", "password", "service_token",
    "service_catalog_token", "secret", "token",
})

_UNSET: Any = object()


class NotifierStats:
    """Counters of one Notifier and everything ``prepare()`` made from it.

    ``sent``: notifications every driver accepted and at least one sent
    somewhere. ``unrouted``: notifications no driver sent anywhere, on
    purpose (the routing driver, when no rule accepts them); nothing failed.
    ``failed``: notifications at least one driver failed to deliver.
    ``failed_by_topic``: failures per topic (or per driver name when the
    driver has no topics).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent = 0
        self.unrouted = 0
        self.failed = 0
        self.failed_by_topic: Counter[str] = Counter()

    def _record(self, failed_topics: Sequence[str], routed: bool = True) -> None:
        with self._lock:
            if failed_topics:
                self.failed += 1
                self.failed_by_topic.update(failed_topics)
            elif routed:
                self.sent += 1
            else:
                self.unrouted += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"sent": self.sent, "unrouted": self.unrouted, "failed": self.failed,
                    "failed_by_topic": dict(self.failed_by_topic)}

    def __repr__(self) -> str:
        return (f"<NotifierStats sent={self.sent} unrouted={self.unrouted} "
                f"failed={self.failed}>")


_second_cache: tuple[int, str] = (-1, "")


def _now() -> str:
    """oslo's timestamp text: ``str()`` of a naive UTC datetime.

    Same text as ``str(datetime.utcnow())`` (no fraction when the
    microseconds are 0), built from ``time.time()`` with the date part
    cached per second: this runs once per notification.
    """
    global _second_cache
    now = time.time()
    second = int(now)
    micros = int((now - second) * 1_000_000)
    cached_second, prefix = _second_cache
    if cached_second != second:
        prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        _second_cache = (second, prefix)
    return f"{prefix}.{micros:06d}" if micros else prefix


def _message_id() -> str:
    """``str(uuid.uuid4())`` text (with dashes, as oslo sends), without the UUID object."""
    h = uuid4_hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Notifier:
    """Sends notifications of one publisher.

    :param transport: the notification Transport (None only with drivers
        that need none: log, noop, test).
    :param publisher_id: who sends, e.g. ``"compute.host1"``.
    :param driver: a driver name or list of names; None means the
        ``[msgframework_notifications] driver`` option, and when that is
        empty ``messagingv2`` (with a transport) or ``noop``.
    :param serializer: turns payloads and contexts into primitives.
    :param retry: None means the ``retry`` option (-1, forever); 0 never;
        N at most N retries.
    :param topics: None means the ``topics`` option (``["notifications"]``).
    :param raise_on_send_failure: None means the option of that name (False).
    :param queue_policy: a message TTL and/or max length
        (:class:`~msgframework.drivers.base.QueuePolicy`) for the
        ``<topic>.<priority>`` queues the messaging drivers store into, so a
        topic nobody reads yet stays bounded from its first message (not an
        oslo.messaging parameter).
    :raises NotifierDriverLoadFailure: a driver name is unknown.
    :raises UnsupportedFeature: a ``queue_policy`` on a transport whose
        driver has no queue policies.
    """

    def __init__(self, transport: Any, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None,
                 serializer: Serializer | None = None, retry: int | None = None,
                 topics: Sequence[str] | None = None, *,
                 raise_on_send_failure: bool | None = None,
                 conf: cfg.ConfigOpts | None = None,
                 queue_policy: QueuePolicy | None = None) -> None:
        if conf is None:
            conf = transport.conf if transport is not None else cfg.ConfigOpts()
        _opts.register_opts(conf)
        group = conf[_opts.NOTIFICATIONS_GROUP]
        self.transport = transport
        self.conf = conf
        self.publisher_id = publisher_id
        self.retry = group.retry if retry is None else retry
        if isinstance(topics, str):
            raise TypeError("topics must be a list of topic names, not a string")
        self._topics = list(group.topics if topics is None else topics)
        if isinstance(driver, str):
            names = [driver]
        elif driver is not None:
            names = list(driver)
        else:
            names = list(group.driver)
        if not names:
            if transport is not None:
                names = ["messagingv2"]
            else:
                LOG.warning("Notifier for %s has no transport and no driver: "
                            "notifications are discarded (noop)", publisher_id)
                names = ["noop"]
        self._driver_names = names
        if queue_policy and transport is not None:
            transport._require_driver_features(queue_policy=True)
        self._drivers: list[tuple[str, Driver]] = [
            (name, load_notifier_driver(name, conf, self._topics, transport))
            for name in names]
        if queue_policy:
            for _name, loaded in self._drivers:
                if hasattr(loaded, "queue_policy"):  # the drivers that store into queues
                    loaded.queue_policy = queue_policy
        self._serializer = serializer or NoOpSerializer()
        self._raise = (group.raise_on_send_failure if raise_on_send_failure is None
                       else raise_on_send_failure)
        self.stats = NotifierStats()

    # -- oslo API -------------------------------------------------------
    def prepare(self, publisher_id: Any = _UNSET, retry: Any = _UNSET) -> Notifier:
        """A notifier sharing this one's drivers and stats, with other defaults."""
        return _SubNotifier(self, publisher_id, retry)

    def is_enabled(self) -> bool:
        """False when the only configured driver is ``noop``."""
        return any(name != "noop" for name in self._driver_names)

    @property
    def failed_sends(self) -> int:
        """How many notifications at least one driver failed to deliver."""
        return self.stats.failed

    def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an AUDIT notification."""
        self._notify(ctxt, event_type, payload, "AUDIT")

    def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a DEBUG notification."""
        self._notify(ctxt, event_type, payload, "DEBUG")

    def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an INFO notification."""
        self._notify(ctxt, event_type, payload, "INFO")

    def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a WARN notification (topic suffix ``warn``)."""
        self._notify(ctxt, event_type, payload, "WARN")

    warning = warn

    def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an ERROR notification."""
        self._notify(ctxt, event_type, payload, "ERROR")

    def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a CRITICAL notification."""
        self._notify(ctxt, event_type, payload, "CRITICAL")

    def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a SAMPLE notification (metering data)."""
        self._notify(ctxt, event_type, payload, "SAMPLE")

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} publisher_id={self.publisher_id!r} "
                f"drivers={self._driver_names} topics={self._topics}>")

    # -- internals --------------------------------------------------------
    def _context(self, ctxt: Any) -> dict[str, Any]:
        if ctxt is None:
            ctxt = {}
        elif isinstance(ctxt, Mapping):
            if _SECRET_CONTEXT_KEYS.intersection(ctxt):
                ctxt = {k: v for k, v in ctxt.items() if k not in _SECRET_CONTEXT_KEYS}
        else:
            redacted_copy = getattr(ctxt, "redacted_copy", None)
            if callable(redacted_copy):
                ctxt = redacted_copy()
            elif not callable(getattr(ctxt, "to_dict", None)):
                raise TypeError(f"a notification context must be None, a dict or an object "
                                f"with to_dict(), not {type(ctxt).__name__}")
        result = self._serializer.serialize_context(ctxt)
        if result is None:
            return {}
        if isinstance(result, dict):
            return result
        to_dict = getattr(result, "to_dict", None)
        if callable(to_dict):
            result = to_dict()
            if isinstance(result, dict):
                return result
        raise TypeError(f"the serialized context must be a dict, not {type(result).__name__}")

    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str,
                publisher_id: Any = _UNSET, retry: Any = _UNSET) -> None:
        if not isinstance(event_type, str):
            raise TypeError(f"event_type must be a string, not {type(event_type).__name__}")
        if not event_type:
            raise ValueError("event_type must not be empty")
        payload = self._serializer.serialize_entity(ctxt, payload)
        wire_ctxt = self._context(ctxt)
        message = {
            "message_id": _message_id(),
            "publisher_id": self.publisher_id if publisher_id is _UNSET else publisher_id,
            "event_type": event_type,
            "priority": priority,
            "payload": payload,
            "timestamp": _now(),
        }
        retry = self.retry if retry is _UNSET else retry
        failed_topics: list[str] = []
        errors: list[BaseException] = []
        routed = False
        for name, driver in self._drivers:
            try:
                if driver.notify(wire_ctxt, message, priority, retry) != UNROUTED:
                    routed = True
            except (TypeError, ValueError):
                raise  # the payload or context cannot be encoded: the caller's bug
            except Exception as exc:
                topics = [t for t, _ in getattr(exc, "failures", ())] or [name]
                failed_topics.extend(topics)
                errors.append(exc)
                LOG.error("Could not send notification %s (priority %s, message_id %s, "
                          "publisher %s) to topic(s) %s with driver %r: %s",
                          event_type, priority, message["message_id"], message["publisher_id"],
                          ", ".join(topics), name, exc)
        self.stats._record(failed_topics, routed)
        if errors and self._raise:
            raise MessageDeliveryFailure(
                f"notification {event_type!r} ({priority}) not delivered to "
                f"{', '.join(failed_topics)}: {errors[0]}") from errors[0]


class _SubNotifier(Notifier):
    """What ``prepare()`` returns: another publisher id or retry, same drivers."""

    def __init__(self, parent: Notifier, publisher_id: Any, retry: Any) -> None:
        # Share everything; only the two defaults differ.
        self.__dict__.update(parent.__dict__)
        self._parent = parent
        if publisher_id is not _UNSET:
            self.publisher_id = publisher_id
        if retry is not _UNSET:
            self.retry = retry
