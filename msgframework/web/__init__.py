"""The live notification page: a hub's notifications in a browser, over Server-Sent Events.

Unlike Flask-Notifications' Redis pub/sub push, a page that reconnects (or
is reloaded) gets what it missed: events go through a bounded, durable
:class:`~msgframework.hubs.buffer.ReplayBuffer`, the SSE event id is the
buffer's sequence number, and the stream resumes after ``Last-Event-ID``.

Needs the ``web`` extra (Starlette, sse-starlette, uvicorn)::

    from msgframework.web import create_app, serve
    serve(create_app("sqlite:///var/lib/app/msgs.db", hub_name="ops"))

or ``msgframework web --transport-url sqlite:///var/lib/app/msgs.db --hub ops``.
"""

from msgframework.web.app import create_app
from msgframework.web.server import BackgroundServer, serve

__all__ = ["create_app", "serve", "BackgroundServer"]
