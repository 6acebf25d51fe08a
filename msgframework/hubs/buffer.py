"""ReplayBuffer: a bounded, durable, numbered log of events, for replay after reconnect.

Flask-Notifications pushed events through Redis pub/sub, so a browser that
was not connected at that instant missed them for good. Here the push
consumer appends each event to this buffer, and the live page streams from
it: every entry gets a sequence number, and a client that reconnects with
the id of the last entry it saw is sent every entry after it that is still
kept.

* Bounded: each channel keeps its newest ``capacity`` entries; older ones
  are trimmed on append. A client that was away longer than the buffer
  covers is told how many it missed (:meth:`ReplayBuffer.since` reports the
  gap) instead of silently receiving a partial history.
* Durable: with a ``path`` the entries live in an SQLite file (WAL), so a
  restarted web server still replays them; ``path=None`` (or ``":memory:"``)
  keeps them in memory. The live page's default is a file per hub in the
  user's state directory (:func:`default_buffer_path`).
* Monotonic: a channel's sequence numbers only grow, across trims and
  restarts (the next number is kept in its own table, never reused).
* Epochs: every buffer has an :attr:`~ReplayBuffer.epoch`, a random token
  made when its storage is created (kept in the file; new for each
  in-memory buffer). Event ids are ``<epoch>-<seq>``
  (:meth:`ReplayBuffer.event_id`), so a client holding an id of another
  epoch (the file was deleted, the server went back to a memory buffer) is
  recognised as coming from a buffer that no longer exists, and told so,
  instead of being resumed at a position that means something else now.
* Waking: :meth:`ReplayBuffer.subscribe` registers a callback run after each
  append in this process. Another process appending to the same file is
  not seen by callbacks; readers there re-check at their poll interval.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from msgframework.exceptions import TransportDriverError

__all__ = ["ReplayBuffer", "BufferedEvent", "Replay", "EventPosition", "MEMORY",
           "default_buffer_path", "parse_event_id"]

#: The ``path`` that asks for an in-memory buffer (as SQLite spells it).
MEMORY = ":memory:"

_EPOCH = re.compile(r"^[0-9a-z]{1,64}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replay_channels (
    channel TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replay_events (
    channel TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (channel, seq)
);
CREATE TABLE IF NOT EXISTS replay_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def default_buffer_path(name: str) -> Path:
    """The default replay file of hub ``name``: ``replay-<name>.db`` in the state directory.

    That is the directory of the default SQLite transport file
    (``$XDG_STATE_HOME/msgframework/``, ``~/.local/state`` when unset), so a
    live page restarted with its defaults replays what it had.
    """
    from msgframework.drivers.sqlite.location import default_database_path

    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"cannot name a replay buffer file after {name!r}")
    return default_database_path().parent / f"replay-{name}.db"


@dataclass(frozen=True)
class EventPosition:
    """A client's position: the sequence number it saw last, and that id's epoch.

    ``epoch`` None means a bare number (an id from before epochs, or typed
    by hand): it is taken as a position in the buffer's current epoch.
    """

    seq: int
    epoch: str | None = None


def parse_event_id(text: str) -> EventPosition:
    """Parse ``<epoch>-<seq>`` or a bare ``<seq>``; ValueError when it is neither."""
    raw = text.strip()
    epoch: str | None = None
    number = raw
    if "-" in raw:
        epoch, _, number = raw.rpartition("-")
        if not _EPOCH.match(epoch):
            raise ValueError(f"bad event id {text!r}: expected <epoch>-<number>")
    if not number.isdigit():
        raise ValueError(f"bad event id {text!r}: expected <epoch>-<number> or a "
                         "non-negative number")
    return EventPosition(int(number), epoch)



@dataclass(frozen=True)
class BufferedEvent:
    """One entry: its sequence number and the JSON-ready dict that was appended."""

    seq: int
    data: dict[str, Any]


@dataclass(frozen=True)
class Replay:
    """What :meth:`ReplayBuffer.since` returns.

    :param events: the kept entries after the asked position, oldest first.
    :param missed: entries after the position that were trimmed before
        they could be replayed (0 when the buffer covered the whole gap).
    :param last_seq: the newest sequence number of the channel (0 if none yet).
    """

    events: list[BufferedEvent]
    missed: int
    last_seq: int


class ReplayBuffer:
    """A bounded numbered log per channel, in an SQLite file or in memory.

    :param path: the SQLite file (its directory is created); None or
        :data:`MEMORY` keeps the buffer in memory (lost on exit).
    :param capacity: entries kept per channel (at least 1).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, capacity: int = 1000) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"ReplayBuffer capacity must be a positive integer, "
                             f"got {capacity!r}")
        text = os.fspath(path) if path is not None else MEMORY
        self.path: str | None = None if text == MEMORY else text
        self.capacity = capacity
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        try:
            if self.path:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path or MEMORY, timeout=10.0,
                                         check_same_thread=False, isolation_level=None)
            if self.path:
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            # The first opener of the storage picks its epoch; later ones read it.
            self._conn.execute("INSERT OR IGNORE INTO replay_meta (key, value) "
                               "VALUES ('epoch', ?)", (uuid.uuid4().hex[:12],))
            self.epoch: str = self._conn.execute(
                "SELECT value FROM replay_meta WHERE key = 'epoch'").fetchone()[0]
        except (sqlite3.Error, OSError) as exc:
            raise TransportDriverError(f"cannot open the replay buffer {self.path!r}: {exc}"
                                       ) from exc

    def __repr__(self) -> str:
        return f"<ReplayBuffer {self.path or MEMORY} capacity={self.capacity}>"

    def event_id(self, seq: int) -> str:
        """The client-facing id of entry ``seq``: ``<epoch>-<seq>``."""
        return f"{self.epoch}-{seq}"

    def append(self, data: dict[str, Any], channel: str = "default") -> int:
        """Store ``data`` (JSON-encodable) as the channel's next entry; return its number."""
        body = json.dumps(data, default=str, ensure_ascii=False)
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    row = self._conn.execute(
                        "SELECT next_seq FROM replay_channels WHERE channel = ?",
                        (channel,)).fetchone()
                    seq = row[0] if row else 1
                    self._conn.execute(
                        "INSERT OR REPLACE INTO replay_channels (channel, next_seq) "
                        "VALUES (?, ?)", (channel, seq + 1))
                    self._conn.execute(
                        "INSERT INTO replay_events (channel, seq, data) VALUES (?, ?, ?)",
                        (channel, seq, body))
                    self._conn.execute(
                        "DELETE FROM replay_events WHERE channel = ? AND seq <= ?",
                        (channel, seq - self.capacity))
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise TransportDriverError(f"cannot append to {self!r}: {exc}") from exc
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a waiter that went away must not fail the append
                pass
        return seq

    def since(self, last_seq: int | None = None, channel: str = "default",
              limit: int | None = None) -> Replay:
        """Entries after ``last_seq`` (None: every kept entry), oldest first."""
        after = max(0, int(last_seq or 0))
        with self._lock:
            try:
                row = self._conn.execute(
                    "SELECT next_seq FROM replay_channels WHERE channel = ?",
                    (channel,)).fetchone()
                query = ("SELECT seq, data FROM replay_events WHERE channel = ? AND seq > ? "
                         "ORDER BY seq")
                params: tuple[Any, ...] = (channel, after)
                if limit is not None:
                    query += " LIMIT ?"
                    params += (int(limit),)
                rows = self._conn.execute(query, params).fetchall()
            except sqlite3.Error as exc:
                raise TransportDriverError(f"cannot read {self!r}: {exc}") from exc
        last = (row[0] - 1) if row else 0
        events = [BufferedEvent(seq, json.loads(data)) for seq, data in rows]
        first_kept = events[0].seq if events else last + 1
        missed = max(0, first_kept - after - 1) if after < last else 0
        return Replay(events=events, missed=missed, last_seq=last)

    def last_seq(self, channel: str = "default") -> int:
        """The channel's newest sequence number (0 before the first append)."""
        return self.since(None, channel, limit=0).last_seq

    def subscribe(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every append in this process; returns the unsubscriber.

        The callback runs in the appending thread and must be quick (set an
        event, schedule on a loop).
        """
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def close(self) -> None:
        with self._lock:
            self._conn.close()
