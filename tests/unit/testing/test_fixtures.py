"""ConfFixture, MemoryBrokerFixture and the pytest plugin fixtures."""

from __future__ import annotations

import unittest
from typing import Any

import fixtures
import pytest
from oslo_config import cfg

from msgframework.drivers.memory.broker import broker_names
from msgframework.target import Target
from msgframework.testing import ConfFixture, MemoryBrokerFixture
from msgframework.transport import get_rpc_transport


def test_conf_fixture_registers_options_and_overrides_for_the_test() -> None:
    conf = cfg.ConfigOpts()
    fixture = ConfFixture(conf, transport_url="memory://abc")
    assert conf.rpc_response_timeout == 60  # registered at construction
    with fixture:
        assert fixture.transport_url == "memory://abc"
        assert conf.transport_url == "memory://abc"
        fixture.response_timeout = 3
        assert conf.rpc_response_timeout == 3
        fixture.set_override("topics", ["x"], group="msgframework_notifications")
        assert conf.msgframework_notifications.topics == ["x"]
    assert conf.transport_url is None
    assert conf.rpc_response_timeout == 60
    assert conf.msgframework_notifications.topics == ["notifications"]


def test_conf_fixture_leaves_options_set_elsewhere_alone() -> None:
    conf = cfg.ConfigOpts()
    ConfFixture(conf)  # registers
    conf.set_override("control_exchange", "nova")
    with ConfFixture(conf) as fixture:
        assert fixture.transport_url is None
        fixture.transport_url = "memory://x"
    assert conf.control_exchange == "nova"


def test_memory_broker_fixture_isolates_and_forgets() -> None:
    with MemoryBrokerFixture() as a, MemoryBrokerFixture() as b:
        assert a.name != b.name
        assert a.url == f"memory://{a.name}"
        assert a.url_with(max_deliveries=2) == f"memory://{a.name}?max_deliveries=2"
        transport = get_rpc_transport(cfg.ConfigOpts(), a.url)
        transport._send(Target(topic="t"), {}, {"method": "m", "args": {}})
        assert a.broker.depth("openstack", "t") == 1
        assert b.broker.depth("openstack", "t") == 0
        with pytest.raises(AssertionError, match="not idle"):
            a.wait_until_idle(0.01)
        b.wait_until_idle(0.01)
        transport.cleanup()
        name = a.name
    assert name not in broker_names()


def test_memory_broker_fixture_needs_set_up() -> None:
    with pytest.raises(RuntimeError, match="not set up"):
        _ = MemoryBrokerFixture().broker


class UnittestUse(fixtures.TestWithFixtures):
    def test_use_fixture(self) -> None:
        broker = self.useFixture(MemoryBrokerFixture())
        conf = cfg.ConfigOpts()
        self.useFixture(ConfFixture(conf, transport_url=broker.url))
        self.assertEqual(broker.url, conf.transport_url)


def test_fixtures_work_with_use_fixture() -> None:
    result = unittest.TestResult()
    UnittestUse("test_use_fixture").run(result)
    assert result.wasSuccessful(), result.errors + result.failures


def test_plugin_fixtures(conf: cfg.ConfigOpts, conf_fixture: ConfFixture, memory_url: str,
                         memory_broker: Any, rpc_transport: Any,
                         notification_transport: Any) -> None:
    assert isinstance(conf_fixture, fixtures.Fixture)
    conf_fixture.transport_url = memory_url
    assert conf.transport_url == memory_url
    assert memory_url == f"memory://{memory_broker.name}"
    assert rpc_transport.driver.broker is memory_broker
    assert notification_transport.driver.broker is memory_broker
