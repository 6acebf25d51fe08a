"""The RPC conformance clauses, run on the memory, SQLite and RabbitMQ drivers.

The RabbitMQ driver runs on kombu's in-memory transport (no broker needed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgframework.testing.rpc_conformance import RPCConformance


class _RPCConformance(RPCConformance):
    #: The kit's 0.25 s means a heartbeat every 0.125 s that must arrive within
    #: 0.25 s: a stall of the test host for an eighth of a second failed a call
    #: that should live. With 1 s the calls survive half-second stalls; the
    #: monitored call then runs 3 s.
    MONITOR = 1.0


class TestMemoryRPCConformance(_RPCConformance):
    @pytest.fixture
    def transport_url(self) -> str:
        return f"memory://rpc-conformance-{uuid.uuid4().hex}"


class TestSQLiteRPCConformance(_RPCConformance):
    @pytest.fixture
    def transport_url(self, tmp_path: Path) -> str:
        return f"sqlite://{tmp_path}/rpc.db"


def _reset_kombu_memory() -> None:
    """kombu's memory transport keeps one process-wide broker: start each test empty."""
    from kombu.transport import memory

    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()


class TestRabbitOnKombuMemoryRPCConformance(_RPCConformance):
    @pytest.fixture
    def transport_url(self) -> Iterator[str]:
        _reset_kombu_memory()
        yield "kombu+memory://"
        _reset_kombu_memory()
