"""RPC replies: the caller's reply queue, and sending replies to callers.

Receiving: one ``reply_<hex>`` queue per driver, declared on the first call
and consumed without acknowledgements (AMQP no-ack: replies are
at-most-once) by a :class:`ConsumerThread` that feeds each to
:class:`ReplyWaiters` (which routes it to the waiting caller and
drops duplicates). The queue is not exclusive, so it survives a connection
loss: replies sent meanwhile wait in it, and the thread resubscribes.

Sending: a reply is published mandatory on the default exchange. When the
broker returns it (the caller's queue is gone: it restarted, or its queue
expired) we retry for ``kombu_missing_consumer_retry_timeout`` seconds in
case the caller is reconnecting, then remember the queue as obsolete for a
minute so later replies to it are dropped at once instead of blocking an
executor thread each.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from msgframework.drivers.common import ReplyWaiters
from msgframework.drivers.rabbit.consumer import ConsumerThread
from msgframework.drivers.rabbit.declarations import DEFAULT_EXCHANGE, QueueSpec
from msgframework.drivers.rabbit.publisher import Publisher
from msgframework.exceptions import MalformedMessage, MessageDeliveryFailure, MessageUndeliverable
from msgframework.wire.envelope import decode_body, encode_body
from msgframework.wire.rpc import build_reply, parse_reply

__all__ = ["ReplyQueue", "ReplySender"]

LOG = logging.getLogger(__name__)

_RETRY_EVERY = 0.25
_OBSOLETE_SIZE = 200
_OBSOLETE_TTL = 60.0


class ReplyQueue:
    """This driver's reply queue and the thread consuming it."""

    def __init__(self, consumer_factory: Callable[..., ConsumerThread], spec: QueueSpec,
                 waiters: ReplyWaiters) -> None:
        self.name = spec.name
        self._waiters = waiters
        # no-ack: replies are at-most-once (a lost caller cannot use them), so
        # the broker need not wait for, nor we write, an acknowledgement.
        self.consumer = consumer_factory([spec], self._on_message, "reply", [spec.name],
                                         no_ack=True)
        self.consumer.open()
        self.consumer.consume(0)

    def _on_message(self, raw: Any, generation: int, spec: QueueSpec) -> None:
        try:
            if getattr(raw, "errors", None):
                raise MalformedMessage(f"cannot unwrap body: {raw.errors[0][1]}")
            msg_id, reply = parse_reply(decode_body(raw.body))
        except Exception as exc:
            LOG.error("Undecodable RPC reply on %s dropped: %s", self.name, exc)
            return
        self._waiters.deliver(msg_id, reply)

    def stop(self) -> None:
        self.consumer.stop()


class ReplySender:
    """Publishes replies for incoming RPC messages (any thread)."""

    def __init__(self, publisher: Publisher, retry_timeout: float,
                 closing: threading.Event) -> None:
        self._publisher = publisher
        self._retry_timeout = retry_timeout
        self._closing = closing
        self._obsolete: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lock = threading.Lock()

    def _is_obsolete(self, reply_q: str) -> bool:
        with self._lock:
            expires = self._obsolete.get(reply_q)
            if expires is None:
                return False
            if expires < time.monotonic():
                del self._obsolete[reply_q]
                return False
            return True

    def _mark_obsolete(self, reply_q: str) -> None:
        with self._lock:
            self._obsolete[reply_q] = time.monotonic() + _OBSOLETE_TTL
            self._obsolete.move_to_end(reply_q)
            while len(self._obsolete) > _OBSOLETE_SIZE:
                self._obsolete.popitem(last=False)

    def __call__(self, reply_q: str, msg_id: str | None, result: Any,
                 failure: str | None, ending: bool) -> None:
        if self._is_obsolete(reply_q):
            LOG.info("Reply to %s dropped: its reply queue %s disappeared", msg_id, reply_q)
            return
        body = encode_body(build_reply(msg_id, result, failure, ending))
        deadline = time.monotonic() + self._retry_timeout
        while True:
            try:
                self._publisher.publish(DEFAULT_EXCHANGE, reply_q, body, mandatory=True)
                return
            except MessageUndeliverable as exc:
                if not ending:
                    raise MessageDeliveryFailure(
                        f"heartbeat for {msg_id} undeliverable: reply queue {reply_q} "
                        f"is gone") from exc
                if time.monotonic() >= deadline or self._closing.is_set():
                    self._mark_obsolete(reply_q)
                    LOG.warning("Reply to %s dropped after %.0fs: reply queue %s does not "
                                "exist (the caller is gone)", msg_id, self._retry_timeout,
                                reply_q)
                    return
                self._closing.wait(_RETRY_EVERY)
