"""Cross-process wake-ups: waiting for messages without polling the file.

Each waiting party (a listener, the reply consumer) binds a Unix datagram
socket and records its address in the ``subscriptions`` table. A publisher,
after committing, sends a one-byte datagram to the address of every
subscriber of the queues it wrote to; the subscriber sleeps in ``select``
on its socket. Datagrams carry no data we trust: a wake-up only means "look
at the file", so a lost, duplicated or forged one costs at most one query.

Addresses: on Linux, abstract-namespace sockets (``@msgframework/...``),
which leave no files behind and vanish with a killed process. Elsewhere a
socket file in ``<db>.wake/`` (or, when that path is too long for a socket,
a per-database directory in the temp dir), removed on close and when a send
finds nobody listening. Where neither works the waiter falls back to
looking every ``poll_interval``: latency stays bounded, only higher.

Within one process the same path is used, so several transports on one
file wake each other exactly like separate processes do.
"""

from __future__ import annotations

import atexit
import errno
import hashlib
import logging
import os
import select
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = ["WakeSocket", "send_wakeups"]

LOG = logging.getLogger(__name__)

_ABSTRACT = sys.platform.startswith("linux")
_MAX_PATH = 100  # sun_path is 104-108 bytes depending on the platform
_sender_lock = threading.Lock()
_sender: socket.socket | None = None


def _socket_dir(db_path: Path) -> Path:
    wake_dir = Path(str(db_path) + ".wake")
    if len(str(wake_dir)) + 40 > _MAX_PATH:
        digest = hashlib.sha1(str(db_path).encode()).hexdigest()[:16]
        wake_dir = Path(tempfile.gettempdir()) / f"msgframework-{digest}"
    return wake_dir


def _to_sockaddr(address: str) -> str | bytes:
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


class WakeSocket:
    """One waiter's socket. ``address`` is None when sockets are unavailable."""

    def __init__(self, db_path: Path) -> None:
        self.address: str | None = None
        self._sock: socket.socket | None = None
        self._file: Path | None = None
        self._fallback = threading.Event()
        name = f"{os.getpid()}-{uuid.uuid4().hex[:16]}"
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        except (AttributeError, OSError):
            LOG.info("No Unix datagram sockets here; SQLite listeners poll instead")
            return
        try:
            if _ABSTRACT:
                digest = hashlib.sha1(str(db_path).encode()).hexdigest()[:16]
                address = f"@msgframework/{digest}/{name}"
                sock.bind(_to_sockaddr(address))
            else:
                wake_dir = _socket_dir(db_path)
                wake_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._file = wake_dir / f"{name}.sock"
                address = str(self._file)
                sock.bind(address)
            sock.setblocking(False)
        except OSError as exc:
            LOG.info("Cannot bind a wake-up socket for %s (%s); polling instead", db_path, exc)
            sock.close()
            self._file = None
            return
        self._sock = sock
        self.address = address

    def drain(self) -> None:
        """Discard pending wake-ups: call before looking at the file, never after."""
        sock = self._sock  # close() may clear it from another thread meanwhile
        if sock is None:
            self._fallback.clear()
            return
        try:
            while True:
                sock.recv(64)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # closed under us by close(): nothing to drain
            pass

    def wait(self, timeout: float) -> bool:
        """Sleep until a wake-up arrives or ``timeout``; True when woken."""
        sock = self._sock
        if sock is None:
            return self._fallback.wait(timeout)
        try:
            ready, _, _ = select.select([sock], [], [], max(0.0, timeout))
        except (OSError, ValueError):  # closed by another thread: stop waiting
            return True
        return bool(ready)

    def wake(self) -> None:
        """Wake this socket's own waiter (stop(), a settled message freeing capacity)."""
        if self.address is None:
            self._fallback.set()
        else:
            send_wakeups([self.address])

    def close(self) -> None:
        sock, self._sock = self._sock, None
        self._fallback.set()
        if sock is not None:
            sock.close()
        if self._file is not None:
            try:
                self._file.unlink()
            except OSError:
                pass


def _close_sender() -> None:
    """At exit: the shared sender socket lives as long as the process."""
    global _sender
    with _sender_lock:
        sock, _sender = _sender, None
    if sock is not None:
        sock.close()


atexit.register(_close_sender)


def _get_sender() -> socket.socket:
    global _sender
    with _sender_lock:
        if _sender is None or _sender.fileno() < 0:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
        return _sender


def _is_our_socket_file(address: str) -> bool:
    """Only files shaped like ours are removed: the addresses come from a shared file."""
    path = Path(address)
    return (not address.startswith("@") and path.suffix == ".sock"
            and (path.parent.name.endswith(".wake")
                 or path.parent.name.startswith("msgframework-")))


def send_wakeups(addresses: Iterable[str]) -> None:
    """Best effort: a full buffer already means a wake-up is pending; a gone
    peer is cleaned up (its subscription expires; its socket file is removed)."""
    addresses = list(addresses)
    if not addresses:
        return
    try:
        sender = _get_sender()
    except (AttributeError, OSError):
        return
    for address in addresses:
        try:
            sender.sendto(b"!", _to_sockaddr(address))
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED and _is_our_socket_file(address):
                try:
                    os.unlink(address)  # its process died without closing it
                except OSError:
                    pass
            elif exc.errno not in (errno.ECONNREFUSED, errno.ENOENT, errno.EAGAIN):
                LOG.debug("Wake-up to %s failed: %s", address, exc)
