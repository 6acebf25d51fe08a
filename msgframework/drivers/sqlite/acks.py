"""Group commit of acknowledgements: one transaction settles many messages.

Acknowledging one message per transaction made the consumer take the file's
write lock once per message, which is what publishers then queued behind.
Here ``acknowledge()`` records the row and returns; a background thread
deletes what accumulated in one transaction ``ack_delay`` seconds after the
first pending acknowledgement (or at once when ``_MAX_BATCH`` are pending).

Why this keeps the guarantees:

* The message was handled before ``acknowledge()`` was called, and its row
  stays leased by its listener until the delete commits; the keeper renews
  that lease like any other, so no other consumer gets it meanwhile.
* If the process dies before the commit, the lease expires and the message
  is delivered again: at-least-once, as for a crash just before acknowledging.
* A listener's cleanup flushes (and waits for a flush in progress) before
  handing its leases back, so a clean shutdown redelivers nothing acknowledged.

``ack_delay = 0`` acknowledges synchronously, one transaction per message.
Only notification listeners group their acknowledgements: an RPC server
acknowledges a request *before* running it so that it never runs twice
(at-most-once), which holds only if the acknowledgement is committed
before ``acknowledge()`` returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import NamedTuple

from msgframework.drivers.sqlite import store as sql
from msgframework.exceptions import MessagingException

__all__ = ["AckBatcher", "PendingAck"]

LOG = logging.getLogger(__name__)

#: Flush at once when this many acknowledgements are pending.
_MAX_BATCH = 256
#: Ids per DELETE statement (old SQLite builds allow 999 parameters).
_CHUNK = 400
#: Pause before retrying a flush that failed (the file was locked too long).
_RETRY_PAUSE = 0.5


class PendingAck(NamedTuple):
    id: int
    queue: str
    owner: str


def delete_acked(conn: object, pending: Sequence[PendingAck]) -> set[int]:
    """Delete the rows still leased by their acknowledging owner; return their ids."""
    by_owner: dict[str, list[int]] = {}
    for ack in pending:
        by_owner.setdefault(ack.owner, []).append(ack.id)
    deleted: set[int] = set()
    for owner, ids in by_owner.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(  # type: ignore[attr-defined]
                f"DELETE FROM messages WHERE lease_owner = ? AND id IN ({marks}) "
                f"RETURNING id", (owner, *chunk)).fetchall()
            deleted.update(r[0] for r in rows)
    return deleted


class AckBatcher:
    """Pending acknowledgements of one driver and the thread that commits them."""

    def __init__(self, store: sql.Store, delay: float, visibility_timeout: float) -> None:
        self._store = store
        self.delay = delay
        self._visibility_timeout = visibility_timeout
        self._cond = threading.Condition()
        self._pending: list[PendingAck] = []
        self._first_at = 0.0
        #: Held while a batch is taken and committed, so flush() also waits
        #: for a batch the thread already took.
        self._commit_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def add(self, row_id: int, queue: str, owner: str) -> bool:
        """Queue one acknowledgement; False when stopped (the caller acks itself)."""
        with self._cond:
            if self._stopping:
                return False
            if not self._pending:
                self._first_at = time.monotonic()
                self._cond.notify()
            self._pending.append(PendingAck(row_id, queue, owner))
            if len(self._pending) >= _MAX_BATCH:
                self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="msgframework-sqlite-acks")
                self._thread.start()
        return True

    def flush(self) -> None:
        """Commit everything pending now, in this thread (raises on store errors)."""
        with self._commit_lock:
            with self._cond:
                batch, self._pending = self._pending, []
            if batch:
                self._commit(batch)

    def stop(self, timeout: float = 5.0) -> None:
        """Commit what is pending and end the thread; later add() returns False."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        try:
            self.flush()
        except MessagingException as exc:
            LOG.warning("Could not commit %s's last acknowledgements (%s); those messages "
                        "will be delivered again", self._store.path, exc)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return  # stopping, nothing left
                while len(self._pending) < _MAX_BATCH and not self._stopping:
                    left = self._first_at + self.delay - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            try:
                self.flush()
            except MessagingException as exc:
                if self._store.closed:
                    return  # the transport closed: leases were handed back at cleanup
                LOG.warning("Could not commit acknowledgements on %s (%s); retrying",
                            self._store.path, exc)
                with self._cond:  # back off, but leave at once when stopped
                    self._cond.wait_for(lambda: self._stopping, _RETRY_PAUSE)
            except Exception:  # pragma: no cover - keep committing whatever happens
                LOG.exception("SQLite acknowledgement thread failed")

    def _commit(self, batch: list[PendingAck]) -> None:
        try:
            deleted = self._store.transact(lambda c: delete_acked(c, batch))
        except MessagingException:
            if not self._store.closed:
                with self._cond:  # keep them for the next attempt, oldest first
                    self._pending[:0] = batch
            raise
        if len(deleted) == len(batch):
            return
        for ack in batch:
            if ack.id not in deleted:
                LOG.warning(
                    "Lost the lease of message %d of queue %s before its acknowledgement "
                    "was committed: another consumer may get it again. Was the process "
                    "stalled for longer than visibility_timeout=%ss, or the listener "
                    "cleaned up meanwhile?", ack.id, ack.queue, self._visibility_timeout)
