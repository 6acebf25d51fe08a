"""Fixtures for RPC tests: a recording driver for client-only tests, memory transports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oslo_config import cfg

from msgframework import opts
from msgframework.drivers.base import BaseDriver, Listener, TransportOptions
from msgframework.target import Target
from msgframework.transport import RPCTransport
from msgframework.transport_url import TransportURL


class RecordingDriver(BaseDriver):
    """Records what the client sends; answers calls with ``self.answer``."""

    def __init__(self, conf: Any, url: TransportURL) -> None:
        super().__init__(conf, url)
        self.sent: list[dict[str, Any]] = []
        self.answer: Any = None
        self.raises: BaseException | None = None

    def send(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
             wait_for_reply: bool = False, timeout: float | None = None,
             call_monitor_timeout: float | None = None, retry: int | None = None,
             transport_options: TransportOptions | None = None) -> Any:
        self.sent.append(dict(target=target, ctxt=ctxt, message=message,
                              wait_for_reply=wait_for_reply, timeout=timeout,
                              call_monitor_timeout=call_monitor_timeout, retry=retry,
                              transport_options=transport_options))
        if self.raises is not None:
            raise self.raises
        return self.answer if wait_for_reply else None

    def send_notification(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def listen(self, *args: Any, **kwargs: Any) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, *args: Any, **kwargs: Any) -> Listener:
        raise NotImplementedError


@pytest.fixture
def conf() -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf([], project="test-rpc")
    opts.register_opts(conf)
    return conf


@pytest.fixture
def recording(conf: cfg.ConfigOpts) -> Iterator[tuple[RPCTransport, RecordingDriver]]:
    url = TransportURL.parse(conf, "recording://")
    driver = RecordingDriver(conf, url)
    yield RPCTransport(driver, conf, url), driver


class Servers:
    """Builds transports on one private memory broker and RPC servers on them;
    stops everything at teardown, bounded in time."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        import uuid

        self.conf = conf
        self.url = f"memory://rpc-{uuid.uuid4().hex}"
        self._transports: list[Any] = []
        self._servers: list[Any] = []

    def transport(self, **kwargs: Any) -> Any:
        from msgframework.transport import get_rpc_transport

        transport = get_rpc_transport(self.conf, self.url, **kwargs)
        self._transports.append(transport)
        return transport

    def server(self, endpoints: list[Any], topic: str = "topic", server: str = "s1",
               transport: Any = None, start: bool = True, **kwargs: Any) -> Any:
        from msgframework.rpc.server import get_rpc_server

        transport = transport or self.transport()
        srv = get_rpc_server(transport, Target(topic=topic, server=server), endpoints,
                             **kwargs)
        self._servers.append(srv)
        if start:
            srv.start(timeout=10)
        return srv

    def broker(self) -> Any:
        from msgframework.drivers.memory import get_broker

        return get_broker(self.url[len("memory://"):])

    def close(self) -> None:
        for srv in self._servers:
            srv.stop(timeout=10)
        for srv in self._servers:
            srv.wait(timeout=10)
        for transport in self._transports:
            transport.cleanup()


@pytest.fixture
def servers(conf: cfg.ConfigOpts) -> Iterator[Servers]:
    env = Servers(conf)
    try:
        yield env
    finally:
        env.close()
