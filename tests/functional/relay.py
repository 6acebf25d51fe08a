"""A loopback TCP relay the functional tests own, to cut and restore broker connections.

Clients connect to ``127.0.0.1:<relay.port>`` and the relay forwards bytes
to the real broker. Tests can then

* :meth:`cut` every open connection (both sides see the socket close), as a
  network failure or a broker crash would;
* :meth:`go_down` (refuse new connections and cut the open ones) and
  :meth:`come_up` (accept again on the same port), as a broker restart;
* :meth:`freeze` open connections (stop forwarding, keep the sockets open),
  as a silent partition only heartbeats can detect, and :meth:`thaw` them.

A frozen connection's pump thread blocks on an event (set again by
:meth:`thaw` or by closing), so a freeze costs no CPU however much the
peers keep sending.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

__all__ = ["Relay"]


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.forwarding = threading.Event()  # cleared while frozen
        self.forwarding.set()
        self.closed = False
        self.thread: threading.Thread | None = None  # its pump

    def close(self) -> None:
        self.closed = True
        self.forwarding.set()  # wake a frozen pump, which then sees ``closed``
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class Relay:
    """Forwards 127.0.0.1:port to ``target``; see the module docstring."""

    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Condition()
        self._pairs: list[_Pair] = []
        self.accepted = 0
        self._server: socket.socket | None = None
        self._closed = False
        self.port = port
        self.come_up()

    # -- control ---------------------------------------------------------------
    def come_up(self) -> None:
        """Accept connections (again) on the relay's port."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept_loop, args=(server,), daemon=True,
                         name=f"relay-accept-{self.port}").start()

    def go_down(self) -> None:
        """Refuse new connections and cut the open ones."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
        self.cut()

    def cut(self) -> int:
        """Close every open connection; returns how many were cut."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            pair.close()
        return len(pairs)

    def freeze(self) -> None:
        """Stop forwarding on open connections without closing them."""
        with self._lock:
            for pair in self._pairs:
                pair.forwarding.clear()

    def thaw(self) -> None:
        """Forward again on frozen connections (what was held goes through)."""
        with self._lock:
            for pair in self._pairs:
                pair.forwarding.set()

    def wait_for_accepted(self, count: int, timeout: float = 15) -> bool:
        """Wait until ``count`` connections were accepted in total."""
        with self._lock:
            return self._lock.wait_for(lambda: self.accepted >= count, timeout)

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def pumps(self) -> list[threading.Thread]:
        """The threads forwarding the open connections (one each)."""
        with self._lock:
            return [pair.thread for pair in self._pairs if pair.thread is not None]

    def close(self) -> None:
        self._closed = True
        self.go_down()

    # -- forwarding ------------------------------------------------------------
    def _accept_loop(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # go_down() closed the listening socket
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, upstream)
            pair.thread = threading.Thread(target=self._pump, args=(pair,), daemon=True,
                                           name=f"relay-pump-{self.port}")
            with self._lock:
                self._pairs.append(pair)
                pair.thread.start()  # under the lock: pumps() lists started threads only
                self.accepted += 1
                self._lock.notify_all()

    def _pump(self, pair: _Pair) -> None:
        peers = {pair.client: pair.upstream, pair.upstream: pair.client}
        try:
            while not pair.closed:
                if not pair.forwarding.is_set():
                    # Frozen: hold the bytes (the peers see silence) without
                    # polling sockets that stay readable; thaw() or close() wakes us.
                    pair.forwarding.wait()
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.5)
                if not pair.forwarding.is_set():
                    continue  # frozen while we waited: do not forward what came
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("peer closed")
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                if pair in self._pairs:
                    self._pairs.remove(pair)
            pair.close()
