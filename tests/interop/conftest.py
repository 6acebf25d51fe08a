"""Interop tests: the real oslo.messaging against msgframework on a real RabbitMQ.

Both libraries run in this process, each with its own ``ConfigOpts``, and
meet only on the broker, so every test proves the wire format and the
topology in one direction or the other.

* Skipped when oslo.messaging is not installed (each module calls
  ``pytest.importorskip``) or no broker answers at
  ``MSGFRAMEWORK_TEST_RABBIT_URL``; with ``CI`` set, an unreachable broker
  fails instead, so a CI job cannot pass by testing nothing.
* Every test works in its own exchange (``control_exchange`` on both sides)
  with its own topic names, and deletes the queues and exchanges it caused
  at teardown: the broker is shared with later runs. Queues with random
  names (oslo's reply and fanout queues) get a short ``x-expires`` so the
  broker drops them soon after the test; ours are deleted by our driver.
* oslo.messaging 18.3.1 reads ``[oslo_messaging_tracing]`` and
  ``[oslo_messaging_metrics]`` from the configuration it is given but
  registers them only on the global ``cfg.CONF``: :func:`oslo_conf`
  registers them on a private ``ConfigOpts`` so the global one is untouched.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import kombu
import pytest
from oslo_config import cfg

from msgframework.opts import register_opts
from msgframework.transport_url import TransportURL

RABBIT_URL = os.environ.get("MSGFRAMEWORK_TEST_RABBIT_URL",
                            "rabbit://guest:guest@127.0.0.1:5672/")
_parsed = TransportURL.parse(None, RABBIT_URL)
_host = _parsed.hosts[0]
_vhost = _parsed.virtual_host or "/"
KOMBU_URL = (f"amqp://{_host.username or 'guest'}:{_host.password or 'guest'}@"
             f"{_host.hostname or '127.0.0.1'}:{_host.port or 5672}/"
             f"{'' if _vhost == '/' else _vhost}")

#: Seconds an unused oslo reply or fanout queue survives (x-expires), so the
#: ones we cannot name are gone from the shared broker shortly after a test.
OSLO_TRANSIENT_TTL = 3

#: Seconds a server may take to stop at teardown.
STOP_TIMEOUT = 30.0

PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")


def _broker_problem() -> str | None:
    try:
        with kombu.Connection(KOMBU_URL, connect_timeout=3) as conn:
            conn.connect()
    except Exception as exc:  # any failure means "no usable broker"
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def broker() -> str:
    """The broker's kombu URL; skips (or fails under CI) when it does not answer."""
    problem = _broker_problem()
    if problem is not None:
        message = f"no RabbitMQ at {_parsed.redacted()}: {problem}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return KOMBU_URL


class Names:
    """Unique names for one test, and the broker entities to delete afterwards."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:10]
        self.queues: set[str] = set()
        self.exchanges: set[str] = set()
        self.exchange = self.make("exchange")
        # our driver declares its dead-letter pair lazily, under the exchange's name
        self.exchanges.update({self.exchange, f"{self.exchange}.dlx"})
        self.queues.add(f"{self.exchange}.dlq")

    def make(self, what: str) -> str:
        return f"msgf_interop_{what}_{self.token}"

    def notification_topic(self, what: str = "notif", pools: tuple[str, ...] = ()) -> str:
        """A topic whose ``<topic>.<priority>`` queues (and the pools') are cleaned up."""
        topic = self.make(what)
        self.queues.update(f"{topic}.{priority}" for priority in PRIORITIES)
        self.queues.update(pools)
        return topic

    def pool(self, what: str) -> str:
        name = self.make(what)
        self.queues.add(name)
        return name

    def rpc_topic(self, what: str = "topic", servers: tuple[str, ...] = ()) -> str:
        """An RPC topic whose topic, server queues and fanout exchange are cleaned up."""
        topic = self.make(what)
        self.queues.add(topic)
        self.queues.update(f"{topic}.{server}" for server in servers)
        self.exchanges.add(f"{topic}_fanout")
        return topic

    def delete(self) -> None:
        """Delete every queue and exchange named (a missing one is fine)."""
        with kombu.Connection(KOMBU_URL, connect_timeout=5) as conn:
            for kind, names in (("queue", self.queues), ("exchange", self.exchanges)):
                for name in sorted(names):
                    channel = conn.channel()
                    try:
                        if kind == "queue":
                            channel.queue_delete(queue=name)
                        else:
                            channel.exchange_delete(exchange=name)
                    finally:
                        try:
                            channel.close()
                        except Exception:  # a 404 already closed it
                            pass


@pytest.fixture
def names(broker: str) -> Iterator[Names]:
    registry = Names()
    yield registry
    registry.delete()


# -- configurations --------------------------------------------------------------

def oslo_conf(exchange: str | None = None, config_files: list[str] | None = None
              ) -> cfg.ConfigOpts:
    """A private ConfigOpts with every option oslo.messaging 18.3.1 reads registered."""
    from oslo_messaging import opts as oslo_opts
    from oslo_messaging._metrics import client as oslo_metrics
    from oslo_messaging._tracing import client as oslo_tracing

    conf = cfg.ConfigOpts()
    for group, opts in oslo_opts.list_opts():
        conf.register_opts(opts, group=group)
    conf.register_opts(oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.register_opts(oslo_metrics.oslo_messaging_metrics, group="oslo_messaging_metrics")
    args = [arg for path in config_files or [] for arg in ("--config-file", path)]
    conf(args=args, project="oslo-interop", default_config_files=[],
         default_config_dirs=[])
    if exchange is not None:
        conf.set_override("control_exchange", exchange)
    conf.set_override("rabbit_transient_queues_ttl", OSLO_TRANSIENT_TTL,
                      group="oslo_messaging_rabbit")
    return conf


def our_conf(exchange: str | None = None, config_files: list[str] | None = None
             ) -> cfg.ConfigOpts:
    """A private ConfigOpts with msgframework's core options."""
    conf = cfg.ConfigOpts()
    register_opts(conf)
    args = [arg for path in config_files or [] for arg in ("--config-file", path)]
    conf(args=args, project="msgframework-interop", default_config_files=[],
         default_config_dirs=[])
    if exchange is not None:
        conf.set_override("control_exchange", exchange)
    return conf


# -- the two sides -----------------------------------------------------------------

class _Side:
    """Builds transports and servers of one library; stops and cleans them up."""

    name = ""

    def __init__(self, names: Names) -> None:
        self.names = names
        self._servers: list[Any] = []
        self._transports: list[Any] = []
        self._shared: dict[str, Any] = {}

    def __repr__(self) -> str:
        return self.name

    def rpc_transport(self, allowed_remote_exmods: list[str] | None = None) -> Any:
        raise NotImplementedError

    def notification_transport(self, conf: cfg.ConfigOpts | None = None,
                               url: str | None = RABBIT_URL) -> Any:
        raise NotImplementedError

    def _rpc_transport(self) -> Any:
        """The side's shared RPC transport (no remote exception modules allowed)."""
        if "rpc" not in self._shared:
            self._shared["rpc"] = self.rpc_transport()
        return self._shared["rpc"]

    def _notif_transport(self) -> Any:
        if "notif" not in self._shared:
            self._shared["notif"] = self.notification_transport()
        return self._shared["notif"]

    def _track_server(self, server: Any) -> Any:
        self._servers.append(server)
        return server

    def start(self, server: Any) -> Any:
        server.start()
        return self._track_server(server)

    def close(self) -> None:
        errors: list[BaseException] = []
        # In parallel: oslo's servers each take about a second to stop.
        threads = [threading.Thread(target=self._stop_server, args=(server, errors),
                                    daemon=True) for server in self._servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                errors.append(AssertionError(f"a server did not stop in {STOP_TIMEOUT}s"))
        for transport in reversed(self._transports):
            try:
                self._cleanup_transport(transport)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    @staticmethod
    def _stop_server(server: Any, errors: list[BaseException]) -> None:
        try:
            server.stop()
            server.wait()
        except Exception as exc:
            errors.append(exc)

    def _cleanup_transport(self, transport: Any) -> None:
        transport.cleanup()


class OsloSide(_Side):
    """The real oslo.messaging, configured through its own private ConfigOpts."""

    name = "oslo"

    def __init__(self, names: Names) -> None:
        super().__init__(names)
        import oslo_messaging

        self.om = oslo_messaging
        self.conf = oslo_conf(names.exchange)

    def rpc_transport(self, allowed_remote_exmods: list[str] | None = None) -> Any:
        transport = self.om.get_rpc_transport(self.conf, url=RABBIT_URL,
                                              allowed_remote_exmods=allowed_remote_exmods)
        self._transports.append(transport)
        return transport

    def notification_transport(self, conf: cfg.ConfigOpts | None = None,
                               url: str | None = RABBIT_URL) -> Any:
        transport = self.om.get_notification_transport(conf or self.conf, url=url)
        self._transports.append(transport)
        return transport

    # -- notifications ------------------------------------------------------------
    def notifier(self, topic: str, publisher_id: str) -> Any:
        return self.om.Notifier(self._notif_transport(), publisher_id=publisher_id,
                                driver="messagingv2", topics=[topic])

    def listener(self, topic: str, endpoints: Sequence[Any], pool: str | None = None,
                 batch_size: int | None = None, batch_timeout: float | None = None) -> Any:
        targets = [self.om.Target(topic=topic)]
        if batch_size is None:
            server = self.om.get_notification_listener(self._notif_transport(), targets,
                                                       endpoints, pool=pool)
        else:
            server = self.om.get_batch_notification_listener(
                self._notif_transport(), targets, endpoints, pool=pool,
                batch_size=batch_size, batch_timeout=batch_timeout)
        return self.start(server)

    # -- RPC ------------------------------------------------------------------------
    def rpc_server(self, topic: str, server: str, endpoints: Sequence[Any]) -> Any:
        target = self.om.Target(topic=topic, server=server)
        return self.start(self.om.get_rpc_server(self._rpc_transport(), target, endpoints))

    def rpc_client(self, topic: str, allowed_remote_exmods: list[str] | None = None,
                   **kwargs: Any) -> Any:
        transport = (self._rpc_transport() if allowed_remote_exmods is None
                     else self.rpc_transport(allowed_remote_exmods))
        return self.om.get_rpc_client(transport, self.om.Target(topic=topic), **kwargs)

    @property
    def RemoteError(self) -> type[Exception]:  # noqa: N802 - a class, as oslo names it
        return self.om.RemoteError

    @property
    def Target(self) -> type:  # noqa: N802
        return self.om.Target

    @property
    def expected_exceptions(self) -> Any:
        return self.om.expected_exceptions

    @property
    def MessagingTimeout(self) -> type[Exception]:  # noqa: N802
        return self.om.MessagingTimeout

    def _cleanup_transport(self, transport: Any) -> None:
        # oslo never deletes its reply queue (x-expires does, later): we can name it.
        reply_q = getattr(transport._driver, "_reply_q", None)
        transport.cleanup()
        if reply_q:
            self.names.queues.add(reply_q)


class OurSide(_Side):
    """msgframework, configured through its own private ConfigOpts."""

    name = "ours"

    def __init__(self, names: Names) -> None:
        super().__init__(names)
        self.conf = our_conf(names.exchange)

    def rpc_transport(self, allowed_remote_exmods: list[str] | None = None) -> Any:
        from msgframework.transport import get_rpc_transport

        transport = get_rpc_transport(self.conf, RABBIT_URL,
                                      allowed_remote_exmods=allowed_remote_exmods)
        self._transports.append(transport)
        return transport

    def notification_transport(self, conf: cfg.ConfigOpts | None = None,
                               url: str | None = RABBIT_URL) -> Any:
        from msgframework.transport import get_notification_transport

        transport = get_notification_transport(conf or self.conf, url)
        self._transports.append(transport)
        return transport

    # -- notifications ------------------------------------------------------------
    def notifier(self, topic: str, publisher_id: str) -> Any:
        from msgframework.notify.notifier import Notifier

        return Notifier(self._notif_transport(), publisher_id=publisher_id,
                        driver="messagingv2", topics=[topic], raise_on_send_failure=True)

    def listener(self, topic: str, endpoints: Sequence[Any], pool: str | None = None,
                 batch_size: int | None = None, batch_timeout: float | None = None) -> Any:
        from msgframework.notify import listener as notify_listener
        from msgframework.target import Target

        targets = [Target(topic=topic)]
        if batch_size is None:
            server = notify_listener.get_notification_listener(
                self._notif_transport(), targets, endpoints, pool=pool)
        else:
            server = notify_listener.get_batch_notification_listener(
                self._notif_transport(), targets, endpoints, pool=pool,
                batch_size=batch_size, batch_timeout=batch_timeout)
        return self.start(server)

    # -- RPC ------------------------------------------------------------------------
    def rpc_server(self, topic: str, server: str, endpoints: Sequence[Any]) -> Any:
        from msgframework.rpc.server import get_rpc_server
        from msgframework.target import Target

        target = Target(topic=topic, server=server)
        return self.start(get_rpc_server(self._rpc_transport(), target, endpoints))

    def rpc_client(self, topic: str, allowed_remote_exmods: list[str] | None = None,
                   **kwargs: Any) -> Any:
        from msgframework.rpc.client import get_rpc_client
        from msgframework.target import Target

        transport = (self._rpc_transport() if allowed_remote_exmods is None
                     else self.rpc_transport(allowed_remote_exmods))
        return get_rpc_client(transport, Target(topic=topic), **kwargs)

    @property
    def RemoteError(self) -> type[Exception]:  # noqa: N802 - a class, as oslo names it
        from msgframework.exceptions import RemoteError

        return RemoteError

    @property
    def Target(self) -> type:  # noqa: N802
        from msgframework.target import Target

        return Target

    @property
    def expected_exceptions(self) -> Any:
        from msgframework.rpc.decorators import expected_exceptions

        return expected_exceptions

    @property
    def MessagingTimeout(self) -> type[Exception]:  # noqa: N802
        from msgframework.exceptions import MessagingTimeout

        return MessagingTimeout


@pytest.fixture
def oslo(names: Names) -> Iterator[OsloSide]:
    pytest.importorskip("oslo_messaging")
    side = OsloSide(names)
    yield side
    side.close()


@pytest.fixture
def ours(names: Names) -> Iterator[OurSide]:
    side = OurSide(names)
    yield side
    side.close()



@pytest.fixture(params=[("oslo", "ours"), ("ours", "oslo")],
                ids=["oslo-to-ours", "ours-to-oslo"])
def direction(request: pytest.FixtureRequest, oslo: OsloSide,
              ours: OurSide) -> tuple[_Side, _Side]:
    """(sending side, receiving side): the test runs once each way."""
    sides: dict[str, _Side] = {"oslo": oslo, "ours": ours}
    sender, receiver = request.param
    return sides[sender], sides[receiver]
