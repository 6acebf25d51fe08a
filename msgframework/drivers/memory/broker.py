"""An in-process message broker modelled on AMQP, one per virtual host.

State lives in explicit :class:`Broker` objects held in a module registry
keyed by name (see :func:`get_broker`), never in class attributes, so tests
isolate themselves with a unique name per test or :func:`reset_broker`.

Model
-----
* A queue is identified by ``(exchange, name)`` and holds message bodies as
  JSON text, so what a consumer reads went through the same encoding a real
  broker would impose.
* Bindings are exact-match: ``(exchange, routing_key) -> queues``. Publishing
  copies the body to every bound queue (fanout and notification pools are
  just several queues bound to one key).
* Consumers are :class:`Subscription` objects (one per listener). Delivery is
  pull-based: a subscription takes the first ready message of its queues, so
  each message of a shared queue goes to exactly one subscriber. Several
  threads may block in take() on one subscription (an executor's idle
  workers). A publish wakes *one* waiting thread of one subscriber of the
  queue: of that subscriber's waiting threads, the one that blocked last, so
  a worker that just finished a message (its caches warm) takes the next
  and the others stay asleep. Waiters are registered and claimed under the
  broker lock, so no wake-up is lost. The woken subscriber may take a
  message of another of its queues instead; whenever a subscriber leaves
  take() (with a message, on timeout or stop) while its queues still hold
  ready messages, it passes the wake-up on to another waiting subscriber of
  those queues, so no message waits while a consumer of its queue idles.
* A taken message is *in flight* until settled: acknowledged (forgotten),
  requeued (back to the **front** of its queue, as RabbitMQ puts a requeued
  message back at its original position) or dead-lettered (kept in
  :attr:`Broker.dead_letters` with the reason). Each delivery increments the
  message's ``delivery_count``. A subscription hands out at most ``prefetch``
  unsettled messages; unsubscribing requeues what it still holds, as closing
  an AMQP channel does.
* A queue may carry a policy (:class:`~msgframework.drivers.base.QueuePolicy`,
  set by the subscription that declares it): each message stored gets an
  expiry ``message_ttl`` after it was stored, expired messages at the head
  are discarded as new ones arrive, and storing beyond ``max_length`` ready
  messages drops the oldest (RabbitMQ's ``x-overflow=drop-head``).
* :meth:`Broker.wait_until_idle` blocks until every queue is empty and
  nothing is in flight; :meth:`Broker.wait_for_waiters` until consumers (or
  idle waiters) are really blocked, for tests that must act only then.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import threading
import time
from _thread import allocate_lock as _allocate_lock
from collections.abc import Callable
from typing import Any

from msgframework.drivers.base import QueuePolicy

__all__ = ["Broker", "DeadLetter", "Delivery", "Subscription", "get_broker",
           "reset_broker", "broker_names"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class DeadLetter:
    """A dead-lettered message, for tests to inspect."""

    exchange: str
    queue: str
    body: str
    reason: str
    delivery_count: int

    @property
    def message(self) -> Any:
        """The body decoded as the wire would (the raw text when it cannot be)."""
        from msgframework.wire.envelope import decode_body

        try:
            return decode_body(self.body)
        except Exception:
            return self.body


class _Message:
    __slots__ = ("body", "delivery_count", "expires_at", "stored_at")

    def __init__(self, body: str, expires_at: float | None, stored_at: float) -> None:
        self.body = body
        self.delivery_count = 0
        self.expires_at = expires_at
        self.stored_at = stored_at


class _Queue:
    __slots__ = ("exchange", "name", "ready", "subscribers", "owner", "turn", "message_ttl",
                 "max_length")

    def __init__(self, exchange: str, name: str, owner: Subscription | None) -> None:
        self.exchange = exchange
        self.name = name
        self.ready: collections.deque[_Message] = collections.deque()
        self.subscribers: list[Subscription] = []
        #: An exclusive queue (fanout) is deleted with its owner.
        self.owner = owner
        self.turn = 0
        #: The queue's policy (see QueuePolicy); None: no limit.
        self.message_ttl: float | None = None
        self.max_length: int | None = None


@dataclasses.dataclass(slots=True)
class Delivery:
    """One message handed to a subscription; settle it through the broker."""

    tag: int
    queue: _Queue
    message: _Message

    @property
    def body(self) -> str:
        return self.message.body

    @property
    def delivery_count(self) -> int:
        return self.message.delivery_count

    @property
    def queue_name(self) -> str:
        return self.queue.name


class Subscription:
    """A consumer of one or more queues: what a listener polls."""

    def __init__(self, broker: Broker, name: str) -> None:
        self.name = name
        self.queues: list[_Queue] = []
        #: A held lock per thread blocked in take(); waking one pops and
        #: releases it, the thread that blocked last first (see Broker.take).
        self.waiters: list[Any] = []
        self.stopped = False
        self.prefetch = 0
        self.inflight: dict[int, Delivery] = {}
        self.turn = 0
        #: Deliveries after which a requeued message is dead-lettered; 0: no limit.
        self.max_deliveries = 0

    def __repr__(self) -> str:
        return f"<Subscription {self.name} queues={[q.name for q in self.queues]}>"

    def _has_room(self) -> bool:
        return not self.prefetch or len(self.inflight) < self.prefetch


class Broker:
    """Exchanges, queues, bindings, subscriptions and dead letters of one virtual host."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._bindings: dict[tuple[str, str], list[_Queue]] = {}
        self._reply_handlers: dict[str, Callable[[str], None]] = {}
        self._tags = itertools.count(1)
        self._ready = 0
        self._inflight = 0
        # Threads blocked in take() and in wait_until_idle(), for wait_for_waiters().
        self._takers_waiting = 0
        self._idle_waiting = 0
        self._waiters_changed = threading.Condition(self._lock)
        self._watching_waiters = 0
        self.dead_letters: list[DeadLetter] = []
        self._stats: collections.Counter[str] = collections.Counter()

    def __repr__(self) -> str:
        return f"<Broker {self.name!r} queues={len(self._queues)}>"

    # -- topology -------------------------------------------------------------

    def declare_queue(self, exchange: str, name: str, routing_keys: tuple[str, ...] = (),
                      owner: Subscription | None = None) -> None:
        """Create the queue if missing and bind it to ``routing_keys`` (idempotent)."""
        with self._lock:
            self._declare(exchange, name, routing_keys, owner)

    def _declare(self, exchange: str, name: str, routing_keys: tuple[str, ...],
                 owner: Subscription | None = None) -> _Queue:
        queue = self._queues.get((exchange, name))
        if queue is None:
            queue = self._queues[(exchange, name)] = _Queue(exchange, name, owner)
        for key in routing_keys:
            bound = self._bindings.setdefault((exchange, key), [])
            if queue not in bound:
                bound.append(queue)
        return queue

    def _delete(self, queue: _Queue) -> None:
        self._queues.pop((queue.exchange, queue.name), None)
        for key, bound in list(self._bindings.items()):
            if queue in bound:
                bound.remove(queue)
                if not bound:
                    del self._bindings[key]
        self._ready -= len(queue.ready)
        queue.ready.clear()

    def _set_policy(self, queue: _Queue, policy: QueuePolicy) -> None:
        """Give ``queue`` a policy and apply it to what it already holds."""
        queue.message_ttl, queue.max_length = policy.message_ttl, policy.max_length
        if queue.message_ttl is not None:
            for msg in queue.ready:
                ttl_at = msg.stored_at + queue.message_ttl
                if msg.expires_at is None or ttl_at < msg.expires_at:
                    msg.expires_at = ttl_at
        self._enforce(queue, time.monotonic())
        self._maybe_idle()

    def _enforce(self, queue: _Queue, now: float) -> None:
        """Drop the expired head and the overflow of a queue that has a policy."""
        ready = queue.ready
        if queue.message_ttl is not None:
            while ready and ready[0].expires_at is not None and ready[0].expires_at < now:
                ready.popleft()
                self._ready -= 1
                self._stats["expired"] += 1
        if queue.max_length is not None:
            while len(ready) > queue.max_length:
                ready.popleft()
                self._ready -= 1
                self._stats["overflowed"] += 1

    def queue_names(self, exchange: str | None = None) -> list[str]:
        """Names of the existing queues (of one exchange, or ``exchange/name`` of all)."""
        with self._lock:
            if exchange is not None:
                return sorted(n for (e, n) in self._queues if e == exchange)
            return sorted(f"{e}/{n}" for (e, n) in self._queues)

    def depth(self, exchange: str, name: str) -> int:
        """Ready (not in flight) messages of a queue; 0 when it does not exist."""
        with self._lock:
            queue = self._queues.get((exchange, name))
            return len(queue.ready) if queue else 0

    def peek(self, exchange: str, name: str) -> list[str]:
        """The bodies waiting in a queue, oldest first, without taking them."""
        with self._lock:
            queue = self._queues.get((exchange, name))
            return [m.body for m in queue.ready] if queue else []

    # -- publishing -------------------------------------------------------------

    def publish(self, exchange: str, routing_key: str, body: str, *,
                declare: str | None = None, mandatory: bool = False,
                expires_at: float | None = None, policy: QueuePolicy | None = None) -> int:
        """Copy ``body`` to every queue bound to ``routing_key``; return how many.

        ``declare`` names a queue to create and bind to the key first (store
        and forward), with ``policy`` when it is created (an existing queue
        keeps its own). With ``mandatory`` nothing is stored and 0 is
        returned when no bound queue has a subscriber.
        """
        with self._lock:
            if declare is not None and (exchange, declare) not in self._queues:
                queue = self._declare(exchange, declare, (routing_key,))
                if policy:
                    self._set_policy(queue, policy)
            queues = self._bindings.get((exchange, routing_key), ())
            if mandatory and not any(q.subscribers for q in queues):
                self._stats["unroutable"] += 1
                return 0
            now = time.monotonic()
            for queue in queues:
                expires = expires_at
                if queue.message_ttl is not None:
                    ttl_at = now + queue.message_ttl
                    expires = ttl_at if expires is None else min(expires, ttl_at)
                queue.ready.append(_Message(body, expires, now))
                self._ready += 1
                if queue.message_ttl is not None or queue.max_length is not None:
                    self._enforce(queue, now)
                if queue.subscribers:
                    self._wake_one(queue)
            self._stats["published"] += 1
            return len(queues)

    def _wake_one(self, queue: _Queue) -> None:
        subs = queue.subscribers
        n = len(subs)
        start = queue.turn
        for i in range(n):
            sub = subs[(start + i) % n]
            if sub.waiters and sub._has_room():
                queue.turn = (start + i + 1) % n
                # claimed: the next publish wakes another thread or subscriber
                sub.waiters.pop().release()
                return

    # -- RPC replies ------------------------------------------------------------

    def register_reply_queue(self, name: str, handler: Callable[[str], None]) -> None:
        """Replies published to ``name`` are handed to ``handler(body)`` at once."""
        with self._lock:
            self._reply_handlers[name] = handler

    def unregister_reply_queue(self, name: str) -> None:
        with self._lock:
            self._reply_handlers.pop(name, None)

    def reply(self, reply_q: str, body: str) -> bool:
        """Deliver a reply body to its caller's handler; False when that queue is gone."""
        handler = self._reply_handlers.get(reply_q)
        if handler is None:
            self._stats["replies_dropped"] += 1
            return False
        handler(body)
        return True

    # -- consuming --------------------------------------------------------------

    def subscribe(self, name: str, queues: list[tuple[str, str, tuple[str, ...], bool]],
                  max_deliveries: int = 0, policy: QueuePolicy | None = None
                  ) -> Subscription:
        """A subscription to ``(exchange, queue, routing_keys, exclusive)`` queues.

        Exclusive queues belong to the subscription and are deleted with it.
        A message requeued after ``max_deliveries`` deliveries is dead-lettered.
        A ``policy`` is set on every queue of the subscription (replacing the
        one they had) and applied to what they already hold.
        """
        sub = Subscription(self, name)
        sub.max_deliveries = max_deliveries
        with self._lock:
            for exchange, qname, keys, exclusive in queues:
                queue = self._declare(exchange, qname, keys, sub if exclusive else None)
                if policy:
                    self._set_policy(queue, policy)
                if queue not in sub.queues:
                    sub.queues.append(queue)
                    queue.subscribers.append(sub)
        return sub

    def take(self, sub: Subscription, timeout: float | None) -> Delivery | None:
        """The next message for ``sub``, or None after ``timeout`` or :meth:`stop`."""
        deadline = None
        lock = self._lock
        with lock:
            while True:
                if sub.stopped:
                    self._pass_on(sub)
                    return None
                if sub._has_room():
                    delivery = self._take_ready(sub)
                    if delivery is not None:
                        # A wake-up meant for a message of one queue may have
                        # been spent on another queue's message: hand it on.
                        self._pass_on(sub)
                        return delivery
                if deadline is None and timeout is not None:
                    deadline = time.monotonic() + timeout
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    self._pass_on(sub)
                    return None
                waiter = _allocate_lock()
                waiter.acquire()
                sub.waiters.append(waiter)
                self._takers_waiting += 1
                if self._watching_waiters:
                    self._waiters_changed.notify_all()
                lock.release()
                try:
                    waiter.acquire(True, -1 if remaining is None else remaining)
                finally:
                    lock.acquire()
                    self._takers_waiting -= 1
                    if waiter in sub.waiters:
                        sub.waiters.remove(waiter)  # timed out: nobody claimed it
                    else:
                        self._stats["wakeups"] += 1

    def _take_ready(self, sub: Subscription) -> Delivery | None:
        queues = sub.queues
        n = len(queues)
        for i in range(n):
            queue = queues[(sub.turn + i) % n]
            ready = queue.ready
            while ready:
                msg = ready.popleft()
                self._ready -= 1
                if msg.expires_at is not None and msg.expires_at < time.monotonic():
                    self._stats["expired"] += 1
                    LOG.debug("Message on %s expired before delivery", queue.name)
                    continue
                sub.turn = (sub.turn + i + 1) % n
                msg.delivery_count += 1
                delivery = Delivery(next(self._tags), queue, msg)
                sub.inflight[delivery.tag] = delivery
                self._inflight += 1
                self._stats["delivered"] += 1
                return delivery
        self._maybe_idle()
        return None

    def _pass_on(self, sub: Subscription) -> None:
        """A subscriber leaving take() may have been the one woken for a message
        it did not take: wake another waiting subscriber of each queue of
        ``sub`` that still has ready messages."""
        for queue in sub.queues:
            if queue.ready and len(queue.subscribers) > 1:
                self._wake_one(queue)

    def stop(self, sub: Subscription) -> None:
        """Wake a blocked :meth:`take`; later takes return None at once."""
        with self._lock:
            sub.stopped = True
            self._wake_all(sub)

    @staticmethod
    def _wake_all(sub: Subscription) -> None:
        waiters, sub.waiters = sub.waiters, []
        for waiter in waiters:
            waiter.release()

    def unsubscribe(self, sub: Subscription) -> None:
        """Detach ``sub``: its exclusive queues go, its in-flight messages are requeued."""
        with self._lock:
            sub.stopped = True
            self._wake_all(sub)
            for delivery in list(sub.inflight.values()):
                self._settle(sub, delivery.tag, "requeue", None)
            for queue in sub.queues:
                if sub in queue.subscribers:
                    queue.subscribers.remove(sub)
                if queue.owner is sub:
                    self._delete(queue)
                elif queue.ready:
                    self._wake_one(queue)
            sub.queues = []
            self._maybe_idle()

    # -- settling ---------------------------------------------------------------

    def settle(self, sub: Subscription, tag: int, outcome: str, reason: str | None = None
               ) -> None:
        """``outcome`` is ``ack``, ``requeue`` or ``dead_letter``; unknown tags are no-ops."""
        with self._lock:
            self._settle(sub, tag, outcome, reason)

    def _settle(self, sub: Subscription, tag: int, outcome: str, reason: str | None) -> None:
        delivery = sub.inflight.pop(tag, None)
        if delivery is None:
            return
        self._inflight -= 1
        queue, msg = delivery.queue, delivery.message
        if outcome == "requeue" and sub.max_deliveries and \
                msg.delivery_count >= sub.max_deliveries:
            outcome = "dead_letter"
            reason = f"delivered {msg.delivery_count} times without being acknowledged"
            LOG.warning("Message on %s dead-lettered: %s", queue.name, reason)
        if outcome == "requeue":
            if self._queues.get((queue.exchange, queue.name)) is queue:
                queue.ready.appendleft(msg)
                self._ready += 1
                self._stats["requeued"] += 1
                self._wake_one(queue)
            else:
                self._stats["dropped"] += 1
                LOG.debug("Requeued message dropped: queue %s was deleted", queue.name)
        elif outcome == "dead_letter":
            self.dead_letters.append(DeadLetter(queue.exchange, queue.name, msg.body,
                                                reason or "", msg.delivery_count))
            self._stats["dead_lettered"] += 1
        else:
            self._stats["acknowledged"] += 1
        if sub.waiters and not sub.stopped and sub.prefetch and \
                len(sub.inflight) == sub.prefetch - 1 and any(q.ready for q in sub.queues):
            # It was full: a taker may be waiting for room. (Waking on every
            # settle would wake an idle worker per message for nothing.)
            sub.waiters.pop().release()
        self._maybe_idle()

    def dead_letter_body(self, exchange: str, queue: str, body: str, reason: str) -> None:
        """Record a message that could not even be handed out (undecodable)."""
        with self._lock:
            self.dead_letters.append(DeadLetter(exchange, queue, body, reason, 1))
            self._stats["dead_lettered"] += 1

    # -- waiting for tests ----------------------------------------------------

    def _maybe_idle(self) -> None:
        if not self._ready and not self._inflight:
            self._idle.notify_all()

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until every queue is drained and every delivery settled; False on timeout."""
        with self._lock:
            self._idle_waiting += 1
            if self._watching_waiters:
                self._waiters_changed.notify_all()
            try:
                return self._idle.wait_for(lambda: not self._ready and not self._inflight,
                                           timeout)
            finally:
                self._idle_waiting -= 1

    def wait_for_waiters(self, takers: int = 0, idle: int = 0, timeout: float = 5.0) -> bool:
        """Block until at least ``takers`` threads are blocked in take()
        (a listener's poll waiting for a message; a listener polled by
        several threads counts each) and at least ``idle`` threads in
        :meth:`wait_until_idle`; False after ``timeout``.

        For tests that must act only once a consumer really waits, e.g.
        publish only when every listener is polling.
        """
        with self._lock:
            self._watching_waiters += 1
            try:
                return self._waiters_changed.wait_for(
                    lambda: self._takers_waiting >= takers and self._idle_waiting >= idle,
                    timeout)
            finally:
                self._watching_waiters -= 1

    def stats(self) -> dict[str, int]:
        """Counters (published, delivered, acknowledged, requeued, dead_lettered,
        expired, overflowed (dropped by a queue's max_length), unroutable,
        replies_dropped, dropped, and ``wakeups``: waits in
        take() ended by a wake-up rather than a timeout) and the current
        ``ready``/``in_flight``/``queues``/``subscriptions``/``takers_waiting``/
        ``idle_waiting`` figures."""
        with self._lock:
            out = dict(self._stats)
            out["ready"] = self._ready
            out["in_flight"] = self._inflight
            out["takers_waiting"] = self._takers_waiting
            out["idle_waiting"] = self._idle_waiting
            out["queues"] = len(self._queues)
            out["subscriptions"] = len({id(s) for q in self._queues.values()
                                        for s in q.subscribers})
            return out


_registry_lock = threading.Lock()
_BROKERS: dict[str, Broker] = {}


def get_broker(name: str = "") -> Broker:
    """The broker of one virtual host, created on first use."""
    broker = _BROKERS.get(name)
    if broker is None:
        with _registry_lock:
            broker = _BROKERS.get(name)
            if broker is None:
                broker = _BROKERS[name] = Broker(name)
    return broker


def reset_broker(name: str | None = None) -> None:
    """Forget one broker (or all with None): the next :func:`get_broker` starts afresh.

    Drivers still holding the old broker keep using it; build new transports
    after a reset.
    """
    with _registry_lock:
        if name is None:
            _BROKERS.clear()
        else:
            _BROKERS.pop(name, None)


def broker_names() -> list[str]:
    """Names of the brokers that exist."""
    with _registry_lock:
        return sorted(_BROKERS)
