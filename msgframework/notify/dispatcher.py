"""Notification dispatchers: call endpoint methods named after priorities.

An endpoint is any object with methods among ``audit``, ``debug``,
``info``, ``warn``, ``error``, ``critical`` and ``sample``, called as
``method(ctxt, publisher_id, event_type, payload, metadata)`` (metadata:
``message_id`` and ``timestamp``). An optional ``filter_rule``
(:class:`NotificationFilter`) on the endpoint picks what it is given.
A ``WARNING`` priority in a message is treated as ``warn``.

:class:`NotificationDispatcher` handles one message at a time; endpoints
run in order and the first one that returns
``NotificationResult.REQUEUE`` or raises stops the walk (``None`` counts as
HANDLED). :class:`BatchNotificationDispatcher` groups a batch by priority
and gives each endpoint one list of dicts (``ctxt``, ``publisher_id``,
``event_type``, ``payload``, ``metadata``) per priority; REQUEUE or an
exception applies to every message of that priority group.

Dispatch returns a :class:`DispatchOutcome` per message: ``HANDLED``,
``REQUEUE`` (the endpoint asked, or raised) or ``REJECT`` (the message can
never be handled: unknown priority, or a context/payload the serializer
cannot rebuild). The servers turn them into acknowledge, requeue or
dead-letter; see :mod:`msgframework.notify.listener`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from msgframework.notify.notifier import PRIORITIES
from msgframework.serializer import NoOpSerializer, Serializer

__all__ = ["NotificationResult", "NotificationDispatcher", "BatchNotificationDispatcher",
           "DispatchOutcome", "REJECT"]

LOG = logging.getLogger(__name__)

#: Outcome of a message that no retry can fix: it is dead-lettered.
REJECT = "reject"

_ALIASES = {"warning": "warn"}


class NotificationResult:
    """What an endpoint method may return (``None`` means HANDLED)."""

    HANDLED = "handled"
    REQUEUE = "requeue"


@dataclass(frozen=True)
class DispatchOutcome:
    """The dispatcher's verdict on one message, with a reason for logs and dead letters."""

    result: str
    reason: str = ""


_HANDLED = DispatchOutcome(NotificationResult.HANDLED)


class _Extracted:
    """One message made ready for endpoints."""

    __slots__ = ("incoming", "ctxt", "raw_ctxt", "publisher_id", "event_type",
                 "payload", "metadata", "priority")

    def __init__(self, incoming: Any, serializer: Serializer, priority: str) -> None:
        message = incoming.message
        self.incoming = incoming
        self.priority = priority
        self.raw_ctxt = incoming.ctxt
        self.ctxt = serializer.deserialize_context(incoming.ctxt)
        self.publisher_id = message.get("publisher_id")
        self.event_type = message.get("event_type")
        self.payload = serializer.deserialize_entity(self.ctxt, message.get("payload"))
        self.metadata = {"message_id": message.get("message_id"),
                         "timestamp": message.get("timestamp")}


class NotificationDispatcher:
    """Dispatches single notifications to endpoints.

    :param endpoints: objects with priority-named methods.
    :param serializer: rebuilds contexts and payloads (NoOp by default).
    :raises ValueError: no endpoint handles any priority (the listener would
        subscribe to nothing).
    """

    def __init__(self, endpoints: Sequence[Any], serializer: Serializer | None = None) -> None:
        if isinstance(endpoints, (str, bytes)) or not isinstance(endpoints, Sequence):
            endpoints = list(endpoints)
        self.endpoints = list(endpoints)
        self.serializer = serializer or NoOpSerializer()
        self._callbacks: dict[str, list[tuple[Any, Callable[..., Any]]]] = {}
        for priority in PRIORITIES:
            for endpoint in self.endpoints:
                method = getattr(endpoint, priority, None)
                if callable(method):
                    self._callbacks.setdefault(priority, []).append(
                        (getattr(endpoint, "filter_rule", None), method))
        if not self._callbacks:
            raise ValueError(
                "no endpoint has a method named after a priority "
                f"({', '.join(PRIORITIES)}): the listener would receive nothing")

    @property
    def supported_priorities(self) -> list[str]:
        """The priorities some endpoint handles: the only ones subscribed."""
        return [p for p in PRIORITIES if p in self._callbacks]

    def _priority(self, incoming: Any) -> str | DispatchOutcome:
        raw = incoming.message.get("priority")
        if not isinstance(raw, str):
            return DispatchOutcome(REJECT, f"notification has no priority (got {raw!r})")
        priority = raw.lower()
        priority = _ALIASES.get(priority, priority)
        if priority not in self._callbacks:
            known = priority in PRIORITIES
            why = "no endpoint handles it" if known else "unknown priority"
            return DispatchOutcome(REJECT, f"{why}: {raw!r} (event_type "
                                           f"{incoming.message.get('event_type')!r})")
        return priority

    def _extract(self, incoming: Any) -> _Extracted | DispatchOutcome:
        priority = self._priority(incoming)
        if isinstance(priority, DispatchOutcome):
            return priority
        try:
            return _Extracted(incoming, self.serializer, priority)
        except Exception as exc:
            LOG.exception("Cannot deserialize notification %s", incoming.msg_id)
            return DispatchOutcome(REJECT, f"cannot deserialize context or payload: {exc!r}")

    @staticmethod
    def _wants(filter_rule: Any, m: _Extracted) -> bool:
        if filter_rule is None:
            return True
        return bool(filter_rule.match(m.raw_ctxt if isinstance(m.raw_ctxt, dict) else m.ctxt,
                                      m.publisher_id, m.event_type, m.metadata, m.payload))

    def dispatch(self, incoming: Any) -> DispatchOutcome:
        """Run the endpoints for one message; never raises."""
        m = self._extract(incoming)
        if isinstance(m, DispatchOutcome):
            return m
        for filter_rule, callback in self._callbacks[m.priority]:
            try:
                if not self._wants(filter_rule, m):
                    continue
                result = callback(m.ctxt, m.publisher_id, m.event_type, m.payload, m.metadata)
            except Exception as exc:
                LOG.exception("Endpoint %s failed on notification %s (event_type %s, "
                              "message_id %s)", _name(callback), incoming.msg_id,
                              m.event_type, m.metadata["message_id"])
                return DispatchOutcome(NotificationResult.REQUEUE,
                                       f"{_name(callback)} raised {exc!r}")
            if result == NotificationResult.REQUEUE:
                return DispatchOutcome(NotificationResult.REQUEUE,
                                       f"{_name(callback)} returned REQUEUE")
        return _HANDLED


class BatchNotificationDispatcher(NotificationDispatcher):
    """Dispatches batches: each endpoint gets one list per priority."""

    def dispatch_batch(self, incoming: Sequence[Any]) -> list[DispatchOutcome]:
        """One outcome per message of ``incoming``, in order; never raises."""
        outcomes: list[DispatchOutcome] = [_HANDLED] * len(incoming)
        groups: dict[str, list[tuple[int, _Extracted]]] = {}
        for index, message in enumerate(incoming):
            m = self._extract(message)
            if isinstance(m, DispatchOutcome):
                outcomes[index] = m
            else:
                groups.setdefault(m.priority, []).append((index, m))
        for priority, members in groups.items():
            for filter_rule, callback in self._callbacks[priority]:
                chosen = [(i, m) for i, m in members if self._wants(filter_rule, m)]
                if not chosen:
                    continue
                batch = [{"ctxt": m.ctxt, "publisher_id": m.publisher_id,
                          "event_type": m.event_type, "payload": m.payload,
                          "metadata": m.metadata} for _, m in chosen]
                outcome = None
                try:
                    result = callback(batch)
                except Exception as exc:
                    LOG.exception("Endpoint %s failed on a batch of %d %s notification(s)",
                                  _name(callback), len(batch), priority)
                    outcome = DispatchOutcome(NotificationResult.REQUEUE,
                                              f"{_name(callback)} raised {exc!r}")
                else:
                    if result == NotificationResult.REQUEUE:
                        outcome = DispatchOutcome(NotificationResult.REQUEUE,
                                                  f"{_name(callback)} returned REQUEUE")
                if outcome is not None:
                    # The whole priority group goes back, as in oslo.messaging:
                    # the endpoint cannot say which of the batch it handled.
                    for index, _ in members:
                        outcomes[index] = outcome
                    break
        return outcomes

    def dispatch(self, incoming: Any) -> DispatchOutcome:
        return self.dispatch_batch([incoming])[0]


def _name(callback: Callable[..., Any]) -> str:
    owner = getattr(callback, "__self__", None)
    name = getattr(callback, "__name__", repr(callback))
    return f"{type(owner).__name__}.{name}" if owner is not None else name
