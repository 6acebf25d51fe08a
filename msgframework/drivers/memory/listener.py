"""Listeners and incoming messages of the in-memory driver.

A listener is a thin wrapper around a broker :class:`Subscription`: polling
takes a delivery from the broker (waiting on the subscription's own
condition), decodes its JSON body exactly as a driver reading a real broker
would, and hands out an :class:`IncomingMessage` whose settle methods go back
to the broker. Undecodable bodies are dead-lettered and logged, never
returned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from msgframework.drivers.base import IncomingMessage, Listener
from msgframework.drivers.memory.broker import Broker, Delivery, Subscription
from msgframework.exceptions import MessagingException
from msgframework.wire.envelope import decode_body
from msgframework.wire.ids import uuid4_hex
from msgframework.wire.notification import parse_notification
from msgframework.wire.rpc import parse_request

if TYPE_CHECKING:
    from msgframework.drivers.memory.driver import MemoryDriver

__all__ = ["MemoryListener", "MemoryIncomingMessage", "decode_request",
           "decode_notification"]

LOG = logging.getLogger(__name__)

#: What a decoder makes of a body: ctxt, message, msg_id, reply_q, client_timeout.
Decoded = tuple[dict[str, Any], dict[str, Any], "str | None", "str | None", "float | None"]


def decode_request(body: str) -> Decoded:
    req = parse_request(decode_body(body))
    return req.ctxt, req.message, req.msg_id, req.reply_q, req.client_timeout


def decode_notification(body: str) -> Decoded:
    ctxt, message = parse_notification(decode_body(body))
    msg_id = message.get("message_id")
    return ctxt, message, msg_id if isinstance(msg_id, str) else None, None, None


class MemoryIncomingMessage(IncomingMessage):
    """A delivery of the in-memory broker."""

    def __init__(self, listener: MemoryListener, delivery: Delivery, decoded: Decoded) -> None:
        ctxt, message, msg_id, reply_q, client_timeout = decoded
        # uuid4_hex: the base class's uuid.uuid4() costs more than the rest of a cast.
        super().__init__(ctxt, message, msg_id or uuid4_hex(), reply_q=reply_q,
                         client_timeout=client_timeout,
                         delivery_count=delivery.delivery_count)
        self._listener = listener
        self._tag = delivery.tag

    def _acknowledge(self) -> None:
        self._listener.settle(self._tag, "ack")

    def _requeue(self) -> None:
        self._listener.settle(self._tag, "requeue")

    def _dead_letter(self, reason: str) -> None:
        self._listener.settle(self._tag, "dead_letter", reason)

    def _send_reply(self, result: Any, failure: str | None, ending: bool) -> None:
        assert self.reply_q is not None
        self._listener.driver.send_reply(self.reply_q, self.msg_id, result, failure, ending)


class MemoryListener(Listener):
    """Polls one broker subscription; see drivers/base.py for the contract."""

    #: Several threads may poll at once: the broker wakes one of them per
    #: message (see executors.py: ThreadingExecutor).
    concurrent_poll = True

    def __init__(self, driver: MemoryDriver, broker: Broker, sub: Subscription,
                 decode: Callable[[str], Decoded]) -> None:
        super().__init__()
        self.driver = driver
        self._broker = broker
        self._sub = sub
        self._decode = decode
        self._cleaned = False

    def __repr__(self) -> str:
        return f"<MemoryListener {self._sub.name} on {self._broker.name!r}>"

    @property
    def queues(self) -> list[str]:
        """Names of the queues this listener consumes."""
        return [q.name for q in self._sub.queues]

    def poll_one(self, timeout: float | None) -> IncomingMessage | None:
        sub = self._sub
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            sub.prefetch = self.prefetch
            delivery = self._broker.take(sub, timeout)
            if delivery is None:
                return None
            try:
                decoded = self._decode(delivery.body)
            except (MessagingException, ValueError, TypeError) as exc:
                LOG.error("Dead-lettering undecodable message on queue %s: %s",
                          delivery.queue_name, exc)
                self._broker.settle(sub, delivery.tag, "dead_letter",
                                    f"MalformedMessage: {exc}")
                if deadline is not None:
                    timeout = max(0.0, deadline - time.monotonic())
                continue
            return MemoryIncomingMessage(self, delivery, decoded)

    def settle(self, tag: int, outcome: str, reason: str | None = None) -> None:
        self._broker.settle(self._sub, tag, outcome, reason)

    def allow_deliveries(self, count: int) -> None:
        """Let a requeued message be delivered ``count`` times before the broker
        dead-letters it: the server's own limit wins over ``max_deliveries``
        when it is higher (0, no limit, stays)."""
        sub = self._sub
        if sub.max_deliveries and count > sub.max_deliveries:
            LOG.debug("%r: max_deliveries raised from %d to the server's %d",
                      self, sub.max_deliveries, count)
            sub.max_deliveries = count

    def stop(self) -> None:
        self._broker.stop(self._sub)
        super().stop()

    def cleanup(self) -> None:
        """Unsubscribe: exclusive (fanout) queues go, unsettled messages are requeued."""
        if self._cleaned:
            return
        self._cleaned = True
        self._broker.unsubscribe(self._sub)
        self.driver.forget_listener(self)
