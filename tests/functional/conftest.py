"""Functional tests on a real RabbitMQ (``MSGFRAMEWORK_TEST_RABBIT_URL``).

Skipped when no broker answers, unless ``CI`` is set: then they fail, so a
CI job cannot pass by silently testing nothing. The same goes for every
other missing tool (``rabbitmqctl``, ``rabbitmq-server``, ``openssl``,
oslo.messaging): use :func:`skip_or_fail`, never a bare ``pytest.skip``. Every test uses unique
exchange and topic names and deletes what it declared, since the broker is
shared with later runs.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import NoReturn

import kombu
import pytest
from oslo_config import cfg

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.opts import register_opts
from msgframework.transport_url import TransportURL
from tests.functional.relay import Relay
from tests.functional.vhosts import rabbitmqctl_available

RABBIT_URL = os.environ.get("MSGFRAMEWORK_TEST_RABBIT_URL",
                            "rabbit://guest:guest@127.0.0.1:5672/")
_parsed = TransportURL.parse(None, RABBIT_URL)
_host = _parsed.hosts[0]
BROKER_HOST = _host.hostname or "127.0.0.1"
BROKER_PORT = _host.port or 5672
_vhost = _parsed.virtual_host or "/"
KOMBU_URL = (f"amqp://{_host.username or 'guest'}:{_host.password or 'guest'}@"
             f"{BROKER_HOST}:{BROKER_PORT}/{'' if _vhost == '/' else _vhost}")
#: Query parameters that make reconnection fast enough for tests.
FAST_RECONNECT = ("rabbit_retry_interval=0.1&rabbit_retry_backoff=0.1&rabbit_interval_max=0.5"
                  "&kombu_reconnect_delay=0&connect_timeout=2")


def skip_or_fail(reason: str, allow_module_level: bool = False) -> NoReturn:
    """Skip the test for ``reason``; under ``CI`` fail instead (CI must not skip)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this must not be skipped)", pytrace=False)
    pytest.skip(reason, allow_module_level=allow_module_level)


def _broker_reachable() -> str | None:
    try:
        with kombu.Connection(KOMBU_URL, connect_timeout=3) as conn:
            conn.connect()
    except Exception as exc:
        return str(exc)
    return None


def _reply_queues() -> set[str] | None:
    """Names of the unconsumed ``reply_*`` queues in the test vhost; None without rabbitmqctl."""
    if rabbitmqctl_available() is not None:
        return None
    out = subprocess.run(["rabbitmqctl", "-q", "list_queues", "-p", _vhost, "name", "consumers"],
                         capture_output=True, text=True, timeout=60).stdout
    rows = (line.split("\t") for line in out.splitlines())
    return {row[0] for row in rows if len(row) == 2 and row[0].startswith("reply_")
            and row[1] == "0"}


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """The broker's kombu URL. At the end, the reply queues the tests left are deleted.

    A driver deletes its reply queue when it is cleaned up, unless the test
    cut its connection first (relay, node restarts); those would otherwise
    linger until their ``x-expires`` (30 minutes).
    """
    problem = _broker_reachable()
    if problem is not None:
        skip_or_fail(f"no RabbitMQ at {_parsed.redacted()}: {problem}")
    before = _reply_queues()
    yield KOMBU_URL
    after = _reply_queues()
    if before is None or after is None:
        return
    with kombu.Connection(KOMBU_URL, connect_timeout=5) as conn:
        for name in sorted(after - before):
            channel = conn.channel()
            try:
                channel.queue_delete(queue=name, if_unused=True)
                channel.close()
            except Exception:  # consumed again meanwhile, or gone: not ours to delete
                pass


class Cleanup:
    """Names a test declared on the broker (or another one), deleted at teardown."""

    def __init__(self, kombu_url: str = KOMBU_URL) -> None:
        self.kombu_url = kombu_url
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()

    def rpc(self, exchange: str, topic: str, *servers: str) -> None:
        self.exchanges.update({exchange, f"{topic}_fanout"})
        self.queues.add(topic)
        self.queues.update(f"{topic}.{server}" for server in servers)

    def dead_letters(self, exchange: str) -> None:
        self.exchanges.add(f"{exchange}.dlx")
        self.queues.add(f"{exchange}.dlq")

    def run(self) -> None:
        with kombu.Connection(self.kombu_url) as conn:
            for name in sorted(self.queues):
                channel = conn.channel()
                channel.queue_delete(queue=name)
                channel.close()
            for name in sorted(self.exchanges):
                channel = conn.channel()
                channel.exchange_delete(exchange=name)
                channel.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    token = uuid.uuid4().hex[:10]
    return lambda name: f"msgf_test_{name}_{token}"


@pytest.fixture
def cleanup(broker: str) -> Iterator[Cleanup]:
    names = Cleanup()
    yield names
    names.run()


@pytest.fixture
def exchange(unique: Callable[[str], str], cleanup: Cleanup) -> str:
    name = unique("exchange")
    cleanup.exchanges.add(name)
    cleanup.dead_letters(name)
    return name


def make_conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf([], project="msgframework-test")
    return conf


@pytest.fixture
def driver_factory(broker: str, exchange: str) -> Iterator[Callable[..., RabbitDriver]]:
    drivers: list[RabbitDriver] = []

    def make(url: str = RABBIT_URL, conf: cfg.ConfigOpts | None = None) -> RabbitDriver:
        conf = conf or make_conf()
        driver = RabbitDriver(conf, TransportURL.parse(conf, url), exchange)
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.cleanup()


@pytest.fixture
def driver(driver_factory: Callable[..., RabbitDriver]) -> RabbitDriver:
    return driver_factory()


@pytest.fixture
def relay(broker: str) -> Iterator[Relay]:
    proxy = Relay(BROKER_HOST, BROKER_PORT)
    yield proxy
    proxy.close()


def relay_url(relay: Relay, extra: str = "") -> str:
    """The test broker's URL, through the relay, with fast reconnection."""
    creds = f"{_host.username or 'guest'}:{_host.password or 'guest'}"
    query = FAST_RECONNECT + (f"&{extra}" if extra else "")
    vhost = "" if _vhost == "/" else _vhost
    return f"rabbit://{creds}@127.0.0.1:{relay.port}/{vhost}?{query}"
