"""The RPC conformance clauses, run on the memory, SQLite and RabbitMQ drivers.

The RabbitMQ driver runs on kombu's in-memory transport (no broker needed).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from msgframework.testing.rpc_conformance import RPCConformance


class TestMemoryRPCConformance(RPCConformance):
    @pytest.fixture
    def transport_url(self) -> str:
        return f"memory://rpc-conformance-{uuid.uuid4().hex}"


class TestSQLiteRPCConformance(RPCConformance):
    @pytest.fixture
    def transport_url(self, tmp_path: Path) -> str:
        return f"sqlite://{tmp_path}/rpc.db"


def _reset_kombu_memory() -> None:
    """kombu's memory transport keeps one process-wide broker: start each test empty."""
    from kombu.transport import memory

    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()


class TestRabbitOnKombuMemoryRPCConformance(RPCConformance):
    @pytest.fixture
    def transport_url(self) -> Iterator[str]:
        _reset_kombu_memory()
        yield "kombu+memory://"
        _reset_kombu_memory()
