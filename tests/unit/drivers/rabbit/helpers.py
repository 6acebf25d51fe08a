"""Test helpers for the RabbitMQ driver: a tiny RPC server loop and raw broker access."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import kombu

from msgframework.drivers.base import IncomingMessage, Listener


class EchoServer:
    """Polls a listener in a thread; acks and replies ``handler(message)``."""

    def __init__(self, listener: Listener,
                 handler: Callable[[IncomingMessage], Any] | None = None) -> None:
        self.listener = listener
        self.handler = handler or (lambda m: {"echo": m.message["args"]})
        self.received: list[IncomingMessage] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.listener.stopped:
            for message in self.listener.poll(timeout=5):
                message.acknowledge()
                with self.cond:
                    self.received.append(message)
                    self.cond.notify_all()
                message.reply(self.handler(message))

    def wait_for(self, count: int, timeout: float = 10) -> list[IncomingMessage]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.received) >= count, timeout), \
                f"got {len(self.received)} of {count} messages"
            return list(self.received)

    def stop(self) -> None:
        self.listener.stop()
        self.thread.join(10)
        self.listener.cleanup()


def drain_raw(kombu_url: str, queue: str, count: int = 1, timeout: float = 5,
              requeue: bool = False) -> list[Any]:
    """Consume ``count`` raw messages from ``queue`` straight from the broker.

    Acked (gone from the queue), or with ``requeue`` left unacknowledged, so
    the broker puts them back when the connection closes (the next consumer
    sees them redelivered).
    """
    got: list[Any] = []
    with kombu.Connection(kombu_url) as conn:
        def on_message(message: Any) -> None:
            got.append(message)
            if not requeue:
                message.ack()
        with conn.Consumer(kombu.Queue(queue, no_declare=True), on_message=on_message,
                           prefetch_count=count if requeue else None):
            while len(got) < count:
                conn.drain_events(timeout=timeout)
    return got


def publish_raw(kombu_url: str, exchange: str, routing_key: str, body: bytes | str,
                content_type: str = "application/json",
                headers: dict | None = None) -> None:
    """Put arbitrary bytes on the broker, as a broken or foreign publisher would."""
    with kombu.Connection(kombu_url) as conn:
        producer = conn.Producer(auto_declare=False)
        producer.publish(body, exchange=exchange, routing_key=routing_key,
                         content_type=content_type, content_encoding="utf-8",
                         headers=headers)
