"""SQLiteDriver: the embedded transport (see the package docstring for what it offers)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
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
from msgframework.drivers.sqlite import store as sql
from msgframework.drivers.sqlite.acks import AckBatcher
from msgframework.drivers.sqlite.background import Keeper, ReplyConsumer
from msgframework.drivers.sqlite.listener import Decoded, SQLiteListener
from msgframework.drivers.sqlite.location import database_path
from msgframework.drivers.sqlite.options import GROUP, SQLITE_OPTS
from msgframework.drivers.sqlite.wakeup import WakeSocket, send_wakeups
from msgframework.exceptions import MessageUndeliverable
from msgframework.opts import DriverOptions
from msgframework.target import Target
from msgframework.transport_url import TransportURL
from msgframework.wire.envelope import decode_body, encode_body
from msgframework.wire.notification import build_notification, parse_notification
from msgframework.wire.rpc import build_reply, build_request, parse_request

__all__ = ["SQLiteDriver"]

LOG = logging.getLogger(__name__)

_REPLY_RETRY = 3


def _decode_request(body: str) -> Decoded:
    req = parse_request(decode_body(body))
    return req.ctxt, req.message, req.msg_id, req.reply_q, req.client_timeout


def _decode_notification(body: str) -> Decoded:
    ctxt, message = parse_notification(decode_body(body))
    msg_id = message.get("message_id")
    return ctxt, message, msg_id if isinstance(msg_id, str) else None, None, None


class _UndeliverableError(Exception):
    """Raised inside a publish transaction to roll it back: nobody is subscribed."""


class SQLiteDriver(BaseDriver):
    """Messaging between the processes of one host through one SQLite file.

    Queue names in the file: ``<exchange>/<topic>`` (RPC topic),
    ``<exchange>/<topic>.<server>`` (RPC server), ``<topic>_fanout/<listener>``
    (fanout, one per RPC listener), ``<exchange>/<topic>.<priority>``
    (notifications), ``<exchange>/<topic>.<priority>/pool=<pool>`` (a pool),
    ``reply_<uuid>`` (the RPC replies of one driver instance).
    """

    schemes = ("sqlite",)
    capabilities = frozenset({
        Capability.REQUEUE, Capability.POOLS, Capability.DEAD_LETTER, Capability.MANDATORY,
        Capability.MULTI_PROCESS, Capability.DURABLE, Capability.CALL_MONITOR,
        Capability.QUEUE_POLICY, Capability.QUEUE_POLICY_CHANGE,
    })

    def __init__(self, conf: Any, url: TransportURL, default_exchange: str | None = None,
                 allowed_remote_exmods: Iterable[str] | None = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.options = DriverOptions(conf, GROUP, SQLITE_OPTS, url.query)
        self.path = database_path(url)
        self.store = sql.Store(self.path, self.options.busy_timeout, self.options.synchronous)
        self.keeper = Keeper(self)
        self.acks = AckBatcher(self.store, self.options.ack_delay,
                               self.options.visibility_timeout)
        self._waiters = ReplyWaiters(self._allowed_remote_exmods)
        self._reply: ReplyConsumer | None = None
        self._lock = threading.Lock()
        self._listeners: dict[str, SQLiteListener] = {}
        #: Durable queues this driver has declared: they are never deleted, so
        #: publishing need not declare them again.
        self._declared: set[str] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"<SQLiteDriver {self.path}>"

    # -- sending ------------------------------------------------------------

    def _exchange(self, target: Target) -> str:
        return target.exchange or self._default_exchange

    def _reply_queue(self) -> str:
        with self._lock:
            if self._reply is None:
                self._reply = ReplyConsumer(self, self._waiters)
            return self._reply.queue

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool = False, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: TransportOptions | None = None) -> Any:
        msg_id = reply_q = None
        if wait_for_reply:
            reply_q = self._reply_queue()
            msg_id = uuid.uuid4().hex
            self._waiters.listen(msg_id)
        try:
            raw = build_request(ctxt, message, msg_id=msg_id, reply_q=reply_q,
                                call_monitor_timeout=call_monitor_timeout)
            body = encode_body(raw)
            at_least_once = bool(transport_options and transport_options.at_least_once)
            self._publish_request(target, body, timeout, retry, at_least_once)
            if msg_id is None:
                return None
            return self._waiters.wait(msg_id, timeout, call_monitor_timeout)
        finally:
            if msg_id is not None:
                self._waiters.unlisten(msg_id)

    def _publish_request(self, target: Target, body: str, timeout: float | None,
                         retry: int | None, at_least_once: bool) -> None:
        exchange = self._exchange(target)
        topic = target.topic or ""  # Transport checked that there is one
        now = sql.now()
        # As AMQP's per-message expiration: a request nobody took in time is dropped.
        expires = now + timeout if timeout else None

        if target.fanout:
            routing = (f"{topic}_fanout", "")

            def publish(conn: sqlite3.Connection) -> list[str]:
                queues, addresses = sql.insert_routed(conn, routing[0], "", ("fanout",),
                                                      body, now, expires)
                if at_least_once and not queues:
                    raise _UndeliverableError
                return addresses
        else:
            key = f"{topic}.{target.server}" if target.server else topic
            name = f"{exchange}/{key}"
            kind = "server" if target.server else "topic"
            routing = (exchange, key)

            def publish(conn: sqlite3.Connection) -> list[str]:
                if at_least_once and not sql.live_subscribers(conn, [name], now):
                    raise _UndeliverableError
                # Store and forward: a server that starts later still gets it.
                if name not in self._declared:
                    sql.declare_queue(conn, name, kind, exchange, key)
                return sql.insert(conn, name, body, now, expires)

        try:
            addresses = self.store.transact_retry(publish, retry, "send an RPC message")
        except _UndeliverableError:
            raise MessageUndeliverable(None, routing[0], routing[1] or topic, None) from None
        if not target.fanout:
            self._declared.add(name)
        send_wakeups(addresses)

    def send_notification(self, target: Target, ctxt: dict[str, Any],
                          message: dict[str, Any], version: float,
                          retry: int | None = None, *,
                          queue_policy: QueuePolicy | None = None) -> None:
        """Store a notification; a ``queue_policy`` is given to ``<topic>.<priority>``
        when this send creates it (an existing queue keeps its own)."""
        exchange = self._exchange(target)
        key = target.topic or ""
        body = encode_body(build_notification(ctxt, message), version)
        now = sql.now()

        name = f"{exchange}/{key}"

        def publish(conn: sqlite3.Connection) -> list[str]:
            # The non-pooled queue always exists, so a listener starting later gets it.
            if name not in self._declared:
                if queue_policy and not sql.queue_exists(conn, name):
                    sql.set_policy(conn, name, queue_policy.message_ttl,
                                   queue_policy.max_length, now)
                sql.declare_queue(conn, name, "notification", exchange, key)
            return sql.insert_routed(conn, exchange, key, ("notification", "pool"),
                                     body, now, None)[1]

        send_wakeups(self.store.transact_retry(publish, retry, "send a notification"))
        self._declared.add(name)

    def send_reply(self, reply_q: str, msg_id: str | None, result: Any,
                   failure: str | None, ending: bool) -> None:
        """Put an RPC reply (or heartbeat) on the caller's reply queue, if it still exists."""
        body = encode_body(build_reply(msg_id, result, failure, ending))
        now = sql.now()

        def publish(conn: sqlite3.Connection) -> list[str] | None:
            if not sql.queue_exists(conn, reply_q):
                return None
            return sql.insert(conn, reply_q, body, now, None)

        addresses = self.store.transact_retry(publish, _REPLY_RETRY, "send an RPC reply")
        if addresses is None:
            LOG.info("Reply queue %s is gone (its caller stopped); reply to %s dropped",
                     reply_q, msg_id)
            return
        send_wakeups(addresses)

    def wake_queues(self, queues: Sequence[str]) -> None:
        """Wake the listeners of ``queues`` (after a requeue or a lease release)."""
        now = sql.now()
        send_wakeups(self.store.read(lambda c: sql.wake_addresses(c, queues, now)))

    # -- listening ----------------------------------------------------------

    def listen(self, target: Target, batch_size: int = 1,
               batch_timeout: float | None = None) -> Listener:
        exchange = self._exchange(target)
        topic, server = target.topic or "", target.server
        listener_id = f"rpc-{uuid.uuid4().hex}"
        now = sql.now()
        expires = now + self.options.transient_queue_ttl
        server_q = f"{exchange}/{topic}.{server}"
        topic_q = f"{exchange}/{topic}"
        fanout_q = f"{topic}_fanout/{listener_id}"

        def declare(conn: sqlite3.Connection) -> None:
            sql.declare_queue(conn, topic_q, "topic", exchange, topic)
            sql.declare_queue(conn, server_q, "server", exchange, f"{topic}.{server}")
            sql.declare_queue(conn, fanout_q, "fanout", f"{topic}_fanout", "",
                              owner=listener_id, expires_at=expires)

        return self._subscribe(listener_id, [server_q, topic_q, fanout_q], declare,
                               _decode_request, expires, group_acks=False)

    def listen_for_notifications(self, targets_and_priorities: Sequence[tuple[Target, str]],
                                 pool: str | None = None, batch_size: int = 1,
                                 batch_timeout: float | None = None, *,
                                 queue_policy: QueuePolicy | None = None) -> Listener:
        """Subscribe; ``queue_policy`` is kept in the file and enforced on each insert."""
        listener_id = f"notify-{uuid.uuid4().hex}"
        expires = sql.now() + self.options.transient_queue_ttl
        declared: list[tuple[str, str, str, str]] = []
        for target, priority in targets_and_priorities:
            exchange = self._exchange(target)
            key = f"{target.topic}.{priority}"
            if pool:
                declared.append((f"{exchange}/{key}/pool={pool}", "pool", exchange, key))
            else:
                declared.append((f"{exchange}/{key}", "notification", exchange, key))
        unique = list(dict.fromkeys(declared))

        def declare(conn: sqlite3.Connection) -> None:
            for name, kind, exchange, key in unique:
                sql.declare_queue(conn, name, kind, exchange, key)
                if queue_policy:
                    sql.set_policy(conn, name, queue_policy.message_ttl,
                                   queue_policy.max_length, sql.now())

        return self._subscribe(listener_id, [q[0] for q in unique], declare,
                               _decode_notification, expires, group_acks=True)

    def _subscribe(self, listener_id: str, queues: list[str], declare: Any,
                   decode: Any, expires: float, *, group_acks: bool) -> SQLiteListener:
        wake = WakeSocket(self.path)

        def setup(conn: sqlite3.Connection) -> None:
            declare(conn)
            for queue in queues:
                sql.subscribe(conn, listener_id, queue, wake.address, expires)

        try:
            self.store.transact(setup)
        except BaseException:
            wake.close()
            raise
        listener = SQLiteListener(self, listener_id, queues, decode, wake,
                                  group_acks=group_acks)
        with self._lock:
            self._listeners[listener_id] = listener
        self.keeper.add(listener_id)
        return listener

    def forget_listener(self, listener: SQLiteListener) -> None:
        """Called by a listener's cleanup: stop renewing its leases."""
        self.keeper.remove(listener.listener_id)
        with self._lock:
            self._listeners.pop(listener.listener_id, None)

    # -- lifecycle ----------------------------------------------------------

    def cleanup(self) -> None:
        """Stop the background threads, unsubscribe every listener, close the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            reply, self._reply = self._reply, None
            listeners = list(self._listeners.values())
        for listener in listeners:
            listener.stop()
            listener.cleanup()
        self.acks.stop()
        if reply is not None:
            reply.stop()
        self.keeper.stop()
        self.store.close()
