"""Fixtures for the RabbitMQ driver's unit tests: the driver on kombu's memory transport."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from oslo_config import cfg

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.opts import register_opts
from msgframework.transport_url import TransportURL


def make_conf(args: list[str] | None = None) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf(args or [], project="msgframework-test")
    return conf


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Unique names: kombu's memory transport keeps its queues process-wide."""
    token = uuid.uuid4().hex[:10]
    return lambda name: f"{name}_{token}"


@pytest.fixture
def driver_factory(unique: Callable[[str], str]) -> Iterator[Callable[..., RabbitDriver]]:
    drivers: list[RabbitDriver] = []

    def make(url: str = "kombu+memory://", conf: cfg.ConfigOpts | None = None) -> RabbitDriver:
        conf = conf or make_conf()
        driver = RabbitDriver(conf, TransportURL.parse(conf, url), unique("exchange"))
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.cleanup()


@pytest.fixture
def driver(driver_factory: Callable[..., RabbitDriver]) -> RabbitDriver:
    return driver_factory()
