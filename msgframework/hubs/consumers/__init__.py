"""Built-in hub consumers: log, file (JSON lines), e-mail (SMTP) and push (replay buffer)."""

from msgframework.hubs.consumers.base import Consumer, FunctionConsumer, as_consumer
from msgframework.hubs.consumers.email import EmailConsumer
from msgframework.hubs.consumers.file import FileConsumer, read_events
from msgframework.hubs.consumers.log import LogConsumer
from msgframework.hubs.consumers.push import PushConsumer

__all__ = ["Consumer", "FunctionConsumer", "as_consumer", "EmailConsumer", "FileConsumer",
           "read_events", "LogConsumer", "PushConsumer"]
