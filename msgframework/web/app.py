"""The Starlette application: the live page, its SSE stream and a health check.

Routes:

* ``GET /`` the page (``static/index.html``; it loads ``/static/app.js``).
* ``GET /events`` the Server-Sent Events stream of the hub's notifications.
  Query: the filters of :mod:`msgframework.web.query`; ``last_event_id``
  (where a reloaded page resumes; the ``Last-Event-ID`` header, which
  browsers send on automatic reconnects, wins over it); ``backlog`` (how
  many recent events a new client gets, default the app's); ``follow=0``
  (send the replay, then end the response: for scripts and tests).
* ``GET /healthz`` ``{"ok": true, "hub": ..., "last_seq": n, "epoch": ...,
  "last_event_id": "<epoch>-<n>"}``.

The replay buffer is durable by default: ``replay-<hub>.db`` in the user's
state directory, next to the default SQLite transport file
(:func:`~msgframework.hubs.buffer.default_buffer_path`), so a restarted
server still replays what a reconnecting browser missed. Event ids carry
the buffer's epoch, so a browser holding an id of a buffer that no longer
exists gets an ``event: gap`` frame instead of a silently partial replay.

Where events come from: :func:`create_app` is given a :class:`Hub` (the app
adds a :class:`PushConsumer` into its :class:`ReplayBuffer` and starts the
hub with the app), a transport or transport URL (the app builds a hub of
that name and owns it), or only a ``buffer`` that another process fills.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from msgframework.hubs.buffer import ReplayBuffer, default_buffer_path
from msgframework.hubs.consumers.push import PushConsumer
from msgframework.hubs.hub import Hub
from msgframework.web.query import (
    QueryError,
    filter_from_query,
    parse_last_event_id,
    parse_position,
)
from msgframework.web.stream import BufferWaker, event_stream

__all__ = ["create_app", "STATIC_DIR"]

LOG = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _hub_for(source: Any, hub_name: str, topics: Sequence[str] | None,
             conf: Any) -> tuple[Hub | None, bool, Any]:
    """(hub, whether the app owns it, transport the app must clean up or None)."""
    if source is None:
        return None, False, None
    if isinstance(source, Hub):
        return source, False, None
    transport = source
    owned_transport = None
    if isinstance(source, str):
        from oslo_config import cfg

        from msgframework.transport import get_notification_transport

        transport = owned_transport = get_notification_transport(
            conf if conf is not None else cfg.ConfigOpts(), source)
    return Hub(transport, hub_name, topics=topics), True, owned_transport


def create_app(source: Any = None, *, buffer: ReplayBuffer | None = None,
               buffer_path: str | os.PathLike[str] | None = None, capacity: int = 1000,
               hub_name: str = "web",
               topics: Sequence[str] | None = None, conf: Any = None, backlog: int = 50,
               poll_interval: float = 1.0, ping: float = 15.0, retry_ms: int = 1000
               ) -> Starlette:
    """Build the live notification page's application.

    :param source: a :class:`Hub`, a notification Transport, a transport URL,
        or None (serve ``buffer`` only).
    :param buffer: the replay buffer; default a new one at ``buffer_path``
        keeping ``capacity`` events.
    :param buffer_path: the buffer's SQLite file; default
        ``replay-<hub name>.db`` in the user's state directory
        (:func:`~msgframework.hubs.buffer.default_buffer_path`);
        ``":memory:"`` for a buffer lost when the app stops.
    :param hub_name: the hub's name when the app builds it; also the buffer channel.
    :param topics: topics the built hub listens on (default ``notifications``).
    :param backlog: events a new client (no last event id) is sent first.
    :param poll_interval: seconds between buffer re-checks when idle (only
        matters for a buffer filled by another process).
    :param ping: seconds between keep-alive comments.
    :param retry_ms: the reconnect delay browsers are told.
    """
    if backlog < 0:
        raise ValueError("backlog must be >= 0")
    if poll_interval <= 0:
        raise ValueError("poll_interval must be > 0")
    hub, owns_hub, owned_transport = _hub_for(source, hub_name, topics, conf)
    channel = hub.name if hub is not None else hub_name
    owns_buffer = buffer is None
    if buffer is None:
        path = (os.fspath(buffer_path) if buffer_path is not None
                else str(default_buffer_path(channel)))
        buffer = ReplayBuffer(path, capacity=capacity)  # MEMORY: in memory
    push = PushConsumer(buffer, channel=channel, name=f"web-push-{channel}")
    waker = BufferWaker(buffer)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import anyio.to_thread

        started_here = False
        if hub is not None:
            hub.register_consumer(push)
            if not hub.running and hub.transport is not None:
                await anyio.to_thread.run_sync(hub.start)
                started_here = True
        try:
            yield
        finally:
            waker.close()
            if hub is not None:
                hub.deregister_consumer(push)
                if started_here or owns_hub:
                    await anyio.to_thread.run_sync(hub.stop)
            if owned_transport is not None:
                owned_transport.cleanup()
            if owns_buffer:
                buffer.close()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def healthz(request: Request) -> Response:
        last_seq = buffer.last_seq(channel)
        return JSONResponse({"ok": True, "hub": channel, "last_seq": last_seq,
                             "epoch": buffer.epoch,
                             "last_event_id": buffer.event_id(last_seq)})

    async def events(request: Request) -> Response:
        from sse_starlette.sse import EventSourceResponse

        params = request.query_params
        try:
            event_filter = filter_from_query(params)
            header = parse_last_event_id(request.headers.get("last-event-id"),
                                         "the Last-Event-ID header")
            query = parse_last_event_id(params.get("last_event_id"),
                                        "query parameter 'last_event_id'")
            wanted_backlog = parse_position(params.get("backlog"), "query parameter 'backlog'")
            follow = params.get("follow", "1").lower() not in ("0", "false", "no", "off")
        except QueryError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        last = header if header is not None else query
        stream = event_stream(buffer, waker, channel, event_filter, last,
                              backlog=backlog if wanted_backlog is None else wanted_backlog,
                              follow=follow, poll_interval=poll_interval, retry_ms=retry_ms)
        return EventSourceResponse(stream, ping=ping,
                                   headers={"Cache-Control": "no-store",
                                            "X-Accel-Buffering": "no"})

    app = Starlette(routes=[
        Route("/", index),
        Route("/events", events),
        Route("/healthz", healthz),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ], lifespan=lifespan)
    app.state.hub = hub
    app.state.buffer = buffer
    app.state.channel = channel
    app.state.waker = waker
    return app
