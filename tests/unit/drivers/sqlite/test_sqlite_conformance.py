"""The driver conformance checks, run on the SQLite driver with a temp file."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from msgframework.testing.conformance import DriverConformance
from msgframework.transport import Transport


class TestSQLiteConformance(DriverConformance):
    @pytest.fixture
    def transport_url(self, tmp_path: Path) -> str:
        return f"sqlite://{tmp_path}/conformance.db"

    def dead_letters(self, transport: Transport) -> list[tuple[Any, str]] | None:
        with sqlite3.connect(transport.driver.path) as conn:  # type: ignore[attr-defined]
            return conn.execute("SELECT body, reason FROM dead_letters ORDER BY id").fetchall()

    def publish_raw(self, transport: Transport, exchange: str, queue: str, body: str) -> bool:
        """A row as a buggy foreign writer would leave it, on the RPC topic queue."""
        driver = transport.driver
        name = f"{exchange}/{queue}"
        with sqlite3.connect(driver.path) as conn:  # type: ignore[attr-defined]
            conn.execute("INSERT INTO messages (queue, body, created_at) VALUES (?, ?, ?)",
                         (name, body, time.time()))
        driver.wake_queues([name])  # type: ignore[attr-defined]
        return True
