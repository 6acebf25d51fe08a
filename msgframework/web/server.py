"""Running the page: :func:`serve` in the foreground, :class:`BackgroundServer` in a thread.

Both use uvicorn and bind 127.0.0.1 by default: the page shows every
notification of the hub and has no authentication, so exposing it beyond
the host is a deliberate choice (``host="0.0.0.0"``) behind a proxy that
authenticates.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from typing import Any

from msgframework.exceptions import MessagingServerError, TaskTimeout

__all__ = ["serve", "BackgroundServer", "DEFAULT_HOST", "DEFAULT_PORT"]

LOG = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _config(app: Any, log_level: str) -> Any:
    import uvicorn

    # A short graceful shutdown: SSE responses never end by themselves.
    return uvicorn.Config(app, log_level=log_level, lifespan="on",
                          timeout_graceful_shutdown=2, access_log=False)


def serve(app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          log_level: str = "info") -> None:
    """Serve ``app`` (from :func:`~msgframework.web.app.create_app`) until SIGTERM or SIGINT.

    Either signal shuts uvicorn down gracefully (the lifespan stops the hub
    and closes the buffer) and then ``serve`` returns normally, so the
    caller's own cleanup runs and a daemon exits 0. (uvicorn alone re-raises
    the signal after its shutdown, which kills the process with it.)
    """
    import uvicorn

    config = _config(app, log_level)
    config.host, config.port = host, port
    waker = getattr(getattr(app, "state", None), "waker", None)
    server = uvicorn.Server(config)

    def absorb(signum: int, frame: Any) -> None:
        # Runs for a signal that came before uvicorn took the handlers (it
        # then shuts down at once) and for the one uvicorn re-raises after.
        server.should_exit = True

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, absorb)
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if waker is not None:
            waker.close()


class BackgroundServer:
    """uvicorn in a daemon thread on an already-listening socket (port 0: any free port).

    The socket listens before the thread starts, so :attr:`url` is usable at
    once: early connections wait in the backlog until uvicorn accepts them.
    """

    def __init__(self, app: Any, host: str = DEFAULT_HOST, port: int = 0,
                 log_level: str = "warning") -> None:
        import uvicorn

        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
            self._sock.listen(128)
        except OSError as exc:
            self._sock.close()
            raise MessagingServerError(f"cannot listen on {host}:{port}: {exc}") from exc
        self.host, self.port = self._sock.getsockname()[:2]
        self._server = uvicorn.Server(_config(app, log_level))
        self._thread = threading.Thread(target=self._run, name="msgframework-web",
                                        daemon=True)
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by stop()
            self._error = exc
            LOG.exception("The web server failed")

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the streams, stop uvicorn, and join its thread within ``timeout``."""
        waker = getattr(getattr(self.app, "state", None), "waker", None)
        if waker is not None:
            waker.close()
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TaskTimeout(f"the web server on {self.url} did not stop in {timeout}s")
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
