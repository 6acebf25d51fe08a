"""The ``notify`` event handler: publish events as msgframework notifications.

Each event becomes one notification sent through
:class:`msgframework.notify.notifier.Notifier` (oslo.messaging's API and wire
format), so anything that listens for notifications (including oslo.messaging
listeners) receives it::

    event_type = "<event_type_prefix>.<event name>"     (e.g. "event.build")
    payload    = {"event": event.as_dict(),
                  "attachments": {name: {"name", "path", "sha1", "size", "inline",
                                         "content_b64"?}}}

Attachments up to ``max_inline`` bytes (and inline in the event) travel as
base64; larger ones by reference (path + size + SHA-1), keeping notification
messages small.

Options: ``url`` (transport URL, required; its password is never shown),
``topic`` (default ``notifications``), ``priority`` (``info``; any Notifier
method: audit, debug, info, warn, warning, error, critical, sample),
``publisher_id``, ``event_type_prefix`` (``event``; empty for none),
``driver`` (``messagingv2``), ``retry`` (send retries, default 3: bounded,
unlike "retry forever"), ``max_inline``.

The transport is built on first use, not at construction, so a handler can
be configured (or rebuilt from the environment) while the broker is down;
each send then reports the failure instead of losing the event silently.
Options for the transport are registered on a private ``ConfigOpts``, never
on the global one, unless a ``conf`` is given.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from msgframework.events.attachment import DEFAULT_INLINE_LIMIT
from msgframework.events.handlers.base import ConfigField, EventHandler, attachments_payload
from msgframework.exceptions import EventError, MessagingException
from msgframework.transport_url import redact_url

if TYPE_CHECKING:
    from oslo_config import cfg

    from msgframework.events.event import Event

__all__ = ["NotifyHandler", "PRIORITIES"]

PRIORITIES = ("audit", "debug", "info", "warn", "warning", "error", "critical", "sample")


class NotifyHandler(EventHandler):
    """Send each event as a notification on ``topic`` at ``priority``."""

    plugin_name = "notify"
    config_fields: ClassVar[dict[str, ConfigField]] = {
        "url": ConfigField(str, secret=True),
        "topic": ConfigField(str),
        "priority": ConfigField(str),
        "publisher_id": ConfigField(str),
        "event_type_prefix": ConfigField(str),
        "driver": ConfigField(str),
        "retry": ConfigField(int),
        "max_inline": ConfigField(int),
    }

    def __init__(self, url: str, topic: str = "notifications", priority: str = "info",
                 publisher_id: str = "msgframework.events", event_type_prefix: str = "event",
                 driver: str = "messagingv2", retry: int = 3,
                 max_inline: int = DEFAULT_INLINE_LIMIT,
                 conf: cfg.ConfigOpts | None = None) -> None:
        if not url:
            raise EventError("event handler 'notify': a transport 'url' is required")
        if priority.lower() not in PRIORITIES:
            raise EventError(f"event handler 'notify': unknown priority {priority!r} "
                             f"(one of {', '.join(PRIORITIES)})")
        if not topic:
            raise EventError("event handler 'notify': 'topic' must not be empty")
        self.url = url
        self.topic = topic
        self.priority = priority.lower()
        self.publisher_id = publisher_id
        self.event_type_prefix = event_type_prefix
        self.driver = driver
        self.retry = retry
        self.max_inline = max_inline
        self._conf = conf
        self._lock = threading.Lock()
        self._transport: Any = None
        self._notifier: Any = None

    def __repr__(self) -> str:
        return (f"<NotifyHandler url={redact_url(self.url)!r} topic={self.topic!r} "
                f"priority={self.priority!r}>")

    def _get_notifier(self) -> Any:
        with self._lock:
            if self._notifier is None:
                # Imported here: the notify package is optional for users of
                # the other handlers, and importing it is not free.
                from oslo_config import cfg

                from msgframework.notify.notifier import Notifier
                from msgframework.transport import get_notification_transport

                conf = self._conf if self._conf is not None else cfg.ConfigOpts()
                transport = get_notification_transport(conf, url=self.url)
                try:
                    self._notifier = Notifier(transport, publisher_id=self.publisher_id,
                                              driver=self.driver, retry=self.retry,
                                              topics=[self.topic],
                                              raise_on_send_failure=True)
                except BaseException:
                    transport.cleanup()
                    raise
                self._transport = transport
            return self._notifier

    def event_type(self, event: Event) -> str:
        """The notification's event_type for ``event``."""
        prefix = self.event_type_prefix
        return f"{prefix}.{event.name}" if prefix else str(event.name)

    def payload(self, event: Event) -> dict[str, Any]:
        """The notification payload for ``event``."""
        return {"event": event.as_dict(),
                "attachments": attachments_payload(event, max_inline=self.max_inline)}

    def send_event(self, event: Event) -> None:
        payload = self.payload(event)
        where = redact_url(self.url)
        try:
            notifier = self._get_notifier()
            getattr(notifier, self.priority)({}, self.event_type(event), payload)
        except MessagingException as exc:
            raise EventError(f"notify {where} topic {self.topic!r}: "
                             f"{type(exc).__name__}: {self._scrub(exc)}") from exc
        except (ImportError, OSError, ValueError, TypeError) as exc:
            raise EventError(f"notify {where}: {type(exc).__name__}: {self._scrub(exc)}") from exc

    def _scrub(self, exc: BaseException) -> str:
        text = str(exc)
        return text.replace(self.url, redact_url(self.url)) if self.url in text else text

    def close(self) -> None:
        """Release the transport; the next send builds a new one."""
        with self._lock:
            transport, self._transport, self._notifier = self._transport, None, None
        if transport is not None:
            transport.cleanup()
