"""The driver conformance checks on the RabbitMQ driver over kombu's memory transport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kombu
import pytest
from kombu.transport import memory

from msgframework.testing.conformance import DriverConformance
from msgframework.transport import Transport
from tests.unit.drivers.rabbit.helpers import publish_raw


def reset_memory_broker() -> None:
    """kombu's memory transport keeps one process-wide broker: start each test empty."""
    memory.Channel.queues.clear()
    memory.Channel.events.clear()
    memory.Transport.global_state.clear()


def dead_letters_on(kombu_url: str, transport: Transport) -> list[tuple[Any, str]]:
    """Everything the driver dead-lettered so far: ``(body, reason)``.

    The letters are read, then requeued, so a later call sees them again, as
    the memory and SQLite hooks do.
    """
    from msgframework.drivers.rabbit.listener import DEAD_LETTER_REASON_HEADER

    queue = transport.driver.topology.dead_letter_queue(None).name
    read = []
    with kombu.Connection(kombu_url) as conn:
        channel = conn.channel()
        try:
            while (message := channel.basic_get(queue=queue, no_ack=False)) is not None:
                read.append(message)
            for message in read:
                message.requeue()
        except Exception:  # no dead-letter queue yet: nothing was dead-lettered
            pass
    return [(m.body, (m.headers or {}).get(DEAD_LETTER_REASON_HEADER, "")) for m in read]


class TestRabbitMemoryConformance(DriverConformance):
    @pytest.fixture
    def transport_url(self) -> Iterator[str]:
        reset_memory_broker()
        yield "kombu+memory://"
        reset_memory_broker()

    def dead_letters(self, transport: Transport) -> list[tuple[Any, str]] | None:
        return dead_letters_on("memory://", transport)

    def publish_raw(self, transport: Transport, exchange: str, queue: str, body: str) -> bool:
        publish_raw("memory://", exchange, queue, body)
        return True
