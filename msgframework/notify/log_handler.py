"""Logging handlers that turn error log records into notifications.

``LoggingErrorNotificationHandler`` (alias ``PublishErrorsHandler``, the old
name) sends each record it receives (ERROR and above by default) as an
``error_notification`` at ERROR priority, payload ``{"error": <message>}``,
publisher ``error.publisher``, as oslo.messaging does.

Two differences from oslo.messaging, both so that logging can never hurt
the code that logs:

* It does not read the global ``cfg.CONF``: pass ``url`` (and optionally a
  ``conf``), or a ready ``notifier``.
* Recursion is cut by a per-thread guard, not by refusing to work when the
  ``log`` notifier driver is configured: a record logged while the handler
  is already sending (by the ``log`` driver, or by the Notifier reporting a
  failed send) is skipped. Records of the ``msgframework.notification``
  loggers (the ``log`` driver's output) are skipped too.
* An exception while sending goes to ``Handler.handleError`` (which prints
  to stderr when ``logging.raiseExceptions`` is set), never to the caller.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from oslo_config import cfg

from msgframework.notify.drivers.log import LOGGER_PREFIX

__all__ = ["LoggingErrorNotificationHandler", "PublishErrorsHandler", "NotifyingHandler"]

_sending = threading.local()


class NotifyingHandler(logging.Handler):
    """Base of the notification log handlers: owns a Notifier, guards recursion.

    :param url: transport URL for the notifications (None: the embedded default).
    :param notifier: a ready Notifier to use instead of building one.
    :param conf: ConfigOpts for the transport; None builds a private one, so
        the handler works from a ``logging.config`` file with no global config.
    """

    def __init__(self, url: str | None = None, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None, topics: Sequence[str] | None = None,
                 serializer: Any = None, *, conf: cfg.ConfigOpts | None = None,
                 notifier: Any = None, retry: int | None = 3,
                 level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._transport = None
        if notifier is None:
            from msgframework.notify.notifier import Notifier
            from msgframework.transport import get_notification_transport

            conf = conf if conf is not None else cfg.ConfigOpts()
            needs_transport = driver is None or any(
                name in ("messaging", "messagingv2", "routing")
                for name in ([driver] if isinstance(driver, str) else driver))
            transport = get_notification_transport(conf, url) if needs_transport else None
            try:
                notifier = Notifier(transport, publisher_id=publisher_id, driver=driver,
                                    serializer=serializer, topics=topics, retry=retry,
                                    conf=conf)
            except BaseException:
                if transport is not None:
                    transport.cleanup()
                raise
            self._transport = transport
        self.notifier = notifier

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(_sending, "active", False) or record.name.startswith(LOGGER_PREFIX):
            return
        _sending.active = True
        try:
            self.send(record)
        except Exception:
            self.handleError(record)
        finally:
            _sending.active = False

    def send(self, record: logging.LogRecord) -> None:
        """Turn ``record`` into a notification; subclasses implement it."""
        raise NotImplementedError

    def close(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            try:
                transport.cleanup()
            except Exception:  # closing a handler at exit must not raise
                pass
        super().close()


class LoggingErrorNotificationHandler(NotifyingHandler):
    """Sends ERROR (and worse) records as ``error_notification`` notifications."""

    def __init__(self, url: str | None = None, publisher_id: str | None = "error.publisher",
                 driver: str | Sequence[str] | None = None, topics: Sequence[str] | None = None,
                 serializer: Any = None, *, level: int = logging.ERROR, **kwargs: Any) -> None:
        super().__init__(url, publisher_id, driver, topics, serializer, level=level, **kwargs)

    def send(self, record: logging.LogRecord) -> None:
        self.notifier.error({}, "error_notification", {"error": record.getMessage()})


PublishErrorsHandler = LoggingErrorNotificationHandler
