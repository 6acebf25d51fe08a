"""The SQLite file: schema, a connection pool, and every statement the driver runs.

Every write is one short ``BEGIN IMMEDIATE`` transaction (publish, claim,
settle, renew), so the file's single write lock is held for microseconds and
readers never block (WAL). Each operation checks a connection out of a small
LIFO pool because a sqlite3 connection must not be used by two threads at
once; ``busy_timeout`` makes a writer wait for another process's lock instead
of failing at once.

Tables
------
``queues``         name, kind (topic, server, fanout, notification, pool,
                   reply), the binding (exchange, routing_key), the owner of a
                   transient queue and when it expires without a heartbeat
``messages``       one row per (message, queue): the wire JSON body, the
                   delivery count and the lease (``lease_owner``,
                   ``visible_at``: the row is claimable once ``visible_at``
                   has passed), and an optional expiry (RPC call timeout)
``subscriptions``  which listener consumes which queue, and the address of
                   its wake-up socket, heartbeated like transient queues
``dead_letters``   messages that could not be handled, with the reason
``queue_policies`` the message TTL and max length a subscriber set on a
                   queue (see ``QueuePolicy``), enforced as rows are
                   inserted. Added after schema 1 without changing its
                   number: a file of an older release gets the table when
                   a newer one opens it, and older processes, which do not
                   know it, publish without enforcing the policy.

Times are wall-clock seconds (``time.time()``), the only clock processes share.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeVar

from msgframework.exceptions import MessageDeliveryFailure, TransportDriverError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["Store", "Row", "is_busy", "SCHEMA_VERSION"]

LOG = logging.getLogger(__name__)

SCHEMA_VERSION = 1
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    exchange    TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    owner       TEXT,
    expires_at  REAL
);
CREATE INDEX IF NOT EXISTS queues_binding ON queues (exchange, routing_key);
CREATE INDEX IF NOT EXISTS queues_expiry ON queues (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS messages (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    queue          TEXT NOT NULL,
    body           TEXT NOT NULL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    visible_at     REAL NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    created_at     REAL NOT NULL,
    expires_at     REAL
);
CREATE INDEX IF NOT EXISTS messages_queue ON messages (queue, id);
CREATE INDEX IF NOT EXISTS messages_lease ON messages (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE TABLE IF NOT EXISTS subscriptions (
    listener   TEXT NOT NULL,
    queue      TEXT NOT NULL,
    wake       TEXT,
    expires_at REAL NOT NULL,
    PRIMARY KEY (listener, queue)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS subscriptions_queue ON subscriptions (queue);
CREATE TABLE IF NOT EXISTS queue_policies (
    queue       TEXT PRIMARY KEY,
    message_ttl REAL,
    max_length  INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    queue          TEXT NOT NULL,
    body           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    delivery_count INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    dead_at        REAL NOT NULL
);
"""


class Row(NamedTuple):
    """A claimed message."""

    id: int
    queue: str
    body: str
    delivery_count: int


def is_busy(exc: BaseException) -> bool:
    """True for the lock-contention errors that are worth retrying."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "busy" in text
    return False


class _Handle:
    """One pooled connection and its own ``<db>-lock`` descriptor.

    ``busy`` is set while an operation has it checked out; it only changes
    under the store's mutex, so whoever closes a handle knows nobody is
    inside SQLite with it.
    """

    __slots__ = ("conn", "lock_fd", "busy", "closed")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock_fd: int | None = -1  # -1: not opened yet; None: unavailable
        self.busy = False
        self.closed = False

    def release(self) -> None:
        """Close the connection and descriptor; the caller made sure nobody uses them."""
        fd, self.lock_fd = self.lock_fd, None
        if fd is not None and fd >= 0:
            try:
                os.close(fd)
            except OSError:  # pragma: no cover
                pass
        try:
            self.conn.close()
        except sqlite3.Error:  # pragma: no cover - closing is best effort
            LOG.debug("Error closing an SQLite connection", exc_info=True)


class Store:
    """The database file, through a small pool of connections.

    Each operation checks a connection out for its duration, so a sqlite3
    connection is never used by two threads at once, yet threads that take
    turns (a server's workers polling one after the other) reuse the same
    warm connection instead of each keeping its own: the pool is LIFO and
    keeps at most :attr:`MAX_IDLE` idle connections, so threads that end
    leave nothing open behind them.

    Closing is safe while other threads are inside an operation: a
    connection is only closed when checked in (``close`` closes the idle
    ones; a busy one is closed by its operation as it ends), and every
    operation that starts after ``close`` raises :class:`TransportDriverError`.
    """

    #: Idle connections kept for reuse; more concurrent operations open more.
    MAX_IDLE = 4
    #: How long close() waits for operations running in other threads.
    CLOSE_WAIT = 2.0

    def __init__(self, path: Path, busy_timeout: float, synchronous: str = "NORMAL") -> None:
        self.path = path
        self._busy_ms = int(busy_timeout * 1000)
        self._synchronous = synchronous
        self._idle_handles: list[_Handle] = []
        self._busy_handles: set[_Handle] = set()
        self._mutex = threading.Lock()
        #: Notified (under _mutex) when a busy connection is checked in after close().
        self._drained = threading.Condition(self._mutex)
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportDriverError(
                f"Cannot create the directory of the SQLite transport file {path}: {exc}"
            ) from exc
        self._guard(self._init_schema)

    # -- connections --------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=self._busy_ms / 1000,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            # Keep the WAL file from staying huge after a burst (it is reused, not shrunk).
            conn.execute("PRAGMA journal_size_limit = 67108864")
        except BaseException:
            conn.close()
            raise
        return conn

    def _closed_error(self) -> TransportDriverError:
        return TransportDriverError(f"SQLite transport {self.path}: transport is closed")

    @property
    def closed(self) -> bool:
        return self._closed

    def _enter(self) -> _Handle:
        """Check a connection out (the most recently used idle one, or a new one)."""
        with self._mutex:
            if self._closed:
                raise self._closed_error()
            if self._idle_handles:
                handle = self._idle_handles.pop()
                handle.busy = True
                self._busy_handles.add(handle)
                return handle
        handle = _Handle(self._connect())
        with self._mutex:
            if not self._closed:
                handle.busy = True
                self._busy_handles.add(handle)
                return handle
        handle.release()
        raise self._closed_error()

    def _exit(self, handle: _Handle) -> None:
        """Check a connection back in; close it if the store closed or the pool is full."""
        with self._mutex:
            handle.busy = False
            self._busy_handles.discard(handle)
            if not self._closed and len(self._idle_handles) < self.MAX_IDLE:
                self._idle_handles.append(handle)
                return
            handle.closed = True
            if self._closed:
                self._drained.notify_all()
        handle.release()

    @contextmanager
    def _using(self) -> Iterator[_Handle]:
        handle = self._enter()
        try:
            yield handle
        finally:
            self._exit(handle)

    def close(self) -> None:
        """Close every connection; later operations raise TransportDriverError.

        Connections that other threads are using are closed by those threads
        when their operation ends; this waits up to :attr:`CLOSE_WAIT` for them.
        """
        with self._mutex:
            self._closed = True
            idle, self._idle_handles = self._idle_handles, []
            for handle in idle:
                handle.closed = True
        for handle in idle:
            handle.release()
        with self._drained:
            self._drained.wait_for(lambda: not self._busy_handles, self.CLOSE_WAIT)

    def _init_schema(self) -> None:
        """Check, switch to WAL and create the schema, one process at a time.

        Two processes opening a new file at once race to switch it to WAL and
        create the tables; SQLite answers some of those races with an
        immediate "database is locked" that ``busy_timeout`` does not cover.
        Holding the ``<db>-lock`` flock for the whole start-up serialises
        them, and a lock error still left is retried until ``busy_timeout``.
        """
        deadline = time.monotonic() + max(self._busy_ms / 1000, 1.0)
        with self._init_lock():
            while True:
                try:
                    self._init_schema_once()
                    return
                except sqlite3.OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline:
                        raise
                    LOG.debug("SQLite transport %s busy at start-up, retrying", self.path)
                    time.sleep(0.01)

    @contextmanager
    def _init_lock(self) -> Iterator[None]:
        """An exclusive flock on ``<db>-lock`` through its own descriptor
        (``_write`` locks and unlocks the pooled ones)."""
        fd = None
        if fcntl is not None:
            try:
                fd = os.open(str(self.path) + "-lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                fd = None
        try:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            if fd is not None:
                os.close(fd)  # closing releases the lock

    def _init_schema_once(self) -> None:
        # Not through _write: its flock on the pooled descriptor would wait
        # for the one _init_lock holds.
        with self._using() as handle:
            conn = handle.conn
            version = self._check_schema(conn)
            has_policies = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' "
                "AND name = 'queue_policies'").fetchone() is not None
            if version >= SCHEMA_VERSION and has_policies:
                return
            conn.execute("BEGIN IMMEDIATE")  # every statement is idempotent
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _check_schema(self, conn: sqlite3.Connection) -> int:
        """The file's schema version, refusing newer ones; switches the file to WAL."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise TransportDriverError(
                f"{self.path} was written by a newer msgframework (schema {version}, "
                f"this one knows {SCHEMA_VERSION})")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            LOG.warning("SQLite transport %s runs in journal mode %s, not WAL: readers "
                        "will block writers", self.path, mode)
        return int(version)

    # -- transactions -------------------------------------------------------

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in a ``BEGIN IMMEDIATE`` transaction: committed on success,
        rolled back on error (sqlite3 errors propagate). The hot path of every
        publish and settle, so plain calls rather than nested context managers."""
        handle = self._enter()
        try:
            conn = handle.conn
            fd = handle.lock_fd
            if fd == -1:
                fd = self._lock_fd(handle)
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return result
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._exit(handle)

    def _lock_fd(self, handle: _Handle) -> int | None:
        """This thread's descriptor of ``<db>-lock``, which queues our writers.

        SQLite's busy handler retries a locked database after sleeping 1, 2,
        5... ms, far longer than our transactions last, so under contention
        writers mostly sleep. Taking an exclusive ``flock`` first makes them
        queue in the kernel and wake the moment the lock is free; SQLite's
        own lock (and ``busy_timeout``) still guard against other writers.
        A holder only keeps it for one short transaction (dying releases
        it); a process frozen inside one (SIGSTOP, a debugger) stalls our
        other writers until it resumes or dies. Without flock (no fcntl,
        unwritable directory) writers rely on SQLite's busy handler alone.
        """
        if handle.lock_fd == -1:
            handle.lock_fd = None
            if fcntl is not None:
                try:
                    handle.lock_fd = os.open(str(self.path) + "-lock",
                                             os.O_RDWR | os.O_CREAT, 0o600)
                except OSError as exc:
                    LOG.info("No lock file next to %s (%s); relying on SQLite's busy "
                             "handler", self.path, exc)
        return handle.lock_fd

    def _guard(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, translating sqlite3 errors into TransportDriverError."""
        try:
            return fn()
        except sqlite3.Error as exc:
            raise TransportDriverError(f"SQLite transport {self.path}: {exc}") from exc

    def transact(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` in a write transaction; sqlite3 errors become TransportDriverError."""
        try:
            return self._write(fn)
        except sqlite3.Error as exc:
            raise TransportDriverError(f"SQLite transport {self.path}: {exc}") from exc

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(conn)`` outside a write transaction (WAL readers never wait)."""
        handle = self._enter()
        try:
            return fn(handle.conn)
        except sqlite3.Error as exc:
            raise TransportDriverError(f"SQLite transport {self.path}: {exc}") from exc
        finally:
            self._exit(handle)

    def transact_retry(self, fn: Callable[[sqlite3.Connection], T], retry: int | None,
                       what: str) -> T:
        """Like :meth:`transact`, retrying lock contention per the ``retry`` budget.

        A failed attempt was rolled back, so retrying never duplicates a
        message. Each attempt already waited ``busy_timeout`` for the lock.
        :raises MessageDeliveryFailure: the budget is spent, or a non-retryable error.
        """
        attempt = 0
        while True:
            try:
                return self._write(fn)
            except sqlite3.Error as exc:
                if is_busy(exc) and (retry is None or retry < 0 or attempt < retry):
                    attempt += 1
                    LOG.debug("SQLite transport busy during %s (attempt %d), retrying",
                              what, attempt)
                    continue
                raise MessageDeliveryFailure(
                    f"Failed to {what} on SQLite transport {self.path} after "
                    f"{attempt + 1} attempt(s): {exc}") from exc


# -- statements: each takes the connection of an open transaction ------------

def declare_queue(conn: sqlite3.Connection, name: str, kind: str, exchange: str,
                  routing_key: str, owner: str | None = None,
                  expires_at: float | None = None) -> None:
    """Create the queue if missing; a transient queue gets its owner and expiry refreshed."""
    conn.execute(
        "INSERT INTO queues (name, kind, exchange, routing_key, owner, expires_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "owner = excluded.owner, expires_at = excluded.expires_at "
        "WHERE excluded.expires_at IS NOT NULL",
        (name, kind, exchange, routing_key, owner, expires_at))


def queue_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM queues WHERE name = ?", (name,)).fetchone() is not None


#: The wake-up addresses of the live subscribers of the row just inserted,
#: newline-separated: publishing then needs one statement instead of two.
_WAKES_OF_ROW = ("(SELECT group_concat(wake, char(10)) FROM subscriptions s "
                 "WHERE s.queue = messages.queue AND s.expires_at > ? "
                 "AND s.wake IS NOT NULL)")


def _addresses(rows: Iterable[tuple[str, str | None]]) -> list[str]:
    seen: dict[str, None] = {}
    for _queue, wakes in rows:
        if wakes:
            seen.update(dict.fromkeys(wakes.split("\n")))
    return list(seen)


def insert(conn: sqlite3.Connection, queue: str, body: str, now: float,
           expires_at: float | None) -> list[str]:
    """Store one message; return the wake-up addresses of the queue's subscribers."""
    rows = conn.execute(f"INSERT INTO messages (queue, body, created_at, expires_at) "
                        f"VALUES (?, ?, ?, ?) RETURNING queue, {_WAKES_OF_ROW}",
                        (queue, body, now, expires_at, now)).fetchall()
    return _addresses(rows)


def insert_routed(conn: sqlite3.Connection, exchange: str, routing_key: str,
                  kinds: Sequence[str], body: str, now: float,
                  expires_at: float | None) -> tuple[list[str], list[str]]:
    """One row per live queue bound to (exchange, routing_key) of these kinds.

    A queue with a policy (:func:`set_policy`) gives its row an expiry at
    most ``message_ttl`` from now, and is then trimmed by :func:`enforce_policy`.

    :returns: the queues written, and the wake-up addresses of their subscribers.
    """
    marks = ",".join("?" * len(kinds))
    rows = conn.execute(
        f"INSERT INTO messages (queue, body, created_at, expires_at) "
        f"SELECT q.name, ?, ?, CASE WHEN p.message_ttl IS NULL THEN ? "
        f"ELSE min(coalesce(?, ? + p.message_ttl), ? + p.message_ttl) END "
        f"FROM queues q LEFT JOIN queue_policies p ON p.queue = q.name "
        f"WHERE q.exchange = ? AND q.routing_key = ? "
        f"AND q.kind IN ({marks}) AND (q.expires_at IS NULL OR q.expires_at > ?) "
        f"RETURNING queue, {_WAKES_OF_ROW}, {_POLICY_OF_ROW}",
        (body, now, expires_at, expires_at, now, now, exchange, routing_key, *kinds, now,
         now)).fetchall()
    for queue, _wakes, has_ttl, max_length in rows:
        if has_ttl or max_length is not None:
            enforce_policy(conn, queue, bool(has_ttl), max_length, now)
    return [r[0] for r in rows], _addresses((r[0], r[1]) for r in rows)


#: Whether the row's queue has a TTL, and its max length (NULLs: no policy).
_POLICY_OF_ROW = ("(SELECT message_ttl IS NOT NULL FROM queue_policies p "
                  "WHERE p.queue = messages.queue), "
                  "(SELECT max_length FROM queue_policies p WHERE p.queue = messages.queue)")

#: A ready row: not under a live lease (in-flight rows are not counted or dropped).
_READY = "(lease_owner IS NULL OR visible_at <= ?)"

#: Head rows a publish looks at for expired ones: constant work per publish,
#: still more than the one row it adds, so expired rows cannot pile up.
_EXPIRED_SWEEP = 64


def set_policy(conn: sqlite3.Connection, queue: str, message_ttl: float | None,
               max_length: int | None, now: float) -> None:
    """Give ``queue`` a policy (replacing its old one) and apply it to its rows."""
    conn.execute(
        "INSERT INTO queue_policies (queue, message_ttl, max_length) VALUES (?, ?, ?) "
        "ON CONFLICT (queue) DO UPDATE SET message_ttl = excluded.message_ttl, "
        "max_length = excluded.max_length", (queue, message_ttl, max_length))
    if message_ttl is not None:
        conn.execute("UPDATE messages SET expires_at = min(coalesce(expires_at, "
                     "created_at + ?), created_at + ?) WHERE queue = ?",
                     (message_ttl, message_ttl, queue))
    enforce_policy(conn, queue, message_ttl is not None, max_length, now, sweep=None)


def enforce_policy(conn: sqlite3.Connection, queue: str, has_ttl: bool,
                   max_length: int | None, now: float, sweep: int | None = _EXPIRED_SWEEP
                   ) -> int:
    """Delete expired ready rows at the head (the oldest ``sweep``, None: all) and
    the oldest ready rows beyond ``max_length`` (drop-head). Returns how many."""
    removed = 0
    if has_ttl:
        head = "" if sweep is None else f" ORDER BY id LIMIT {int(sweep)}"
        removed += conn.execute(
            f"DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue = ?"
            f"{head}) AND expires_at <= ? AND {_READY}", (queue, now, now)).rowcount
    if max_length is not None:
        removed += conn.execute(
            f"DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue = ? "
            f"AND {_READY} ORDER BY id DESC LIMIT -1 OFFSET ?)",
            (queue, now, max_length)).rowcount
    return removed


def live_subscribers(conn: sqlite3.Connection, queues: Iterable[str], now: float) -> int:
    names = list(queues)
    if not names:
        return 0
    marks = ",".join("?" * len(names))
    return conn.execute(
        f"SELECT COUNT(*) FROM subscriptions WHERE queue IN ({marks}) AND expires_at > ?",
        (*names, now)).fetchone()[0]


def wake_addresses(conn: sqlite3.Connection, queues: Iterable[str], now: float) -> list[str]:
    names = list(queues)
    if not names:
        return []
    marks = ",".join("?" * len(names))
    rows = conn.execute(
        f"SELECT DISTINCT wake FROM subscriptions WHERE queue IN ({marks}) "
        f"AND expires_at > ? AND wake IS NOT NULL", (*names, now)).fetchall()
    return [r[0] for r in rows]


def subscribe(conn: sqlite3.Connection, listener: str, queue: str, wake: str | None,
              expires_at: float) -> None:
    conn.execute("INSERT OR REPLACE INTO subscriptions (listener, queue, wake, expires_at) "
                 "VALUES (?, ?, ?, ?)", (listener, queue, wake, expires_at))


def has_visible(conn: sqlite3.Connection, queues: Sequence[str], now: float) -> bool:
    """A cheap read: is anything claimable? Spares idle listeners the write lock."""
    for queue in queues:
        if conn.execute(
                "SELECT 1 FROM messages WHERE queue = ? AND visible_at <= ? LIMIT 1",
                (queue, now)).fetchone():
            return True
    return False


def claim(conn: sqlite3.Connection, queues: Sequence[str], owner: str, limit: int,
          now: float, lease_until: float) -> list[Row]:
    """Lease up to ``limit`` visible, unexpired messages, oldest first per queue."""
    rows: list[Row] = []
    for queue in queues:
        need = limit - len(rows)
        if need <= 0:
            break
        got = conn.execute(
            "UPDATE messages SET lease_owner = ?, visible_at = ?, "
            "delivery_count = delivery_count + 1 WHERE id IN ("
            " SELECT id FROM messages WHERE queue = ? AND visible_at <= ? "
            " AND (expires_at IS NULL OR expires_at > ?) ORDER BY id LIMIT ?) "
            "RETURNING id, queue, body, delivery_count",
            (owner, lease_until, queue, now, now, need)).fetchall()
        rows.extend(Row(*r) for r in sorted(got))
    return rows


def take(conn: sqlite3.Connection, queue: str, limit: int, now: float) -> list[str]:
    """Remove and return up to ``limit`` bodies (reply queues: at most once)."""
    rows = conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue = ? "
        "ORDER BY id LIMIT ?) RETURNING id, body, expires_at", (queue, limit)).fetchall()
    return [body for _id, body, exp in sorted(rows) if exp is None or exp > now]


def ack(conn: sqlite3.Connection, row_id: int, owner: str) -> bool:
    cur = conn.execute("DELETE FROM messages WHERE id = ? AND lease_owner = ?", (row_id, owner))
    return cur.rowcount > 0


def requeue(conn: sqlite3.Connection, row_id: int, owner: str) -> bool:
    """Back of the queue, so a message that keeps failing does not starve the others."""
    cur = conn.execute(
        "INSERT INTO messages (queue, body, delivery_count, created_at, expires_at) "
        "SELECT queue, body, delivery_count, created_at, expires_at FROM messages "
        "WHERE id = ? AND lease_owner = ?", (row_id, owner))
    if cur.rowcount == 0:
        return False
    conn.execute("DELETE FROM messages WHERE id = ?", (row_id,))
    return True


def dead_letter(conn: sqlite3.Connection, row_id: int, owner: str | None, reason: str,
                now: float) -> bool:
    """Move the row to dead_letters; ``owner`` None skips the lease check."""
    cur = conn.execute(
        "INSERT INTO dead_letters (queue, body, reason, delivery_count, created_at, dead_at) "
        "SELECT queue, body, ?, delivery_count, created_at, ? FROM messages "
        "WHERE id = ? AND (? IS NULL OR lease_owner = ?)",
        (reason, now, row_id, owner, owner))
    if cur.rowcount == 0:
        return False
    conn.execute("DELETE FROM messages WHERE id = ?", (row_id,))
    return True


def release(conn: sqlite3.Connection, owner: str) -> int:
    """Make every message leased by ``owner`` visible again at once."""
    return conn.execute("UPDATE messages SET lease_owner = NULL, visible_at = 0 "
                        "WHERE lease_owner = ?", (owner,)).rowcount


def heartbeat(conn: sqlite3.Connection, owners: Sequence[str], lease_until: float,
              expires_at: float) -> None:
    """Renew the leases, transient queues and subscriptions of live listeners."""
    for owner in owners:
        conn.execute("UPDATE messages SET visible_at = ? WHERE lease_owner = ?",
                     (lease_until, owner))
        conn.execute("UPDATE queues SET expires_at = ? WHERE owner = ?", (expires_at, owner))
        conn.execute("UPDATE subscriptions SET expires_at = ? WHERE listener = ?",
                     (expires_at, owner))


def drop_owner(conn: sqlite3.Connection, owner: str) -> None:
    """Forget a listener: its subscriptions, transient queues and their messages."""
    conn.execute("DELETE FROM subscriptions WHERE listener = ?", (owner,))
    conn.execute("DELETE FROM messages WHERE queue IN (SELECT name FROM queues WHERE owner = ?)",
                 (owner,))
    conn.execute("DELETE FROM queues WHERE owner = ?", (owner,))


def collect_garbage(conn: sqlite3.Connection, now: float, dead_letter_retention: float) -> int:
    """Delete what dead processes left: expired transient queues, subscriptions, messages."""
    removed = conn.execute(
        "DELETE FROM messages WHERE queue IN (SELECT name FROM queues "
        "WHERE expires_at IS NOT NULL AND expires_at <= ?)", (now,)).rowcount
    conn.execute("DELETE FROM queues WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,))
    conn.execute("DELETE FROM subscriptions WHERE expires_at <= ?", (now,))
    removed += conn.execute("DELETE FROM messages WHERE expires_at IS NOT NULL "
                            "AND expires_at <= ? AND lease_owner IS NULL", (now,)).rowcount
    if dead_letter_retention:
        conn.execute("DELETE FROM dead_letters WHERE dead_at <= ?",
                     (now - dead_letter_retention,))
    return removed


def now() -> float:
    return time.time()
