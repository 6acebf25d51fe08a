"""Test fixtures (the ``fixtures`` library), usable from pytest and testtools.

``ConfFixture`` is oslo.messaging's: it registers our options on the
caller's ConfigOpts and overrides ``transport_url`` and
``rpc_response_timeout`` for the duration of a test. ``MemoryBrokerFixture``
gives a test its own in-memory broker, so tests never see each other's
messages even when they run in one process.
"""

from __future__ import annotations

import uuid
from typing import Any

import fixtures
from oslo_config import cfg

from msgframework import opts as _opts
from msgframework.drivers.memory.broker import Broker, DeadLetter, get_broker, reset_broker

__all__ = ["ConfFixture", "MemoryBrokerFixture"]


class ConfFixture(fixtures.Fixture):
    """Registers our options on ``conf`` and overrides some for one test.

    :param conf: the ConfigOpts under test (never the global one implicitly).
    :param transport_url: when given, ``[DEFAULT] transport_url`` is set to
        it for the test (e.g. ``MemoryBrokerFixture().url``).

    Every override made through this fixture (the constructor argument and
    the property setters) is cleared at cleanup, leaving ``conf`` as it was.
    """

    def __init__(self, conf: cfg.ConfigOpts, transport_url: str | None = None) -> None:
        super().__init__()
        self.conf = conf
        # Registered at once, as oslo's fixture does, so the properties work
        # before the fixture is set up.
        _opts.register_opts(conf)
        self._initial_url = transport_url
        self._overridden: set[tuple[str, str | None]] = set()

    def _setUp(self) -> None:  # noqa: N802 - the fixtures library names it so
        self.addCleanup(self._clear_overrides)
        if self._initial_url is not None:
            self.transport_url = self._initial_url

    def set_override(self, name: str, value: Any, group: str | None = None) -> None:
        """Override any option for the test; cleared at cleanup."""
        self.conf.set_override(name, value, group=group)
        self._overridden.add((name, group))

    def _clear_overrides(self) -> None:
        for name, group in sorted(self._overridden, key=lambda k: (k[1] or "", k[0])):
            self.conf.clear_override(name, group=group)
        self._overridden.clear()

    @property
    def transport_url(self) -> str | None:
        return self.conf.transport_url

    @transport_url.setter
    def transport_url(self, value: str | None) -> None:
        self.set_override("transport_url", value)

    @property
    def response_timeout(self) -> int:
        return self.conf.rpc_response_timeout

    @response_timeout.setter
    def response_timeout(self, value: int) -> None:
        self.set_override("rpc_response_timeout", value)


class MemoryBrokerFixture(fixtures.Fixture):
    """An in-memory broker of its own for one test, forgotten at cleanup.

    :param name: the broker's name; a unique one by default.

    Attributes once set up: ``name``, ``url`` (``memory://<name>``, add a
    query with :meth:`url_with`) and ``broker`` (the
    :class:`~msgframework.drivers.memory.broker.Broker`).
    """

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or f"test-{uuid.uuid4().hex}"
        self.url = f"memory://{self.name}"
        self._broker: Broker | None = None

    def _setUp(self) -> None:  # noqa: N802 - the fixtures library names it so
        reset_broker(self.name)
        self._broker = get_broker(self.name)
        self.addCleanup(reset_broker, self.name)

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            raise RuntimeError("MemoryBrokerFixture is not set up (use useFixture)")
        return self._broker

    def url_with(self, **query: Any) -> str:
        """The URL with driver options in its query, e.g. ``url_with(max_deliveries=2)``."""
        if not query:
            return self.url
        return self.url + "?" + "&".join(f"{k}={v}" for k, v in query.items())

    def wait_until_idle(self, timeout: float) -> None:
        """Every queue drained and every delivery settled, or AssertionError."""
        if not self.broker.wait_until_idle(timeout):
            raise AssertionError(
                f"memory broker {self.name!r} not idle after {timeout}s: "
                f"{self.broker.stats()}")

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return list(self.broker.dead_letters)
