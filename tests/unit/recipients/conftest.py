"""Transports for the recipient-handler tests: the memory driver and an SQLite file."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def transport(local_transport: Any) -> Any:
    return local_transport
