"""MemoryDriver: the in-process transport (see the package docstring for what it offers)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from msgframework.drivers.base import (
    BaseDriver,
    Capability,
    Listener,
    QueuePolicy,
    TransportOptions,
)
from msgframework.drivers.common import ReplyWaiters
from msgframework.drivers.memory.broker import Broker, get_broker
from msgframework.drivers.memory.listener import (
    MemoryListener,
    decode_notification,
    decode_request,
)
from msgframework.drivers.memory.options import GROUP, MEMORY_OPTS
from msgframework.exceptions import MalformedMessage, MessageUndeliverable
from msgframework.opts import DriverOptions
from msgframework.target import Target
from msgframework.transport_url import TransportURL
from msgframework.wire.envelope import decode_body, encode_body
from msgframework.wire.ids import uuid4_hex
from msgframework.wire.notification import build_notification
from msgframework.wire.rpc import build_reply, build_request, parse_reply

__all__ = ["MemoryDriver", "broker_name"]

LOG = logging.getLogger(__name__)


def broker_name(url: TransportURL) -> str:
    """The broker a URL names: its host and virtual host joined by ``/``.

    ``memory://`` and ``memory:///`` are the default broker ``""``;
    ``memory://tests`` and ``memory:///tests`` are both ``"tests"``;
    ``memory://a/b`` is ``"a/b"``.
    """
    parts = [url.hosts[0].hostname or ""] if url.hosts else []
    parts.append(url.virtual_host or "")
    return "/".join(p for p in parts if p)



#: RPC bodies never leave the process, so they skip oslo's envelope (a JSON
#: text inside JSON): still JSON-encoded, so what a broker would refuse fails
#: here too, at half the encoding work. Notifications keep the version the
#: notifier driver asks for.
_RPC_BODY_VERSION = 1.0

class MemoryDriver(BaseDriver):
    """Messaging between the threads of one process through an in-memory broker.

    Queues (per exchange): ``<topic>`` (RPC topic, shared by the topic's
    servers), ``<topic>.<server>`` (RPC server), ``<topic>.<priority>``
    (notifications, non-pooled), ``<pool>`` bound to each
    ``<topic>.<priority>`` of the pool's listeners; exchange
    ``<topic>_fanout`` holds one exclusive queue per RPC listener. RPC
    replies skip the queues: the broker hands them straight to the calling
    driver's :class:`ReplyWaiters`, after the JSON round trip.
    """

    schemes = ("memory", "fake")
    capabilities = frozenset({
        Capability.REQUEUE, Capability.POOLS, Capability.DEAD_LETTER, Capability.MANDATORY,
        Capability.CALL_MONITOR, Capability.QUEUE_POLICY, Capability.QUEUE_POLICY_CHANGE,
    })

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str | None = None,
                 allowed_remote_exmods: Iterable[str] | None = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.options = DriverOptions(conf, GROUP, MEMORY_OPTS, url.query)
        self.broker: Broker = get_broker(broker_name(url))
        self._waiters = ReplyWaiters(self._allowed_remote_exmods)
        self._reply_q = f"reply_{uuid4_hex()}"
        self._reply_registered = False
        self._lock = threading.Lock()
        self._listeners: set[MemoryListener] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<MemoryDriver broker={self.broker.name!r}>"

    # -- sending ----------------------------------------------------------------

    def _exchange(self, target: Target) -> str:
        return target.exchange or self._default_exchange

    def _reply_queue(self) -> str:
        if not self._reply_registered:
            with self._lock:
                if not self._reply_registered:
                    self.broker.register_reply_queue(self._reply_q, self._on_reply)
                    self._reply_registered = True
        return self._reply_q

    def _on_reply(self, body: str) -> None:
        try:
            msg_id, reply = parse_reply(decode_body(body))
        except (MalformedMessage, ValueError) as exc:
            LOG.error("Dropping undecodable RPC reply on %s: %s", self._reply_q, exc)
            return
        self._waiters.deliver(msg_id, reply)

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool = False, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: TransportOptions | None = None) -> Any:
        """Publish an RPC request; with ``wait_for_reply`` wait for its reply.

        ``retry`` is accepted for the contract's sake: an in-process publish
        cannot fail transiently.
        """
        msg_id = reply_q = None
        if wait_for_reply:
            reply_q = self._reply_queue()
            msg_id = uuid4_hex()
            self._waiters.listen(msg_id)
        try:
            body = encode_body(build_request(ctxt, message, msg_id=msg_id, reply_q=reply_q,
                                             call_monitor_timeout=call_monitor_timeout),
                               _RPC_BODY_VERSION)
            mandatory = bool(transport_options and transport_options.at_least_once)
            # As AMQP's per-message expiration: a request nobody took in time is dropped.
            expires = time.monotonic() + timeout if timeout else None
            topic = target.topic or ""
            declare: str | None
            if target.fanout:
                exchange, key, declare = f"{topic}_fanout", "", None
            else:
                exchange = self._exchange(target)
                key = f"{topic}.{target.server}" if target.server else topic
                declare = key  # store and forward, as the SQLite driver
            routed = self.broker.publish(exchange, key, body, declare=declare,
                                         mandatory=mandatory, expires_at=expires)
            if mandatory and not routed:
                raise MessageUndeliverable(None, exchange, key or topic, message)
            if msg_id is None:
                return None
            return self._waiters.wait(msg_id, timeout, call_monitor_timeout)
        finally:
            if msg_id is not None:
                self._waiters.unlisten(msg_id)

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None, *,
                          queue_policy: QueuePolicy | None = None) -> None:
        """Store the notification on ``<topic>.<priority>`` and every pool bound to it.

        ``target.topic`` is already ``<topic>.<priority>``, as the notifier
        sends it; a ``queue_policy`` is given to that queue when this send
        creates it.
        """
        body = encode_body(build_notification(ctxt, message), version)
        key = target.topic or ""
        self.broker.publish(self._exchange(target), key, body, declare=key,
                            policy=queue_policy)

    def send_reply(self, reply_q: str, msg_id: str | None, result: Any,
                   failure: str | None, ending: bool) -> None:
        """Encode a reply (or heartbeat) and hand it to the caller's driver, if it lives."""
        body = encode_body(build_reply(msg_id, result, failure, ending), _RPC_BODY_VERSION)
        if not self.broker.reply(reply_q, body):
            LOG.info("Reply queue %s is gone (its caller stopped); reply to %s dropped",
                     reply_q, msg_id)

    # -- listening ----------------------------------------------------------------

    def listen(self, target: Target, batch_size: int = 1,
               batch_timeout: float | None = None) -> Listener:
        exchange = self._exchange(target)
        topic, server = target.topic or "", target.server
        name = f"rpc-{topic}.{server}-{uuid4_hex()[:8]}"
        queues: list[tuple[str, str, tuple[str, ...], bool]] = [
            (exchange, f"{topic}.{server}", (f"{topic}.{server}",), False),
            (exchange, topic, (topic,), False),
            (f"{topic}_fanout", f"{topic}_fanout_{uuid4_hex()}", ("",), True),
        ]
        return self._subscribe(name, queues, decode_request)

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None, batch_size: int = 1,
                                 batch_timeout: float | None = None, *,
                                 queue_policy: QueuePolicy | None = None) -> Listener:
        """Subscribe; ``queue_policy`` bounds the queues when messages are stored."""
        queues: list[tuple[str, str, tuple[str, ...], bool]] = []
        for target, priority in targets_and_priorities:
            exchange = self._exchange(target)
            key = f"{target.topic}.{priority}"
            queues.append((exchange, pool or key, (key,), False))
        name = f"notify-{pool or 'default'}-{uuid4_hex()[:8]}"
        return self._subscribe(name, list(dict.fromkeys(queues)), decode_notification,
                               queue_policy)

    def _subscribe(self, name: str, queues: list[tuple[str, str, tuple[str, ...], bool]],
                   decode: Any, policy: QueuePolicy | None = None) -> MemoryListener:
        sub = self.broker.subscribe(name, queues, self.options.max_deliveries, policy)
        listener = MemoryListener(self, self.broker, sub, decode)
        with self._lock:
            self._listeners.add(listener)
        return listener

    def forget_listener(self, listener: MemoryListener) -> None:
        """Called by a listener's cleanup."""
        with self._lock:
            self._listeners.discard(listener)

    # -- lifecycle ------------------------------------------------------------------

    def cleanup(self) -> None:
        """Stop and unsubscribe every listener; drop the reply queue."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            listeners = list(self._listeners)
        for listener in listeners:
            listener.stop()
            listener.cleanup()
        self.broker.unregister_reply_queue(self._reply_q)
