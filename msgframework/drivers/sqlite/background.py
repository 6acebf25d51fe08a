"""The SQLite driver's two background threads.

``Keeper`` renews, on a period of a third of the shorter of
``visibility_timeout`` and ``transient_queue_ttl``, everything that dies with
the process: the leases of claimed messages, transient (fanout and reply)
queues and subscriptions. It also collects what dead processes left behind.
A process killed with SIGKILL simply stops renewing, which is how its
messages come back and its queues go away.

``ReplyConsumer`` owns the driver's ``reply_<uuid>`` queue and feeds the RPC
replies it takes from it to :class:`ReplyWaiters`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from typing import TYPE_CHECKING

from msgframework.drivers.common import ReplyWaiters
from msgframework.drivers.sqlite import store as sql
from msgframework.drivers.sqlite.wakeup import WakeSocket
from msgframework.exceptions import MalformedMessage, MessagingException
from msgframework.wire.envelope import decode_body
from msgframework.wire.rpc import parse_reply

if TYPE_CHECKING:
    from msgframework.drivers.sqlite.driver import SQLiteDriver

__all__ = ["Keeper", "ReplyConsumer"]

LOG = logging.getLogger(__name__)

_REPLY_BATCH = 256


class Keeper:
    """Heartbeats the owners (listener and reply-queue ids) of one driver."""

    def __init__(self, driver: SQLiteDriver) -> None:
        self._driver = driver
        self._owners: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        opts = driver.options
        self.period = min(opts.visibility_timeout, opts.transient_queue_ttl) / 3
        self._gc_every = opts.transient_queue_ttl / 3
        self._last_gc = 0.0

    def add(self, owner: str) -> None:
        with self._lock:
            self._owners.add(owner)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="msgframework-sqlite-keeper")
                self._thread.start()

    def remove(self, owner: str) -> None:
        with self._lock:
            self._owners.discard(owner)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def beat(self) -> None:
        """One round: renew leases and expiries of every owner; collect garbage."""
        with self._lock:
            owners = sorted(self._owners)
        opts = self._driver.options
        now = sql.now()
        store = self._driver.store
        if owners:
            store.transact(lambda c: sql.heartbeat(
                c, owners, now + opts.visibility_timeout, now + opts.transient_queue_ttl))
        if now - self._last_gc >= self._gc_every:
            self._last_gc = now
            removed = store.transact(
                lambda c: sql.collect_garbage(c, now, opts.dead_letter_retention))
            if removed:
                LOG.info("Removed %d expired message(s) from %s", removed, store.path)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.beat()
            except MessagingException as exc:
                # Leases last three periods: one failed round loses nothing.
                LOG.warning("SQLite keeper could not renew leases on %s: %s",
                            self._driver.store.path, exc)
            except Exception:  # pragma: no cover - keep the heartbeat alive
                LOG.exception("SQLite keeper failed")


class ReplyConsumer:
    """Takes replies off this driver's reply queue and hands them to the waiters."""

    def __init__(self, driver: SQLiteDriver, waiters: ReplyWaiters) -> None:
        self._driver = driver
        self._waiters = waiters
        self.queue = f"reply_{uuid.uuid4().hex}"
        self._stop = threading.Event()
        self._wake = WakeSocket(driver.store.path)
        opts = driver.options
        now = sql.now()
        expires = now + opts.transient_queue_ttl
        queue, wake = self.queue, self._wake.address

        def declare(conn: sqlite3.Connection) -> None:
            sql.declare_queue(conn, queue, "reply", "", queue, owner=queue, expires_at=expires)
            sql.subscribe(conn, queue, queue, wake, expires)

        try:
            driver.store.transact(declare)
        except BaseException:
            self._wake.close()
            raise
        driver.keeper.add(queue)
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="msgframework-sqlite-replies")
        self._thread.start()

    def _take(self) -> list[str]:
        now = sql.now()
        store = self._driver.store
        if not store.read(lambda c: sql.has_visible(c, [self.queue], now)):
            return []
        return store.transact(lambda c: sql.take(c, self.queue, _REPLY_BATCH, now))

    def _run(self) -> None:
        interval = self._driver.options.poll_interval
        while not self._stop.is_set():
            self._wake.drain()
            pause = interval
            try:
                bodies = self._take()
            except MessagingException as exc:
                LOG.error("Cannot read RPC replies from %s: %s", self._driver.store.path, exc)
                bodies, pause = [], 1.0
            for body in bodies:
                try:
                    msg_id, reply = parse_reply(decode_body(body))
                except (MalformedMessage, ValueError, TypeError) as exc:
                    LOG.warning("Dropped a malformed RPC reply on %s: %s", self.queue, exc)
                    continue
                self._waiters.deliver(msg_id, reply)
            if not bodies:
                self._wake.wait(pause)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.wake()
        self._thread.join(timeout)
        self._driver.keeper.remove(self.queue)
        try:
            self._driver.store.transact(lambda c: sql.drop_owner(c, self.queue))
        except MessagingException:
            LOG.warning("Could not delete reply queue %s; it expires by itself", self.queue)
        self._wake.close()
