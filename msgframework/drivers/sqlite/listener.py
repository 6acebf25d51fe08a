"""Listeners and incoming messages of the SQLite driver.

A listener claims messages by leasing rows (``lease_owner`` = the listener's
id, ``visible_at`` = now + visibility timeout); the driver's keeper renews
the lease while the listener lives, acknowledging deletes the row, requeueing
moves it to the back of its queue, dead-lettering moves it to
``dead_letters``. If the process dies the renewals stop and the rows become
claimable again one visibility timeout later: at-least-once across crashes.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from msgframework.drivers.base import IncomingMessage, Listener
from msgframework.drivers.sqlite import store as sql
from msgframework.drivers.sqlite.wakeup import WakeSocket
from msgframework.exceptions import (
    MalformedMessage,
    MessagingException,
    TransportDriverError,
)

if TYPE_CHECKING:
    from msgframework.drivers.sqlite.driver import SQLiteDriver

__all__ = ["SQLiteListener", "SQLiteIncomingMessage", "Decoded"]

LOG = logging.getLogger(__name__)

#: What a decoder makes of a body: ctxt, message, msg_id, reply_q, client_timeout.
Decoded = tuple[dict[str, Any], dict[str, Any], "str | None", "str | None", "float | None"]

_ERROR_BACKOFF = 1.0
#: Most messages one claim leases ahead of what a poll asked for (within prefetch).
_READ_AHEAD = 32


class SQLiteIncomingMessage(IncomingMessage):
    """A leased row; settling it runs one short transaction."""

    def __init__(self, listener: SQLiteListener, row: sql.Row, decoded: Decoded) -> None:
        ctxt, message, msg_id, reply_q, client_timeout = decoded
        super().__init__(ctxt, message, msg_id, reply_q=reply_q,
                         client_timeout=client_timeout, delivery_count=row.delivery_count)
        self._listener = listener
        self._row = row

    def _acknowledge(self) -> None:
        self._listener.settle(self._row, "ack")

    def _requeue(self) -> None:
        self._listener.settle(self._row, "requeue")

    def _dead_letter(self, reason: str) -> None:
        self._listener.settle(self._row, "dead_letter", reason)

    def _send_reply(self, result: Any, failure: str | None, ending: bool) -> None:
        assert self.reply_q is not None
        self._listener.driver.send_reply(self.reply_q, self.msg_id, result, failure, ending)


class SQLiteListener(Listener):
    """Polls a fixed set of queues of the file; see drivers/base.py for the contract."""

    def __init__(self, driver: SQLiteDriver, listener_id: str, queues: Sequence[str],
                 decode: Callable[[str], Decoded], wake: WakeSocket, *,
                 group_acks: bool = False) -> None:
        """``group_acks``: acknowledgements may be committed in groups later
        (notifications, which are at-least-once); without it acknowledge()
        commits before returning (RPC requests, acknowledged before they run
        so that a redelivery never runs one twice)."""
        super().__init__()
        self._group_acks = group_acks
        self.driver = driver
        self.listener_id = listener_id
        self._store = driver.store
        self._options = driver.options
        self._max_deliveries: int = self._options.max_deliveries
        self._queues = list(queues)
        self._decode = decode
        self._wake = wake
        self._lock = threading.Lock()
        self._unsettled = 0
        self._turn = 0
        self._cleaned = False
        self._hint = True
        self._buffer: collections.deque[SQLiteIncomingMessage] = collections.deque()

    def __repr__(self) -> str:
        return f"<SQLiteListener {self.listener_id} queues={self._queues}>"

    @property
    def queues(self) -> list[str]:
        return list(self._queues)

    def allow_deliveries(self, count: int) -> None:
        """Let a message be delivered ``count`` times before it is dead-lettered:
        the server's own limit wins over ``max_deliveries`` when it is higher
        (0, no limit, stays)."""
        if self._max_deliveries and count > self._max_deliveries:
            LOG.debug("SQLite listener %s: max_deliveries raised from %d to the server's %d",
                      self.listener_id, self._max_deliveries, count)
            self._max_deliveries = count

    # -- polling ------------------------------------------------------------

    def poll(self, timeout: float | None = None, batch_size: int = 1,
             batch_timeout: float | None = None) -> list[IncomingMessage]:
        """Hand out up to ``batch_size`` messages, claiming ahead within ``prefetch``."""
        batch_size = max(1, batch_size)
        deadline = None if timeout is None else time.monotonic() + timeout
        batch_deadline: float | None = None
        batch: list[IncomingMessage] = []
        interval = self._options.poll_interval
        while not self.stopped and not self._cleaned:
            self._wake.drain()
            pause = interval
            try:
                batch.extend(self._take(batch_size - len(batch)))
            except MessagingException as exc:
                if self._cleaned or self._store.closed:
                    break  # cleaned up under this poll: nothing more to hand out
                LOG.error("SQLite listener %s cannot read %s: %s", self.listener_id,
                          self._store.path, exc)
                pause = _ERROR_BACKOFF
            if len(batch) >= batch_size:
                break
            if batch:
                if batch_deadline is None:
                    batch_deadline = time.monotonic() + (batch_timeout or 0)
                end: float | None = batch_deadline
            else:
                end = deadline
            if end is not None:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    break
                pause = min(pause, remaining)
            self._hint = self._wake.wait(pause)
        return batch

    def poll_one(self, timeout: float | None) -> IncomingMessage | None:
        got = self.poll(timeout, 1)
        return got[0] if got else None

    def _take(self, want: int) -> list[IncomingMessage]:
        """From the read-ahead buffer first, then one claim for the rest.

        With a ``prefetch`` bound, one claim leases up to ``_READ_AHEAD``
        messages (never past the bound) and keeps the surplus for the next
        polls: a server polling one message at a time then costs one
        transaction per message (its acknowledgement) instead of two. Buffered
        messages count as unsettled and their leases are renewed like the rest,
        as AMQP's prefetch would hold them.
        """
        out: list[IncomingMessage] = []
        while self._buffer and len(out) < want:
            out.append(self._buffer.popleft())
        need = want - len(out)
        if need <= 0:
            return out
        prefetch = self.prefetch
        if prefetch:
            with self._lock:
                room = prefetch - self._unsettled
            limit = min(room, max(need, _READ_AHEAD))
        else:
            limit = need
        if limit <= 0:
            return out
        fetched = self._fetch(limit)
        out.extend(fetched[:need])
        self._buffer.extend(fetched[need:])
        return out

    def _rotated_queues(self) -> list[str]:
        """Start at a different queue each time so a busy queue cannot starve the others."""
        self._turn = (self._turn + 1) % len(self._queues)
        return self._queues[self._turn:] + self._queues[:self._turn]

    def _fetch(self, limit: int) -> list[SQLiteIncomingMessage]:
        now = sql.now()
        queues = self._rotated_queues()
        # Idle listeners woken only by the safety-net timer look before they
        # lock: a read never waits for writers, a claim takes the write lock.
        if not self._hint and not self._store.read(lambda c: sql.has_visible(c, queues, now)):
            return []
        lease_until = now + self._options.visibility_timeout
        rows = self._store.transact(
            lambda c: sql.claim(c, queues, self.listener_id, limit, now, lease_until))
        self._hint = len(rows) >= limit
        out: list[SQLiteIncomingMessage] = []
        limit_deliveries = self._max_deliveries
        for row in rows:
            if limit_deliveries and row.delivery_count > limit_deliveries:
                self._reject(row, f"delivered {row.delivery_count - 1} times without "
                                  f"being acknowledged (max_deliveries={limit_deliveries})")
                continue
            try:
                decoded = self._decode(row.body)
            except (MalformedMessage, ValueError, TypeError, KeyError) as exc:
                self._reject(row, f"MalformedMessage: {exc}")
                continue
            with self._lock:
                self._unsettled += 1
            out.append(SQLiteIncomingMessage(self, row, decoded))
        return out

    def _reject(self, row: sql.Row, reason: str) -> None:
        LOG.warning("Dead-lettering message %d of queue %s: %s", row.id, row.queue, reason)
        try:
            self._store.transact(
                lambda c: sql.dead_letter(c, row.id, self.listener_id, reason, sql.now()))
        except MessagingException:
            LOG.exception("Failed to dead-letter message %d of queue %s", row.id, row.queue)

    # -- settling -----------------------------------------------------------

    def settle(self, row: sql.Row, how: str, reason: str = "") -> None:
        """Acknowledge, requeue or dead-letter one leased row (raises on store errors).

        After :meth:`cleanup` (or the transport's) the lease was handed back,
        so settling only logs that the message will be delivered again.
        """
        owner = self.listener_id
        try:
            try:
                if self._cleaned or self._store.closed:
                    raise TransportDriverError("listener cleaned up")
                if how == "ack" and self._group_acks and self.driver.acks.delay > 0 and \
                        self.driver.acks.add(row.id, row.queue, owner):
                    return  # committed with others shortly; the lease holds until then
                if how == "ack":
                    done = self._store.transact(lambda c: sql.ack(c, row.id, owner))
                elif how == "requeue":
                    done = self._store.transact(lambda c: sql.requeue(c, row.id, owner))
                else:
                    done = self._store.transact(
                        lambda c: sql.dead_letter(c, row.id, owner, reason, sql.now()))
            except TransportDriverError:
                if not (self._cleaned or self._store.closed):
                    raise
                LOG.warning("Message %d of queue %s settled (%s) after its listener %s "
                            "was cleaned up: it was handed back and will be delivered "
                            "again", row.id, row.queue, how, owner)
                return
            if how == "requeue" and done:
                self.driver.wake_queues([row.queue])
            if not done:
                LOG.warning(
                    "Lost the lease of message %d of queue %s before it was settled "
                    "(%s): another consumer may get it again. Was the process stalled "
                    "for longer than visibility_timeout=%ss, or the listener cleaned up "
                    "meanwhile?", row.id, row.queue, how, self._options.visibility_timeout)
        finally:
            with self._lock:
                was_full = bool(self.prefetch) and self._unsettled >= self.prefetch
                self._unsettled -= 1
            if was_full:
                self._wake.wake()

    # -- lifecycle ----------------------------------------------------------

    def stop(self) -> None:
        super().stop()
        self._wake.wake()

    def cleanup(self) -> None:
        """Unsubscribe, drop this listener's transient queues, hand back unsettled leases."""
        if self._cleaned:
            return
        self._cleaned = True
        self._stopped.set()
        self.driver.forget_listener(self)
        owner = self.listener_id

        def drop(conn: Any) -> None:
            released = sql.release(conn, owner)
            if released:
                LOG.info("Listener %s stopped with %d unsettled message(s); they are "
                         "visible to other consumers again", owner, released)
            sql.drop_owner(conn, owner)

        try:
            # Acknowledged messages must not be handed back with the rest.
            self.driver.acks.flush()
            self._store.transact(drop)
            self.driver.wake_queues(self._queues)
        except MessagingException:
            LOG.exception("Failed to clean up SQLite listener %s", owner)
        self._wake.close()
