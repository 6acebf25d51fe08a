"""The tests' own TCP relay (no broker needed): a freeze holds bytes and costs no CPU."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.functional.relay import Relay

pytestmark = pytest.mark.timeout(30)


def recv_exactly(sock: socket.socket, size: int, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


@pytest.fixture
def relayed() -> Iterator[tuple[Relay, socket.socket, socket.socket]]:
    """A relay to a local listening socket: (relay, client side, upstream side)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(5)
    relay = Relay("127.0.0.1", server.getsockname()[1])
    client = socket.create_connection(("127.0.0.1", relay.port), timeout=5)
    upstream, _ = server.accept()
    try:
        yield relay, client, upstream
    finally:
        relay.close()
        for sock in (client, upstream, server):
            sock.close()


def test_a_frozen_connection_holds_bytes_without_spinning(
        relayed: tuple[Relay, socket.socket, socket.socket]) -> None:
    relay, client, upstream = relayed
    client.sendall(b"ping")
    assert recv_exactly(upstream, 4) == b"ping"
    assert relay.wait_for_accepted(1) and relay.open_connections == 1

    relay.freeze()
    client.sendall(b"held")  # the pump's socket stays readable from now on
    cpu, wall = time.process_time(), time.monotonic()
    upstream.settimeout(1.0)
    with pytest.raises(TimeoutError):  # the window we measure over: nothing comes through
        upstream.recv(4)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    # a pump polling a readable socket in a loop burns about one core for the second
    assert cpu < 0.25 * wall, f"{cpu:.2f}s of CPU in {wall:.2f}s while frozen"

    relay.thaw()
    assert recv_exactly(upstream, 4) == b"held"  # held, not dropped
    upstream.sendall(b"pong")
    assert recv_exactly(client, 4) == b"pong"


def test_closing_a_frozen_relay_ends_its_connections(
        relayed: tuple[Relay, socket.socket, socket.socket]) -> None:
    relay, client, upstream = relayed
    assert relay.wait_for_accepted(1)
    [pump] = relay.pumps()
    relay.freeze()
    client.sendall(b"held")  # readable at once: the pump goes to wait for the thaw
    upstream.settimeout(1.0)
    with pytest.raises(TimeoutError):
        upstream.recv(4)
    relay.close()  # the pump blocked on the freeze must wake up and end
    pump.join(5)
    assert not pump.is_alive(), "the frozen pump did not wake up on close()"
    assert relay.open_connections == 0
    upstream.settimeout(5)
    assert upstream.recv(1) == b""  # both sides see the connection closed
    client.settimeout(5)
    assert client.recv(1) == b""
