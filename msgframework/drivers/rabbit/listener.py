"""Listeners and incoming messages of the RabbitMQ driver.

A :class:`RabbitListener` owns a :class:`ConsumerThread`. Deliveries are
decoded in that thread: a message that cannot be decoded is dead-lettered
there (published to the dead-letter exchange with the reason, then acked)
and never reaches ``poll``. Decoded messages wait in a queue for ``poll``.

Settling (acknowledge, requeue, dead_letter) may happen in any thread. An
acknowledgement is written by the settling thread itself on plain TCP
(:meth:`ConsumerThread.ack`, under the connection's write lock; a
notification's may wait a few milliseconds to go out with others while
more deliveries wait to be handled); on TLS,
and for requeue and dead-letter (which publish and wait for a confirm), the
operation is handed to the consumer thread, which owns the connection, and
the caller waits (bounded by ``confirm_timeout``) until it was done. Either
way an acknowledged message is one the broker was told about. A settle
for a delivery of a lost connection is dropped at once: the broker
redelivers that message. *Requeue* republishes a copy of the message to the queue it came
from with an incremented delivery-count header, then acks the original, so
the count survives and a message requeued ``max_delivery_attempts`` times
is dead-lettered instead of looping forever. Both republish steps wait for
the broker's confirm before the ack, so a crash in between can duplicate a
message but never lose it.
"""

from __future__ import annotations

import collections
import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from msgframework.drivers.base import IncomingMessage, Listener
from msgframework.drivers.rabbit.consumer import ConsumerThread
from msgframework.drivers.rabbit.declarations import DEFAULT_EXCHANGE, QueueSpec, Topology
from msgframework.exceptions import MalformedMessage
from msgframework.wire.envelope import decode_body
from msgframework.wire.notification import parse_notification
from msgframework.wire.rpc import parse_request

__all__ = ["RabbitListener", "RabbitIncomingMessage", "DELIVERY_COUNT_HEADER",
           "DEAD_LETTER_REASON_HEADER"]

LOG = logging.getLogger(__name__)

DELIVERY_COUNT_HEADER = "x-msgframework-delivery-count"
DEAD_LETTER_REASON_HEADER = "x-msgframework-dead-letter-reason"
ORIGINAL_QUEUE_HEADER = "x-msgframework-original-queue"
ORIGINAL_EXCHANGE_HEADER = "x-msgframework-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-msgframework-original-routing-key"
ORIGINAL_COMPRESSION_HEADER = "x-msgframework-original-compression"

_DUPLICATES_REMEMBERED = 64

def _never() -> bool:
    return False


#: Sends a reply: (reply_q, msg_id, result, failure, ending).
ReplySender = Callable[[str, str | None, Any, str | None, bool], None]


def delivery_count(raw: Any) -> int:
    """1 on a first delivery; grows with each requeue (ours, or the broker's)."""
    headers = getattr(raw, "headers", None) or {}
    count = 1
    ours = headers.get(DELIVERY_COUNT_HEADER)
    if isinstance(ours, int) and not isinstance(ours, bool):
        count = max(count, ours)
    broker = headers.get("x-delivery-count")  # quorum queues: earlier attempts
    if isinstance(broker, int) and not isinstance(broker, bool):
        count = max(count, broker + 1)
    if (getattr(raw, "delivery_info", None) or {}).get("redelivered"):
        count = max(count, 2)
    return count


class _Settler:
    """The settle operations of one listener, run in its consumer thread."""

    def __init__(self, consumer: ConsumerThread, topology: Topology,
                 exchange: str | None, max_attempts: int, wait: float) -> None:
        self.consumer = consumer
        self._topology = topology
        self._exchange = exchange
        self.max_attempts = max_attempts
        self._wait = wait

    def _submit(self, op: Any, generation: int) -> None:
        # Wait until the broker was told, so "acknowledged" means it, within a bound.
        self.consumer.submit(op, generation, wait=self._wait)

    def ack(self, raw: Any, generation: int, gather: bool = False) -> None:
        # Written by the calling thread where the connection allows: an RPC
        # server acknowledges before dispatching, so this is on every call's path.
        if not self.consumer.ack(raw, generation, gather):
            self._submit(raw.ack, generation)

    def requeue(self, raw: Any, generation: int, spec: QueueSpec, count: int) -> None:
        if count >= self.max_attempts:
            self.dead_letter(raw, generation, spec,
                             f"requeued {count} times (max_delivery_attempts="
                             f"{self.max_attempts})")
            return

        def op() -> None:
            self.consumer.republish(raw, DEFAULT_EXCHANGE, spec.name,
                                    {DELIVERY_COUNT_HEADER: count + 1})
            raw.ack()
        self._submit(op, generation)

    def dead_letter(self, raw: Any, generation: int, spec: QueueSpec, reason: str) -> None:
        dlq = self._topology.dead_letter_queue(self._exchange)
        info = getattr(raw, "delivery_info", None) or {}

        def op() -> None:
            self.consumer.republish(raw, dlq.exchange, spec.name, {
                DEAD_LETTER_REASON_HEADER: reason[:1000],
                ORIGINAL_QUEUE_HEADER: spec.name,
                ORIGINAL_EXCHANGE_HEADER: info.get("exchange") or "",
                ORIGINAL_ROUTING_KEY_HEADER: info.get("routing_key") or "",
            }, declare_queue=dlq, rename={"compression": ORIGINAL_COMPRESSION_HEADER})
            raw.ack()
        self._submit(op, generation)


class RabbitIncomingMessage(IncomingMessage):
    """A delivery handed out by ``poll``; settling goes through the consumer thread."""

    def __init__(self, settler: _Settler, raw: Any, generation: int, spec: QueueSpec,
                 ctxt: dict[str, Any], message: dict[str, Any], msg_id: str | None,
                 reply_q: str | None = None, client_timeout: float | None = None,
                 reply_sender: ReplySender | None = None,
                 gather: Callable[[], bool] | None = None) -> None:
        super().__init__(ctxt, message, msg_id, reply_q=reply_q,
                         client_timeout=client_timeout, delivery_count=delivery_count(raw))
        self._gather = gather or _never
        self._settler = settler
        self._raw = raw
        self._generation = generation
        self._spec = spec
        self._reply_sender = reply_sender
        self._reply_msg_id = msg_id

    def _acknowledge(self) -> None:
        # Notifications: while others wait to be handled, the ack may be written
        # with theirs (ACK_DELAY); RPC requests are acknowledged at once
        # (at-most-once: before the call runs).
        self._settler.ack(self._raw, self._generation, gather=self._gather())

    def _requeue(self) -> None:
        self._settler.requeue(self._raw, self._generation, self._spec, self.delivery_count)

    def _dead_letter(self, reason: str) -> None:
        self._settler.dead_letter(self._raw, self._generation, self._spec, reason)

    def _send_reply(self, result: Any, failure: str | None, ending: bool) -> None:
        if self._reply_sender is None or self.reply_q is None:
            return
        self._reply_sender(self.reply_q, self._reply_msg_id, result, failure, ending)


class RabbitListener(Listener):
    """Poll-style listener over one consumer thread (RPC or notifications)."""

    def __init__(self, consumer_factory: Callable[..., ConsumerThread], specs: list[QueueSpec],
                 topology: Topology, exchange: str | None, kind: str, max_attempts: int,
                 reply_sender: ReplySender | None = None, owned: list[str] | None = None,
                 settle_timeout: float = 30.0) -> None:
        super().__init__()
        self._kind = kind
        self._incoming: queue.SimpleQueue[RabbitIncomingMessage | None] = queue.SimpleQueue()
        self._reply_sender = reply_sender
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.consumer = consumer_factory(specs, self._on_message, f"listen-{kind}", owned)
        self._settler = _Settler(self.consumer, topology, exchange, max_attempts,
                                 settle_timeout)
        self._started = False
        self._start_lock = threading.Lock()
        self.consumer.open()

    # -- consumer thread side ------------------------------------------------
    def _on_message(self, raw: Any, generation: int, spec: QueueSpec) -> None:
        try:
            incoming = self._decode(raw, generation, spec)
        except Exception as exc:  # whatever is wrong with it, it must not stop the thread
            if not isinstance(exc, MalformedMessage):
                exc = MalformedMessage(f"cannot decode: {type(exc).__name__}: {exc}")
            LOG.error("Undecodable message on queue %r dead-lettered: %s", spec.name, exc)
            self._settler.dead_letter(raw, generation, spec, f"MalformedMessage: {exc}")
            return
        if incoming is not None:
            self._incoming.put(incoming)

    def _decode(self, raw: Any, generation: int,
                spec: QueueSpec) -> RabbitIncomingMessage | None:
        errors = getattr(raw, "errors", None)
        if errors:  # kombu failed to decompress it (it decompresses on arrival)
            raise MalformedMessage(f"cannot unwrap body: {errors[0][1]}")
        try:
            body = raw.body
            if raw.content_encoding and raw.content_encoding not in ("utf-8", "binary"):
                body = body.decode(raw.content_encoding) if isinstance(body, bytes) else body
            data = decode_body(body)
        except MalformedMessage:
            raise
        except (ValueError, TypeError, LookupError) as exc:
            raise MalformedMessage(f"cannot decode body: {exc}") from exc
        if self._kind == "rpc":
            request = parse_request(data)
            # Only first deliveries can be duplicates of a send; a requeued copy
            # (ours, or the broker's redelivery) carries the same _unique_id on purpose.
            if (request.unique_id and delivery_count(raw) == 1
                    and self._duplicate(request.unique_id)):
                LOG.info("Duplicate RPC request %s dropped", request.unique_id)
                self._settler.ack(raw, generation)
                return None
            return RabbitIncomingMessage(
                self._settler, raw, generation, spec, request.ctxt, request.message,
                request.msg_id, reply_q=request.reply_q, client_timeout=request.client_timeout,
                reply_sender=self._reply_sender)
        ctxt, message = parse_notification(data)
        return RabbitIncomingMessage(self._settler, raw, generation, spec, ctxt, message,
                                     message.get("message_id"), gather=self._more_waiting)

    def _more_waiting(self) -> bool:
        """Deliveries wait to be handled: an acknowledgement can wait to go with theirs."""
        return not self._incoming.empty()

    def _duplicate(self, unique_id: str) -> bool:
        if unique_id in self._seen:
            return True
        self._seen[unique_id] = None
        if len(self._seen) > _DUPLICATES_REMEMBERED:
            self._seen.popitem(last=False)
        return False

    # -- server side -----------------------------------------------------------
    def poll_one(self, timeout: float | None) -> IncomingMessage | None:
        if self.stopped:
            return None
        with self._start_lock:
            if not self._started:  # consume only now: prefetch is set by the server
                self._started = True
                self.consumer.consume(self.prefetch)
        try:
            message = self._incoming.get(timeout=timeout)
        except queue.Empty:
            return None
        if message is None:  # stop() woke us
            self._incoming.put(None)
            return None
        return message

    def stop(self) -> None:
        if self.stopped:
            return
        super().stop()
        self.consumer.pause()  # no new deliveries; handed-out messages can still settle
        self._incoming.put(None)

    def cleanup(self) -> None:
        """Give back what was received but never handed out, then close the connection."""
        self.stop()
        while True:
            try:
                message = self._incoming.get_nowait()
            except queue.Empty:
                break
            if message is not None and message._settle():
                # back to the head of its queue, delivery count unchanged
                self.consumer.submit(functools.partial(message._raw.reject, requeue=True),
                                     message._generation)
        self.consumer.stop()
