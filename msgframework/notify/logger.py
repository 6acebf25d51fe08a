"""LoggingNotificationHandler: every log record it gets becomes a notification.

Usable from a ``logging.config`` file, as oslo.messaging's::

    [handler_notifier]
    class = msgframework.notify.logger.LoggingNotificationHandler
    level = ERROR
    args = ('memory://',)

Each record is sent as event type ``logrecord`` at the priority named by its
level (``warning`` as WARN; levels without a Notifier method, e.g. custom
ones, are skipped), with a JSON-safe payload: ``name``, ``levelno``,
``levelname``, ``exc_info`` (the formatted traceback text, or None),
``pathname``, ``lineno``, ``msg`` (the formatted message; oslo.messaging
sends the raw format string, which may not even be text), ``funcName``,
``thread``, ``processName``, ``process`` and ``extra`` (attributes passed
with ``extra=``, made JSON-safe).

The handler builds its own ConfigOpts (never the global ``cfg.CONF``),
never raises into the code that logged, and skips records logged while it
is sending (see :mod:`msgframework.notify.log_handler`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from msgframework.notify.log_handler import NotifyingHandler
from msgframework.serializer import to_primitive

__all__ = ["LoggingNotificationHandler"]

_METHODS = frozenset({"audit", "debug", "info", "warn", "warning", "error", "critical",
                      "sample"})

# Attributes every LogRecord has; the others came from ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime"}


class LoggingNotificationHandler(NotifyingHandler):
    """Sends log records as ``logrecord`` notifications.

    :param url: transport URL (None: ``[msgframework_notifications]`` /
        ``[DEFAULT] transport_url`` of the handler's own config, else the
        embedded default).
    :param publisher_id: the notifications' publisher id.
    :param driver: notifier driver name(s); None means ``messagingv2``.
    :param topic: one topic, or None for ``notifications``.
    :param serializer: payload/context serializer.
    """

    def __init__(self, url: str | None = None, publisher_id: str | None = None,
                 driver: str | Sequence[str] | None = None, topic: str | None = None,
                 serializer: Any = None, **kwargs: Any) -> None:
        super().__init__(url, publisher_id, driver, [topic] if topic else None, serializer,
                         **kwargs)

    def send(self, record: logging.LogRecord) -> None:
        name = record.levelname.lower()
        if name not in _METHODS:
            return
        method = getattr(self.notifier, name)
        exc_text = None
        if record.exc_info:
            exc_text = logging.Formatter().formatException(record.exc_info)
        elif record.exc_text:
            exc_text = record.exc_text
        extra = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        payload = {
            "name": record.name,
            "levelno": record.levelno,
            "levelname": record.levelname,
            "exc_info": exc_text,
            "pathname": record.pathname,
            "lineno": record.lineno,
            "msg": record.getMessage(),
            "funcName": record.funcName,
            "thread": record.thread,
            "processName": record.processName,
            "process": record.process,
            "extra": to_primitive(extra),
        }
        method(None, "logrecord", payload)
