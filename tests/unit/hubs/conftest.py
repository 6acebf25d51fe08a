"""Transports for the hub tests: the memory driver and an SQLite file, both real drivers."""

from __future__ import annotations

from typing import Any

import pytest

WAIT = 10.0  # the bound of every wait; the tests normally finish in milliseconds


@pytest.fixture
def transport(local_transport: Any) -> Any:
    return local_transport
