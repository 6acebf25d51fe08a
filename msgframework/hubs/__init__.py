"""Hubs: named durable subscriptions with composable filters and pluggable consumers.

The Flask-Notifications idea on msgframework's notification listener:
:class:`~msgframework.hubs.hub.Hub` (subscription + filter + consumers),
:mod:`~msgframework.hubs.filters` (the ``& | ^ ~`` algebra),
:mod:`~msgframework.hubs.consumers` (log, file, e-mail, push) and
:class:`~msgframework.hubs.buffer.ReplayBuffer` (what the live page replays).
"""

from msgframework.hubs.buffer import BufferedEvent, Replay, ReplayBuffer
from msgframework.hubs.consumers import (
    Consumer,
    EmailConsumer,
    FileConsumer,
    FunctionConsumer,
    LogConsumer,
    PushConsumer,
    read_events,
)
from msgframework.hubs.event import HubEvent
from msgframework.hubs.filters import (
    AfterDate,
    Always,
    BeforeDate,
    EventFilter,
    Expired,
    Matches,
    Never,
    Not,
    Where,
    WithEventType,
    WithId,
    WithPriority,
    WithPublisher,
    WithRecipients,
    WithSender,
)
from msgframework.hubs.hub import Hub, HubStats

__all__ = [
    "Hub", "HubStats", "HubEvent", "ReplayBuffer", "BufferedEvent", "Replay",
    "Consumer", "FunctionConsumer", "LogConsumer", "FileConsumer", "EmailConsumer",
    "PushConsumer", "read_events",
    "EventFilter", "Always", "Never", "Not", "Where", "WithEventType", "WithPublisher",
    "WithSender", "WithPriority", "WithId", "WithRecipients", "BeforeDate", "AfterDate",
    "Expired", "Matches",
]
