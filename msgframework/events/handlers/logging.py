"""The ``logging`` event handler: write the event to a Python logger.

Useful as a last-resort trace that an event happened even when remote
handlers fail. The record's message is the event as one JSON object
(attachments by reference only: their content would flood the log).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from msgframework.events.handlers.base import ConfigField, EventHandler, attachments_payload
from msgframework.exceptions import EventError

if TYPE_CHECKING:
    from msgframework.events.event import Event

__all__ = ["LoggingHandler"]


def _level(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    level = logging.getLevelName(text.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown logging level {value!r}")
    return level


class LoggingHandler(EventHandler):
    """Log each event on ``logger`` (default ``msgframework.events``) at ``level``."""

    plugin_name = "logging"
    config_fields: ClassVar[dict[str, ConfigField]] = {
        "logger": ConfigField(str, attr="logger_name"),
        "level": ConfigField(str),
    }

    def __init__(self, logger_name: str = "msgframework.events",
                 level: str | int = "INFO") -> None:
        try:
            self._levelno = _level(level)
        except ValueError as exc:
            raise EventError(f"event handler 'logging': {exc}") from exc
        self.logger_name = logger_name
        self.level = logging.getLevelName(self._levelno)
        self._logger = logging.getLogger(logger_name)

    def send_event(self, event: Event) -> None:
        doc: dict[str, Any] = {"event": event.as_dict(),
                               "attachments": attachments_payload(event, max_inline=0)}
        self._logger.log(self._levelno, "event %s %s: %s", event.name, event.uid,
                         json.dumps(doc, sort_keys=True))
