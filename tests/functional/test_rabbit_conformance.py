"""The driver and RPC conformance checks on a real RabbitMQ, one fresh vhost per test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from msgframework.testing.conformance import DriverConformance
from msgframework.testing.rpc_conformance import RPCConformance
from msgframework.transport import Transport
from tests.functional.conftest import (
    BROKER_HOST,
    BROKER_PORT,
    FAST_RECONNECT,
    _host,
    skip_or_fail,
)
from tests.functional.vhosts import VhostPool, rabbitmqctl_available
from tests.unit.drivers.rabbit.helpers import publish_raw
from tests.unit.drivers.rabbit.test_rabbit_conformance import dead_letters_on

_USER = _host.username or "guest"
_PASSWORD = _host.password or "guest"


@pytest.fixture(scope="module")
def vhost_pool(broker: str) -> Iterator[VhostPool]:
    problem = rabbitmqctl_available()
    if problem is not None:
        skip_or_fail(f"conformance on RabbitMQ needs throw-away vhosts: {problem}")
    pool = VhostPool(_USER)
    yield pool
    pool.close()


class TestRabbitConformance(DriverConformance):
    @pytest.fixture
    def vhost(self, vhost_pool: VhostPool) -> Iterator[str]:
        name = vhost_pool.get()
        yield name
        vhost_pool.release(name)

    @pytest.fixture
    def transport_url(self, vhost: str) -> str:
        return (f"rabbit://{_USER}:{_PASSWORD}@{BROKER_HOST}:{BROKER_PORT}/{vhost}"
                f"?{FAST_RECONNECT}")

    def _kombu_url(self, transport: Transport) -> str:
        vhost = transport.driver._url.virtual_host
        return f"amqp://{_USER}:{_PASSWORD}@{BROKER_HOST}:{BROKER_PORT}/{vhost}"

    def dead_letters(self, transport: Transport) -> list[tuple[Any, str]] | None:
        return dead_letters_on(self._kombu_url(transport), transport)

    def publish_raw(self, transport: Transport, exchange: str, queue: str, body: str) -> bool:
        publish_raw(self._kombu_url(transport), exchange, queue, body)
        return True


class TestRabbitRPCConformance(RPCConformance):
    @pytest.fixture
    def transport_url(self, vhost_pool: VhostPool) -> Iterator[str]:
        name = vhost_pool.get()
        yield (f"rabbit://{_USER}:{_PASSWORD}@{BROKER_HOST}:{BROKER_PORT}/{name}"
               f"?{FAST_RECONNECT}")
        vhost_pool.release(name)
