"""THE driver contract: what every transport driver must and should do.

A driver is a class registered under the ``msgframework.drivers`` entry
point namespace and built as ``Driver(conf, url, default_exchange,
allowed_remote_exmods)``. The public API (Transport, RPC client/server,
Notifier, listeners) talks to drivers only through this module's types, and
``msgframework.testing.conformance`` checks every obligation below against
each driver.

Sending
-------
``send(target, ctxt, message, wait_for_reply, timeout, call_monitor_timeout,
retry, transport_options)`` (RPC):

* MUST route by ``target.exchange`` (None: the driver's default exchange),
  ``target.topic`` and ``target.server``: a topic message goes to exactly one
  listener of the topic, a server message to that server, and a message with
  ``target.fanout`` to every listener of the topic.
* MUST return only once the message is accepted by the transport (stored, or
  confirmed by the broker), except within a pipelining window the driver
  documents (RabbitMQ's ``confirm_window`` for casts and notifications):
  then it returns once the message is written, and MUST report a later
  failure through :class:`EarlierSendFailed` from the next send of the same
  kind and from ``flush()``. A message is never silently dropped.
* ``retry``: None or -1 retries forever, 0 never, N at most N times; then
  :class:`MessageDeliveryFailure`. Retrying MUST NOT duplicate the message.
* With ``wait_for_reply`` it MUST block until the reply arrives and return
  the reply's ``result``, raise the remote exception rebuilt by
  :func:`msgframework.wire.failures.deserialize_remote_exception`, or raise
  :class:`MessagingTimeout` when ``timeout`` expires. Heartbeats (replies
  with ``ending`` False and no result) restart the ``call_monitor_timeout``
  timer; ``timeout`` stays the hard ceiling. :class:`ReplyWaiters` in
  ``drivers/common.py`` implements this so drivers only feed it replies.
* With ``transport_options.at_least_once`` a driver that can tell nobody is
  subscribed MUST raise :class:`MessageUndeliverable` at once.
* Values that JSON cannot encode MUST fail at send time with TypeError or
  ValueError, as they would on a broker.

``send_notification(target, ctxt, message, version, retry)`` (plus
``queue_policy=`` on drivers with queue policies, see below):

* store and forward: the message MUST be kept for a subscriber that starts
  later (on the non-pooled ``<topic>.<priority>`` queue) and for every
  existing pool.
* ``version`` 2.0 means the oslo envelope on the wire, 1.0 none.

Listening
---------
``listen(target, batch_size, batch_timeout)`` subscribes an RPC server to
the topic queue, its ``<topic>.<server>`` queue and the topic's fanout.
``listen_for_notifications(targets_and_priorities, pool, batch_size,
batch_timeout)`` subscribes to ``<topic>.<priority>`` per pair; with a
``pool`` every pool gets one copy, shared among the pool's listeners.

Queue policies
--------------
``listen_for_notifications(..., queue_policy=QueuePolicy(message_ttl,
max_length))`` asks the driver to bound the subscriber's queues (the pool
queue, or ``<topic>.<priority>`` without a pool) **when messages are
stored**, so a queue nobody reads stays bounded. A sender may ask the same
of the store-and-forward queue: ``send_notification(...,
queue_policy=...)`` creates a missing ``<topic>.<priority>`` with the
policy, so the queue is bounded from its first message even before anyone
subscribed; a queue that exists keeps its bounds (a subscriber's policy
owns them).
Only drivers that declare :attr:`Capability.QUEUE_POLICY` accept the
keyword; ``Transport`` raises :class:`UnsupportedFeature` for the others
and never passes ``None``, so a driver without the feature keeps the
plain signatures. A driver that declares it:

* MUST give each message stored on a queue with a policy an expiry of at
  most ``message_ttl`` seconds after it was stored (AMQP
  ``x-message-ttl``) and MUST NOT deliver it after that; it SHOULD discard
  expired messages at the head of the queue as new ones are stored.
* MUST keep at most ``max_length`` ready (not in-flight) messages: storing
  one more drops the oldest ready one (``x-max-length`` with
  ``x-overflow=drop-head``). Dropped and expired messages are gone, not
  dead-lettered.
* MUST create a queue that does not exist yet with the policy (listener or
  sender), and keep the policy on the (durable) queue after the listener
  stops; a listener without a policy, and any sender to an existing queue,
  leave the queue's policy as it is.

Changing the policy of a queue that exists is a second feature,
:attr:`Capability.QUEUE_POLICY_CHANGE`: a driver declaring it MUST apply
the latest policy a listener gives, including to what the queue already
holds. A
driver with policies but without it (RabbitMQ: queue arguments are fixed
when the queue is declared) uses an existing queue as it is, and says so
once in its log.

Both return a :class:`Listener`. Listeners are poll-style: the server's
executor calls ``poll()`` from one thread at a time, though not always the
same thread (its workers take turns polling), unless the listener declares
:attr:`Listener.concurrent_poll` (the memory driver's): then its idle
workers all poll with ``batch_size`` 1, and the listener MUST wake only one
of them per message.

* ``poll(timeout, batch_size, batch_timeout)`` MUST return within
  ``timeout`` (an empty list when nothing came) and MUST wake promptly when
  ``stop()`` is called from another thread; it never busy-waits.
* ``poll`` MUST NOT hand out more than ``prefetch`` unacknowledged messages
  when the server sets :attr:`Listener.prefetch` (the bound on in-flight
  work); the server acknowledges, requeues or dead-letters each one.
* Undecodable messages MUST NOT be returned: the driver logs and
  dead-letters them (``MalformedMessage``) and keeps polling.
* After a connection loss the listener MUST resubscribe by itself.

Incoming messages
-----------------
An :class:`IncomingMessage` carries ``ctxt`` (a dict), ``message`` (a dict)
and ``msg_id``. ``acknowledge()``, ``requeue()``, ``dead_letter(reason)``,
``reply()`` and ``heartbeat()`` MUST NOT raise: failures are logged, since a
server cannot do anything better with them. Exactly one of
acknowledge/requeue/dead_letter settles a message; later calls are no-ops.
``delivery_count`` is 1 on the first delivery and grows with each requeue.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from msgframework.target import Target
from msgframework.transport_url import TransportURL

__all__ = [
    "Capability",
    "BaseDriver",
    "Listener",
    "IncomingMessage",
    "QueuePolicy",
    "TransportOptions",
]

LOG = logging.getLogger(__name__)


class Capability:
    """Names of optional driver features, declared in ``BaseDriver.capabilities``."""

    REQUEUE = "requeue"                # requeue() redelivers
    POOLS = "pools"                    # listen_for_notifications(pool=...)
    DEAD_LETTER = "dead_letter"        # dead_letter() keeps the message somewhere
    MANDATORY = "mandatory"            # at_least_once sends fail fast
    MULTI_PROCESS = "multi_process"    # processes on one host share the transport
    MULTI_HOST = "multi_host"          # hosts on a network share the transport
    DURABLE = "durable"                # messages survive a restart of every process
    CALL_MONITOR = "call_monitor"      # heartbeats while long calls run
    QUEUE_POLICY = "queue_policy"      # queue_policy= when listening and sending
    QUEUE_POLICY_CHANGE = "queue_policy_change"  # a later policy replaces the queue's

    ALL = frozenset({REQUEUE, POOLS, DEAD_LETTER, MANDATORY, MULTI_PROCESS,
                     MULTI_HOST, DURABLE, CALL_MONITOR, QUEUE_POLICY,
                     QUEUE_POLICY_CHANGE})
    #: Newer features whose row a driver's feature table may still lack (the
    #: driver then does not have the feature); they join ALL once every
    #: driver lists them.
    PROVISIONAL: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TransportOptions:
    """Per-call transport hints, as oslo.messaging's ``TransportOptions``.

    :param at_least_once: fail fast with MessageUndeliverable when nobody is
        subscribed to the target (AMQP ``mandatory``).
    """

    at_least_once: bool = False


@dataclass(frozen=True)
class QueuePolicy:
    """Bounds a subscriber asks the driver to enforce on its queues when messages are stored.

    See "Queue policies" in the module docstring.

    :param message_ttl: seconds a stored message stays deliverable (> 0), or
        None for no limit (AMQP ``x-message-ttl``, in milliseconds there).
    :param max_length: most ready messages kept (>= 1); storing another
        drops the oldest (``x-max-length`` with ``x-overflow=drop-head``).
        None for no limit.
    """

    message_ttl: float | None = None
    max_length: int | None = None

    def __post_init__(self) -> None:
        ttl, length = self.message_ttl, self.max_length
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))
                                or not 0 < ttl < float("inf")):
            raise ValueError(f"message_ttl must be a positive number of seconds or None, "
                             f"got {ttl!r}")
        if length is not None and (isinstance(length, bool) or not isinstance(length, int)
                                   or length < 1):
            raise ValueError(f"max_length must be a positive integer or None, got {length!r}")

    def __bool__(self) -> bool:
        return self.message_ttl is not None or self.max_length is not None


class IncomingMessage(abc.ABC):
    """A message handed to a server by a listener."""

    def __init__(self, ctxt: dict[str, Any], message: dict[str, Any],
                 msg_id: str | None = None, *, reply_q: str | None = None,
                 client_timeout: float | None = None, delivery_count: int = 1) -> None:
        self.ctxt = ctxt
        self.message = message
        self.msg_id = msg_id or uuid.uuid4().hex
        self.reply_q = reply_q
        self.client_timeout = client_timeout
        self.delivery_count = delivery_count
        self._settled = False
        self._settle_lock = threading.Lock()

    def _settle(self) -> bool:
        """True the first time: callers use it to make settling idempotent."""
        with self._settle_lock:
            if self._settled:
                return False
            self._settled = True
            return True

    @property
    def settled(self) -> bool:
        return self._settled

    def acknowledge(self) -> None:
        """Mark the message handled; the transport forgets it."""
        if self._settle():
            self._guard("acknowledge", self._acknowledge)

    def requeue(self) -> None:
        """Give the message back for another delivery."""
        if self._settle():
            self._guard("requeue", self._requeue)

    def dead_letter(self, reason: str) -> None:
        """Move the message to the dead-letter destination, with the reason."""
        if self._settle():
            LOG.warning("Dead-lettering message %s: %s", self.msg_id, reason)
            self._guard("dead_letter", lambda: self._dead_letter(reason))

    def reply(self, reply: Any = None, failure: str | None = None) -> None:
        """Send the final RPC reply; ``failure`` is serialized remote-exception JSON."""
        if self.reply_q is None:
            return
        self._guard("reply", lambda: self._send_reply(reply, failure, True))

    def heartbeat(self) -> None:
        """Tell a monitoring caller that the call is still running."""
        if self.reply_q is None:
            return
        self._guard("heartbeat", lambda: self._send_reply(None, None, False))

    def _guard(self, what: str, fn: Any) -> None:
        try:
            fn()
        except Exception:
            LOG.exception("Failed to %s message %s", what, self.msg_id)

    @abc.abstractmethod
    def _acknowledge(self) -> None: ...

    @abc.abstractmethod
    def _requeue(self) -> None: ...

    @abc.abstractmethod
    def _dead_letter(self, reason: str) -> None: ...

    def _send_reply(self, result: Any, failure: str | None, ending: bool) -> None:
        raise NotImplementedError("this message cannot be replied to")


class Listener(abc.ABC):
    """A subscription the server polls; see the module docstring for the contract."""

    #: Most unsettled messages this listener may hand out; 0 means no bound.
    prefetch: int = 0
    #: True when several threads may block in ``poll(batch_size=1)`` at once
    #: and each message wakes only one of them: an executor then lets all
    #: its idle workers poll instead of handing one polling role around.
    concurrent_poll: ClassVar[bool] = False

    def __init__(self) -> None:
        self._stopped = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[IncomingMessage]:
        """Wait up to ``timeout`` for a first message, then up to ``batch_timeout``
        for the batch to fill to ``batch_size``.

        Drivers implement :meth:`poll_one`; they may override this for a
        faster batch path.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        first = self.poll_one(_remaining(deadline))
        if first is None:
            return []
        batch = [first]
        if batch_size > 1:
            batch_deadline = time.monotonic() + (batch_timeout or 0)
            while len(batch) < batch_size and not self.stopped:
                more = self.poll_one(max(0.0, batch_deadline - time.monotonic()))
                if more is None:
                    break
                batch.append(more)
        return batch

    @abc.abstractmethod
    def poll_one(self, timeout: float | None) -> IncomingMessage | None:
        """Return one message, or None after ``timeout`` or ``stop()``."""

    def stop(self) -> None:
        """Stop handing out messages; thread-safe; wakes a blocked poll.

        Drivers that block in poll_one on something else than this event
        override it to also wake that wait, then call super().stop().
        """
        self._stopped.set()

    def wait_stopped(self, timeout: float | None) -> bool:
        """Block until stop() or ``timeout``; True when stopped."""
        return self._stopped.wait(timeout)

    def cleanup(self) -> None:  # optional hook
        """Release the subscription's resources; called once after stop()."""


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


class BaseDriver(abc.ABC):
    """Base class of transport drivers; the contract is the module docstring."""

    #: URL schemes (entry point names) this driver answers to.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: Optional features, from :class:`Capability`. The class lists what the
    #: driver can do (its feature table); an instance may have less when its
    #: backend cannot (the RabbitMQ driver on kombu's memory transport).
    capabilities: frozenset[str] = frozenset()

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str | None = None,
                 allowed_remote_exmods: Iterable[str] | None = None) -> None:
        self.conf = conf
        self._url = url
        self._default_exchange = default_exchange or "openstack"
        self._allowed_remote_exmods = list(allowed_remote_exmods or [])

    @abc.abstractmethod
    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool = False, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: TransportOptions | None = None) -> Any: ...

    @abc.abstractmethod
    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None) -> None:
        """Store a notification; a driver declaring QUEUE_POLICY also takes ``queue_policy=``."""

    @abc.abstractmethod
    def listen(self, target: Target, batch_size: int = 1,
               batch_timeout: float | None = None) -> Listener: ...

    @abc.abstractmethod
    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None, batch_size: int = 1,
                                 batch_timeout: float | None = None) -> Listener:
        """Subscribe; a driver declaring QUEUE_POLICY also takes ``queue_policy=``."""

    def require_features(self, requeue: bool = False, queue_policy: bool = False) -> None:
        """Raise UnsupportedFeature when asked for what the driver cannot do."""
        from msgframework.exceptions import UnsupportedFeature

        if requeue and Capability.REQUEUE not in self.capabilities:
            raise UnsupportedFeature(f"driver {type(self).__name__} cannot requeue")
        if queue_policy and Capability.QUEUE_POLICY not in self.capabilities:
            raise UnsupportedFeature(f"driver {type(self).__name__} cannot enforce a queue "
                                     "policy (message TTL, max length)")

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for sends that returned before being confirmed (see Transport.flush).

        Drivers whose sends return only once stored have nothing to wait for.
        """
        return True

    def cleanup(self) -> None:  # optional hook
        """Release connections, threads and files."""
