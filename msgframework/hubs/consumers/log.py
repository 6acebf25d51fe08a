"""LogConsumer: write each event to a Python logger, one line per event."""

from __future__ import annotations

import json
import logging

from msgframework.hubs.consumers.base import Consumer
from msgframework.hubs.event import HubEvent

__all__ = ["LogConsumer"]


class LogConsumer(Consumer):
    """Log ``<event_type> from <publisher>: <payload as JSON>`` at ``level``.

    :param logger: a Logger or a logger name (default ``msgframework.hubs.events``).
    :param level: a logging level number or name.
    """

    def __init__(self, logger: logging.Logger | str | None = None,
                 level: int | str = logging.INFO, name: str | None = None) -> None:
        super().__init__(name)
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger or "msgframework.hubs.events")
        self.logger = logger
        if isinstance(level, str):
            resolved = logging.getLevelName(level.upper())
            if not isinstance(resolved, int):
                raise ValueError(f"LogConsumer: unknown logging level {level!r}")
            level = resolved
        self.level = level

    def consume(self, event: HubEvent) -> None:
        payload = json.dumps(event.payload, default=str, sort_keys=True)
        self.logger.log(self.level, "%s from %s [%s]: %s", event.event_type,
                        event.publisher_id, event.message_id, payload)
