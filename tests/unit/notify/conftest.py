"""Fixtures for the notification tests.

Tests that take a transport run on the in-process memory driver
(``memory://<unique vhost>``) and on an SQLite file under the test's
tmp_path: both are real drivers with requeue, pools and dead letters, the
guarantees of the listener must hold on each, and neither needs the network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.notify.drivers import test as test_driver
from msgframework.transport import get_notification_transport

WAIT = 10.0  # upper bound of every wait; tests normally finish in milliseconds


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    return cfg.ConfigOpts()


@pytest.fixture
def transport_url(local_transport_url: str) -> str:
    return local_transport_url


@pytest.fixture
def transport(conf: cfg.ConfigOpts, transport_url: str) -> Iterator[Any]:
    t = get_notification_transport(conf, transport_url)
    yield t
    t.cleanup()


@pytest.fixture(autouse=True)
def _reset_test_driver() -> Iterator[None]:
    test_driver.reset()
    yield
    test_driver.reset()


class Recorder:
    """Thread-safe list with a wait for a condition on it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = WAIT) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.items), timeout)

    def wait_len(self, n: int, timeout: float = WAIT) -> list[Any]:
        assert self.wait_for(lambda items: len(items) >= n, timeout), \
            f"expected {n} items, got {len(self.items)}: {self.items!r}"
        return list(self.items)


class DeadLetters(logging.Handler):
    """Collects the base IncomingMessage's "Dead-lettering message" records.

    Every driver's dead_letter() goes through IncomingMessage.dead_letter,
    which logs the message id and reason, so this works on any driver.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reasons = Recorder()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Dead-lettering message"):
            self.reasons.add(record.getMessage())


@pytest.fixture
def dead_letters() -> Iterator[DeadLetters]:
    handler = DeadLetters()
    logger = logging.getLogger("msgframework.drivers.base")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """Servers appended here are stopped and waited for after the test."""
    started: list[Any] = []
    yield started
    for server in started:
        if not server.running:  # the test stopped and waited for it already
            continue
        server.stop(timeout=WAIT)
        server.wait(timeout=WAIT)
