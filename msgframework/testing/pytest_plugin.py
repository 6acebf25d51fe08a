"""pytest fixtures for code using msgframework.

Enable with ``pytest_plugins = ["msgframework.testing.pytest_plugin"]`` in a
``conftest.py``. Each test gets its own ConfigOpts and its own in-memory
broker, so tests are isolated even in one process.

=========================  ===============================================
Fixture                    Value
=========================  ===============================================
``conf``                   a fresh ``ConfigOpts`` with our options registered
``conf_fixture``           a :class:`ConfFixture` on ``conf``
``memory_broker_fixture``  the test's :class:`MemoryBrokerFixture`
``memory_broker``          its :class:`Broker` (dead letters, stats, idle wait)
``memory_url``             ``memory://<unique name>``
``rpc_transport``          an RPC transport on ``memory_url``, cleaned up
``notification_transport`` a notification transport on ``memory_url``
=========================  ===============================================
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oslo_config import cfg

from msgframework import opts as _opts
from msgframework.drivers.memory.broker import Broker
from msgframework.testing.fixtures import ConfFixture, MemoryBrokerFixture
from msgframework.transport import Transport, get_notification_transport, get_rpc_transport


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    _opts.register_opts(conf)
    return conf


@pytest.fixture
def conf_fixture(conf: cfg.ConfigOpts) -> Iterator[ConfFixture]:
    fixture = ConfFixture(conf)
    fixture.setUp()
    try:
        yield fixture
    finally:
        fixture.cleanUp()


@pytest.fixture
def memory_broker_fixture() -> Iterator[MemoryBrokerFixture]:
    fixture = MemoryBrokerFixture()
    fixture.setUp()
    try:
        yield fixture
    finally:
        fixture.cleanUp()


@pytest.fixture
def memory_broker(memory_broker_fixture: MemoryBrokerFixture) -> Broker:
    return memory_broker_fixture.broker


@pytest.fixture
def memory_url(memory_broker_fixture: MemoryBrokerFixture) -> str:
    return memory_broker_fixture.url


@pytest.fixture
def rpc_transport(conf: cfg.ConfigOpts, memory_url: str) -> Iterator[Transport]:
    transport = get_rpc_transport(conf, memory_url)
    yield transport
    transport.cleanup()


@pytest.fixture
def notification_transport(conf: cfg.ConfigOpts, memory_url: str) -> Iterator[Transport]:
    transport = get_notification_transport(conf, memory_url)
    yield transport
    transport.cleanup()
