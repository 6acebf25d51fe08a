"""RabbitDriver: the driver contract (``drivers/base.py``) on RabbitMQ via kombu.

This module only wires the parts together; each lives in its own module:
settings (validated options), connection (failover, backoff), declarations
(oslo's topology), publisher (confirms, pool, heartbeats), consumer (the
per-listener thread), listener (decode, settle, dead-letter) and reply
(reply queue, reply sending).
"""

from __future__ import annotations

import functools
import logging
import threading
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
from msgframework.drivers.rabbit.connection import HostList, is_memory_url
from msgframework.drivers.rabbit.consumer import ConsumerThread
from msgframework.drivers.rabbit.declarations import QueueSpec, Topology
from msgframework.drivers.rabbit.listener import RabbitListener
from msgframework.drivers.rabbit.publisher import Publisher
from msgframework.drivers.rabbit.reply import ReplyQueue, ReplySender
from msgframework.drivers.rabbit.settings import load_settings
from msgframework.exceptions import InvalidTarget
from msgframework.target import Target
from msgframework.transport_url import TransportURL
from msgframework.wire.envelope import encode_body
from msgframework.wire.ids import uuid4_hex
from msgframework.wire.notification import build_notification
from msgframework.wire.rpc import build_request

__all__ = ["RabbitDriver"]

LOG = logging.getLogger(__name__)


class RabbitDriver(BaseDriver):
    """RabbitMQ (``rabbit://``, ``kombu://``; ``kombu+memory://`` in-process)."""

    schemes = ("rabbit", "kombu")
    capabilities = frozenset({
        Capability.REQUEUE, Capability.POOLS, Capability.DEAD_LETTER, Capability.MANDATORY,
        Capability.MULTI_PROCESS, Capability.MULTI_HOST, Capability.DURABLE,
        Capability.CALL_MONITOR, Capability.QUEUE_POLICY,
    })

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str | None = None,
                 allowed_remote_exmods: Iterable[str] | None = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.settings = load_settings(conf, url.query)
        self._hosts = HostList(url, self.settings)
        self._closing = threading.Event()
        self.topology = Topology(self.settings, self._default_exchange)
        self._publisher = Publisher(self._hosts, self.settings, self._closing)
        self._waiters = ReplyWaiters(self._allowed_remote_exmods)
        self._reply_sender = ReplySender(self._publisher,
                                         self.settings.missing_consumer_retry_timeout,
                                         self._closing)
        self._reply_queue: ReplyQueue | None = None
        self._lock = threading.Lock()
        self._listeners: list[RabbitListener] = []
        #: The queue policy this transport declared each ``(exchange,
        #: <topic>.<priority>)`` queue with, reused by its later sends so
        #: they declare the same arguments (no 406 from our own queues).
        self._policies: dict[tuple[str | None, str], QueuePolicy] = {}
        if is_memory_url(url):  # kombu's memory transport ignores queue arguments
            self.capabilities = type(self).capabilities - {Capability.QUEUE_POLICY}

    def __repr__(self) -> str:
        return f"<RabbitDriver {self._url.redacted()}>"

    def _consumer(self, specs: list[QueueSpec], on_message: Any, purpose: str,
                  owned: list[str] | None = None, no_ack: bool = False) -> ConsumerThread:
        return ConsumerThread(self._hosts, self.settings, self._closing, specs, on_message,
                              purpose, owned, no_ack)

    # -- sending ---------------------------------------------------------------
    def _reply_q(self) -> str:
        with self._lock:
            if self._reply_queue is None:
                self._reply_queue = ReplyQueue(self._consumer, self.topology.reply(),
                                               self._waiters)
            return self._reply_queue.name

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool = False, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: TransportOptions | None = None) -> Any:
        if not target.topic:
            raise InvalidTarget("A topic is required to send", target)
        msg_id = reply_q = None
        if wait_for_reply:
            msg_id = uuid4_hex()
            reply_q = self._reply_q()
        request = build_request(ctxt, message, msg_id=msg_id, reply_q=reply_q,
                                call_monitor_timeout=call_monitor_timeout)
        body = encode_body(request)  # TypeError/ValueError here, before anything is sent
        mandatory = bool(transport_options and transport_options.at_least_once)
        if target.fanout:
            exchange, key = self.topology.fanout_exchange(target.topic), ""
        else:
            exchange = self.topology.exchange(target.exchange)
            key = f"{target.topic}.{target.server}" if target.server else target.topic
        if msg_id is None:
            # A cast: pipelined within confirm_window, unless the caller asked to
            # learn at once that nobody is subscribed (mandatory).
            pipelined = bool(self.settings.confirm_window) and not mandatory
            self._publisher.publish(exchange, key, body, mandatory=mandatory, retry=retry,
                                    wait=not pipelined,
                                    detached="cast" if pipelined else None)
            return None
        # A call does not wait for the request's confirm: the reply proves
        # delivery, and a failed publish (nacked, returned, connection lost
        # past its retries) fails the waiting call instead. So the confirm's
        # round trip overlaps the server's work.
        self._waiters.listen(msg_id)
        try:
            self._publisher.publish(exchange, key, body, mandatory=mandatory,
                                    expiration=timeout, retry=retry, wait=False,
                                    on_failure=functools.partial(self._waiters.fail, msg_id))
            return self._waiters.wait(msg_id, timeout, call_monitor_timeout)
        finally:
            self._waiters.unlisten(msg_id)

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None, *,
                          queue_policy: QueuePolicy | None = None) -> None:
        """Publish a notification, declaring ``<topic>.<priority>`` first (once per
        connection); with ``queue_policy`` (or the policy this transport used
        for that queue before) its arguments bound the queue from creation."""
        if not target.topic:
            raise InvalidTarget("A topic is required to send a notification", target)
        body = encode_body(build_notification(ctxt, message), version)
        key = (target.exchange, target.topic)
        if queue_policy:
            self._policies[key] = queue_policy
        else:
            queue_policy = self._policies.get(key)
        queue = self.topology.notification(target.exchange, target.topic,
                                           policy=queue_policy)
        pipelined = bool(self.settings.confirm_window)
        self._publisher.publish(queue.exchange, target.topic, body, retry=retry,
                                declare_queue=queue, wait=not pipelined,
                                detached="notification" if pipelined else None)

    def flush(self, timeout: float | None = None) -> bool:
        return self._publisher.flush(timeout)

    # -- listening -----------------------------------------------------------------
    def _listener(self, specs: list[QueueSpec], exchange: str | None, kind: str,
                  owned: list[str] | None = None) -> Listener:
        listener = RabbitListener(self._consumer, specs, self.topology, exchange, kind,
                                  self.settings.max_delivery_attempts,
                                  reply_sender=self._reply_sender if kind == "rpc" else None,
                                  owned=owned,
                                  settle_timeout=self.settings.confirm_timeout)
        with self._lock:
            self._listeners = [item for item in self._listeners if not item.stopped]
            self._listeners.append(listener)
        return listener

    def listen(self, target: Target, batch_size: int = 1,
               batch_timeout: float | None = None) -> Listener:
        if not target.topic or not target.server:
            raise InvalidTarget("A server's target needs a topic and a server", target)
        fanout = self.topology.rpc_fanout(target.topic)
        specs = [self.topology.rpc_topic(target.exchange, target.topic),
                 self.topology.rpc_server(target.exchange, target.topic, target.server),
                 fanout]
        return self._listener(specs, target.exchange, "rpc", owned=[fanout.name])

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None, batch_size: int = 1,
                                 batch_timeout: float | None = None, *,
                                 queue_policy: QueuePolicy | None = None) -> Listener:
        """Subscribe; a ``queue_policy`` becomes arguments of the queues declared
        (an existing queue keeps its own: RabbitMQ cannot change them)."""
        specs: list[QueueSpec] = []
        exchange = None
        for target, priority in targets_and_priorities:
            if not target.topic:
                raise InvalidTarget("A notification target needs a topic", target)
            topic = f"{target.topic}.{priority}"
            policy = queue_policy
            if not pool:  # the queue this transport's sends declare too
                if queue_policy:
                    self._policies[(target.exchange, topic)] = queue_policy
                policy = self._policies.get((target.exchange, topic))
            spec = self.topology.notification(target.exchange, topic, pool, policy=policy)
            if spec not in specs:
                specs.append(spec)
            exchange = exchange or target.exchange
        if not specs:
            raise InvalidTarget("No targets to listen to", targets_and_priorities)
        return self._listener(specs, exchange, "notification")

    def cleanup(self) -> None:
        """Stop every listener and the reply thread, close all connections."""
        with self._lock:
            listeners, self._listeners = self._listeners, []
            reply, self._reply_queue = self._reply_queue, None
        for listener in listeners:
            try:
                listener.cleanup()
            except Exception:
                LOG.exception("Listener cleanup failed")
        if reply is not None:
            reply.stop()
        self._publisher.close()  # settles pipelined sends first (bounded)
        self._closing.set()
