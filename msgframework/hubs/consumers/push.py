"""PushConsumer: append each event to a :class:`ReplayBuffer` for live pages to stream.

This replaces Flask-Notifications' push to a Redis pub/sub channel: the
buffer numbers and keeps the events, so a page that reconnects gets what it
missed (see :mod:`msgframework.web`).
"""

from __future__ import annotations

from msgframework.hubs.buffer import ReplayBuffer
from msgframework.hubs.consumers.base import Consumer
from msgframework.hubs.event import HubEvent

__all__ = ["PushConsumer"]


class PushConsumer(Consumer):
    """Append ``event.to_dict()`` to ``buffer`` under ``channel`` (the hub's name by default)."""

    def __init__(self, buffer: ReplayBuffer, channel: str = "default",
                 name: str | None = None) -> None:
        super().__init__(name)
        self.buffer = buffer
        self.channel = channel

    def consume(self, event: HubEvent) -> None:
        self.buffer.append(event.to_dict(), channel=self.channel)
