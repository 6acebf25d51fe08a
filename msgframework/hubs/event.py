"""HubEvent: one received notification, typed, as hubs, filters and consumers see it.

Flask-Notifications validated a free-form dict against a JSON schema on
every event (and broke when jsonschema changed); here the event is a frozen
dataclass built once from what the notification listener hands its
endpoints, so a filter reads ``event.event_type`` instead of indexing a
mapping and guessing the key.

Two fields are read from the payload by convention, because oslo's
notification format has no place for them: ``recipients`` (a string or a
list of strings) and ``expires_at`` (ISO 8601, or seconds since the epoch).
A payload without them simply has no recipients and never expires.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HubEvent", "parse_time"]

_UTC = _dt.timezone.utc


def parse_time(value: Any) -> _dt.datetime | None:
    """A timezone-aware UTC datetime from what notifications carry, or None.

    Accepts a datetime (naive means UTC), seconds since the epoch, and the
    strings oslo and ISO 8601 use (``2024-05-01 10:00:00.123456``,
    ``2024-05-01T10:00:00Z``). Anything else is None: a malformed timestamp
    must not make a filter raise inside a listener.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, _dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=_UTC)
    if isinstance(value, (int, float)):
        try:
            return _dt.datetime.fromtimestamp(value, _UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=_UTC)
    return None


def _recipients(payload: Any) -> tuple[str, ...]:
    if not isinstance(payload, Mapping):
        return ()
    value = payload.get("recipients")
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(str(v) for v in value)
    return (str(value),)


@dataclass(frozen=True)
class HubEvent:
    """A notification as delivered to a hub.

    :param event_type: e.g. ``compute.instance.create.end``.
    :param payload: the notification's payload, as sent.
    :param publisher_id: who sent it (Flask-Notifications called it ``sender``).
    :param priority: ``info``, ``error``... (lower case).
    :param message_id: the notification's id (a new uuid when absent).
    :param timestamp: when it was sent (UTC); None when the sender gave none.
    :param ctxt: the request context dict the sender attached.
    :param metadata: the listener's metadata dict (``message_id``, ``timestamp``).
    """

    event_type: str
    payload: Any = None
    publisher_id: str | None = None
    priority: str = "info"
    message_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: _dt.datetime | None = None
    ctxt: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_endpoint(cls, priority: str, ctxt: Mapping[str, Any] | None,
                      publisher_id: str | None, event_type: str, payload: Any,
                      metadata: Mapping[str, Any] | None) -> HubEvent:
        """Build from the arguments a notification endpoint method receives."""
        metadata = dict(metadata or {})
        return cls(event_type=event_type, payload=payload, publisher_id=publisher_id,
                   priority=priority.lower(),
                   message_id=str(metadata.get("message_id") or uuid.uuid4().hex),
                   timestamp=parse_time(metadata.get("timestamp")),
                   ctxt=dict(ctxt or {}), metadata=metadata)

    @property
    def recipients(self) -> tuple[str, ...]:
        """The payload's ``recipients`` as strings (empty when none)."""
        return _recipients(self.payload)

    @property
    def expires_at(self) -> _dt.datetime | None:
        """The payload's ``expires_at`` as a UTC datetime, or None (never expires)."""
        if isinstance(self.payload, Mapping):
            return parse_time(self.payload.get("expires_at"))
        return None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times in ISO 8601): what file, e-mail and push consumers write."""
        return {
            "message_id": self.message_id,
            "event_type": self.event_type,
            "priority": self.priority,
            "publisher_id": self.publisher_id,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HubEvent:
        """The inverse of :meth:`to_dict` (context and metadata are not kept there)."""
        if not isinstance(data.get("event_type"), str):
            raise ValueError("a hub event needs a string 'event_type'")
        return cls(event_type=data["event_type"], payload=data.get("payload"),
                   publisher_id=data.get("publisher_id"),
                   priority=str(data.get("priority") or "info"),
                   message_id=str(data.get("message_id") or uuid.uuid4().hex),
                   timestamp=parse_time(data.get("timestamp")))
