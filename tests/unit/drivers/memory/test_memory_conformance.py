"""The driver conformance checks, run on the in-memory driver."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from msgframework.drivers.memory.driver import MemoryDriver
from msgframework.testing.conformance import DriverConformance
from msgframework.transport import Transport


class TestMemoryConformance(DriverConformance):
    @pytest.fixture
    def transport_url(self) -> str:
        return f"memory://{uuid.uuid4().hex}"

    def dead_letters(self, transport: Transport) -> list[tuple[Any, str]]:
        driver = transport.driver
        assert isinstance(driver, MemoryDriver)
        return [(letter.body, letter.reason) for letter in driver.broker.dead_letters]

    def publish_raw(self, transport: Transport, exchange: str, queue: str, body: str) -> bool:
        driver = transport.driver
        assert isinstance(driver, MemoryDriver)
        driver.broker.publish(exchange, queue, body, declare=queue)
        return True
