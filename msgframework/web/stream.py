"""The SSE stream: replay from the buffer after a position, then follow it live.

One generator per connection. It wakes when the buffer is appended to in
this process (a callback hops onto the connection's event loop), and
re-checks the buffer every ``poll_interval`` seconds as a safety net for
appends made by another process sharing the buffer's file.

Frames sent:

* ``retry: <ms>`` once, so browsers reconnect quickly;
* ``event: gap`` with ``{"missed": n}`` when the client was away longer
  than the buffer covers (no id: the client's position does not move);
* ``event: gap`` with ``{"missed": null, "reset": true}`` when the client's
  position is not one of this buffer's: its id has another epoch (the buffer
  was recreated: a deleted file, a memory buffer after a restart) or a
  number beyond the newest entry. How much it missed cannot be known; it is
  then sent every entry the buffer keeps;
* ``id: <epoch>-<seq>`` / ``event: notification`` / ``data: <event JSON>``
  per event that passes the connection's filter (``seq`` is in the data too);
* ``event: ready`` with ``{"last_seq": n, "last_event_id": "<epoch>-<n>",
  "replayed": k}`` once the replay is done, so a client can tell history
  from live events (and store the id to resume from after a reload).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

from msgframework.hubs.buffer import EventPosition, ReplayBuffer
from msgframework.hubs.event import HubEvent
from msgframework.hubs.filters import EventFilter

__all__ = ["BufferWaker", "event_stream"]

_BATCH = 500


class BufferWaker:
    """Wakes the asyncio waiters of every connection when the buffer grows."""

    def __init__(self, buffer: ReplayBuffer) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = False
        self._unsubscribe = buffer.subscribe(self.wake)

    def wake(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that connection's loop is gone
                pass

    def register(self) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), event))
        return event

    def unregister(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {w for w in self._waiters if w[1] is not event}

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self.closed = True
        self.wake()
        self._unsubscribe()


def _frame(buffer: ReplayBuffer, seq: int, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": buffer.event_id(seq), "event": "notification",
            "data": json.dumps(dict(data, seq=seq), ensure_ascii=False, default=str)}


def _passes(event_filter: EventFilter, data: dict[str, Any]) -> bool:
    try:
        return bool(event_filter(HubEvent.from_dict(data)))
    except Exception:  # a malformed entry is skipped, never the end of the stream
        return False


async def event_stream(buffer: ReplayBuffer, waker: BufferWaker, channel: str,
                       event_filter: EventFilter, last: EventPosition | int | None, *,
                       backlog: int, follow: bool, poll_interval: float, retry_ms: int
                       ) -> AsyncIterator[dict[str, Any]]:
    """Yield sse-starlette frames: the replay after ``last``, then live events.

    ``last`` None means a new client: it gets the newest ``backlog``
    entries that pass the filter (0: only live events). A bare int is a
    position in the buffer's current epoch.
    """
    if isinstance(last, int):
        last = EventPosition(last)
    wakeup = waker.register()
    try:
        yield {"retry": retry_ms, "comment": "msgframework"}
        if last is None:
            newest = buffer.last_seq(channel)
            position = max(0, newest - backlog)
        else:
            position = last.seq
            newest = buffer.last_seq(channel)
            if (last.epoch is not None and last.epoch != buffer.epoch) or position > newest:
                # Not a position in this buffer: it was recreated since. Say so
                # (how much was missed cannot be known) and send all it keeps.
                yield {"event": "gap", "data": json.dumps({"missed": None, "reset": True})}
                position = 0
        first = True
        replayed = 0
        while not waker.closed:
            wakeup.clear()
            replay = buffer.since(position, channel, limit=_BATCH)
            if replay.missed and not (first and last is None):
                yield {"event": "gap", "data": json.dumps({"missed": replay.missed})}
            for entry in replay.events:
                position = entry.seq
                if _passes(event_filter, entry.data):
                    if first:
                        replayed += 1
                    yield _frame(buffer, entry.seq, entry.data)
            if len(replay.events) == _BATCH:
                continue  # more to replay before announcing "ready"
            if first:
                first = False
                yield {"event": "ready",
                       "data": json.dumps({"last_seq": position,
                                           "last_event_id": buffer.event_id(position),
                                           "replayed": replayed})}
                if not follow:
                    return
            try:
                await asyncio.wait_for(wakeup.wait(), timeout=poll_interval)
            except asyncio.TimeoutError:
                pass
    finally:
        waker.unregister(wakeup)
