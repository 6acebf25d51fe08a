"""A second RabbitMQ node on this machine: TLS, failover between two real brokers, a restart.

The node (see :mod:`tests.functional.nodes`) is started once for the module
with a plain and a TLS listener (mutual TLS: the broker demands a client
certificate signed by the test CA). Without ``rabbitmq-server`` on PATH,
or when the node cannot start, the module is skipped (the TLS tests are,
without ``openssl``), unless ``CI`` is set: then each of these is a
failure. A test that stops the node leaves it stopped; the ``node``
fixture brings it back for the next test.
"""

from __future__ import annotations

import collections
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import kombu
import pytest

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.exceptions import (
    BrokerUnavailable,
    EarlierSendFailed,
    MessageDeliveryFailure,
)
from msgframework.target import Target
from tests.functional.conftest import (
    BROKER_HOST,
    BROKER_PORT,
    FAST_RECONNECT,
    KOMBU_URL,
    Cleanup,
    _vhost,
    skip_or_fail,
)
from tests.functional.nodes import NodeError, RabbitNode, make_certificates, rabbit_server_available
from tests.unit.drivers.rabbit.helpers import EchoServer
from tests.unit.drivers.rabbit.test_rabbit_memory import notification


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def second_node(broker: str) -> Iterator[RabbitNode]:
    problem = rabbit_server_available()
    if problem is not None:
        skip_or_fail(f"no second RabbitMQ node: {problem}")
    if _vhost != "/":
        skip_or_fail("the second node only has the '/' virtual host")
    base = Path(tempfile.mkdtemp(prefix="msgf-node-"))
    certs = make_certificates(base / "certs") if shutil.which("openssl") else None
    node = RabbitNode(_free_port(), _free_port(), _free_port() if certs else None, certs,
                      base=base)
    try:
        node.start(timeout=60)
    except NodeError as exc:
        node.close()
        skip_or_fail(f"a second RabbitMQ node cannot start here: {exc}")
    yield node
    node.close()


@pytest.fixture
def node(second_node: RabbitNode) -> RabbitNode:
    second_node.start(timeout=60)  # a no-op unless an earlier test stopped it
    return second_node


def tls_url(node: RabbitNode, host: str = "localhost", password: str = "guest",
            ca: Path | None = None, client_cert: bool = True, **extra: str) -> str:
    certs = node.certificates
    if certs is None:
        skip_or_fail("openssl is not available to make test certificates")
    query = dict(urllib.parse.parse_qsl(FAST_RECONNECT))
    query.update(ssl="true", ssl_ca_file=str(ca or certs.ca))
    if client_cert:
        query.update(ssl_cert_file=str(certs.client_cert), ssl_key_file=str(certs.client_key))
    query.update(extra)
    return (f"rabbit://guest:{password}@{host}:{node.tls_port}/?"
            f"{urllib.parse.urlencode(query)}")


def call(driver: RabbitDriver, topic: str, args: dict, timeout: float = 15) -> object:
    return driver.send(Target(topic=topic), {}, {"method": "m", "args": args},
                       wait_for_reply=True, timeout=timeout)


def round_trip(driver: RabbitDriver, unique: Callable[[str], str]) -> None:
    """A notification and an RPC call through ``driver``, on queues of the second node."""
    topic = unique("notifications")
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    try:
        driver.send_notification(Target(topic=f"{topic}.info"), {}, notification("tls"), 2.0)
        [message] = listener.poll(timeout=10)
        assert message.message["event_type"] == "tls"
        message.acknowledge()
    finally:
        listener.cleanup()
    rpc_topic = unique("topic")
    server = EchoServer(driver.listen(Target(topic=rpc_topic, server="s")))
    try:
        assert call(driver, rpc_topic, {"over": "tls"}) == {"echo": {"over": "tls"}}
    finally:
        server.stop()


# -- TLS ------------------------------------------------------------------------------
def test_notification_and_rpc_over_mutual_tls(node: RabbitNode, driver_factory: Callable,
                                              unique: Callable) -> None:
    round_trip(driver_factory(tls_url(node)), unique)
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "-n", node.name, "list_connections", "ssl", "peer_cert_subject"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    # the connections still open (send pool) are TLS with our client certificate
    assert "true" in listed and "CN=guest" in listed


def test_wrong_ca_fails_fast_with_a_typed_error_and_no_secret(
        node: RabbitNode, driver_factory: Callable, unique: Callable,
        caplog: pytest.LogCaptureFixture) -> None:
    assert node.certificates is not None
    driver = driver_factory(tls_url(node, password="s3cret-tls", ca=node.certificates.wrong_ca))
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as listen_error:
        driver.listen_for_notifications([(Target(topic=unique("n")), "info")])
    with pytest.raises(MessageDeliveryFailure) as send_error:
        driver.send_notification(Target(topic=unique("n") + ".info"), {}, notification(), 2.0,
                                 retry=1)
        driver.flush(15)  # pipelined within confirm_window: the failure is raised here
    assert time.monotonic() - started < 15
    for info in (listen_error, send_error):
        text = f"{info.value} {info.value.__cause__!r}"
        assert "certificate verify failed" in text
        assert "s3cret-tls" not in text
    assert all("s3cret-tls" not in record.getMessage() for record in caplog.records)


def test_hostname_is_verified_against_the_url_unless_disabled(
        node: RabbitNode, driver_factory: Callable, unique: Callable) -> None:
    # the server certificate names "localhost" only; 127.0.0.1 is the same socket
    by_ip = driver_factory(tls_url(node, host="127.0.0.1"))
    with pytest.raises(BrokerUnavailable, match="127.0.0.1"):
        by_ip.listen_for_notifications([(Target(topic=unique("n")), "info")])
    unchecked = driver_factory(tls_url(node, host="127.0.0.1",
                                       ssl_enforce_hostname_verification="false"))
    round_trip(unchecked, unique)


def test_broker_refuses_a_client_without_certificate(node: RabbitNode,
                                                     driver_factory: Callable,
                                                     unique: Callable) -> None:
    driver = driver_factory(tls_url(node, client_cert=False))
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        driver.listen_for_notifications([(Target(topic=unique("n")), "info")])
    assert time.monotonic() - started < 10


# -- failover between two brokers ---------------------------------------------------------
class Sender:
    """Sends numbered notifications (``e0``, ``e1``...) in a thread; records which were confirmed.

    Sends are pipelined (``confirm_window``): a send returns before the
    broker confirms it. So one counts as confirmed only once a ``flush()``
    after it returned True without raising. When a send or a flush raises
    (:class:`EarlierSendFailed`: some pipelined send failed, which one is
    not said), none of the sends not yet confirmed counts as confirmed.
    Stops after ``limit`` sends or ``max_seconds``, whichever comes first.
    """

    def __init__(self, driver: RabbitDriver, target: Target, limit: int = 20000,
                 retry: int | None = 5, flush_every: int = 10, pace: float = 0.005,
                 max_seconds: float = 60.0, flush_timeout: float = 20.0) -> None:
        self.confirmed: list[str] = []
        self.failures: list[BaseException] = []
        self.attempted = 0       # send_notification() calls made
        self.slowest = 0.0       # seconds of the longest send or flush call
        self.flush_timeouts = 0  # flushes that returned False: sends neither done nor failed
        self._retry = retry
        self._flush_every = flush_every
        self._pace = pace
        self._flush_timeout = flush_timeout
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run,
                                        args=(driver, target, limit, max_seconds), daemon=True)
        self._thread.start()

    def _timed(self, started: float) -> None:
        self.slowest = max(self.slowest, time.monotonic() - started)

    def _failed(self, exc: BaseException) -> None:
        with self._cond:
            self.failures.append(exc)
            self._cond.notify_all()

    def _flush(self, driver: RabbitDriver, pending: list[str]) -> list[str]:
        """Flush; returns what is still pending (confirmed ones are recorded)."""
        started = time.monotonic()
        try:
            done = driver.flush(self._flush_timeout)
        except Exception as exc:  # which of ``pending`` failed is not known
            self._failed(exc)
            return []
        finally:
            self._timed(started)
        if not done:
            self.flush_timeouts += 1
            return pending
        with self._cond:
            self.confirmed.extend(pending)
            self._cond.notify_all()
        return []

    def _run(self, driver: RabbitDriver, target: Target, limit: int,
             max_seconds: float) -> None:
        deadline = time.monotonic() + max_seconds
        pending: list[str] = []
        for n in range(limit):
            if self._stop.is_set() or time.monotonic() > deadline:
                break
            event = f"e{n}"
            started = time.monotonic()
            self.attempted = n + 1
            try:
                driver.send_notification(target, {}, notification(event), 2.0,
                                         retry=self._retry)
            except Exception as exc:  # typed or not: the test checks
                self._failed(exc)
                pending = []  # EarlierSendFailed: some of them (or this one) failed
            else:
                pending.append(event)
            finally:
                self._timed(started)
            if len(pending) >= self._flush_every:
                pending = self._flush(driver, pending)
            self._stop.wait(self._pace)  # pacing, not waiting for anything
        for _ in range(2):  # the last ones; once more if the first flush timed out
            if pending:
                pending = self._flush(driver, pending)

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        """Wait until ``count`` sends were confirmed in all."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.confirmed) >= count, timeout)

    def wait_for_confirmed_from(self, n: int, count: int, timeout: float = 30) -> bool:
        """Wait until ``count`` sends numbered ``n`` or more were confirmed."""
        def enough() -> bool:
            return sum(1 for event in self.confirmed[-count:] if int(event[1:]) >= n) >= count
        with self._cond:
            return self._cond.wait_for(enough, timeout)

    def wait_for_failure(self, timeout: float = 30) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self.failures), timeout)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(2 * self._flush_timeout + 10)
        assert not self._thread.is_alive(), "a send or a flush is stuck"
        return list(self.confirmed)


class Collector:
    """Polls a notification listener in a thread, acknowledging and counting each event.

    :meth:`pause` stops polling (what the broker holds then stays in the
    queue, beyond the listener's prefetch) until :meth:`resume`.
    """

    def __init__(self, listener: object) -> None:
        self.listener = listener
        self.got: collections.Counter[str] = collections.Counter()
        self._cond = threading.Condition()
        self._polling = threading.Event()
        self._polling.set()
        self._paused = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        listener = self.listener
        while not listener.stopped:  # type: ignore[attr-defined]
            if not self._polling.is_set():
                with self._cond:
                    self._paused = True
                    self._cond.notify_all()
                self._polling.wait()
                with self._cond:
                    self._paused = False
                continue
            for message in listener.poll(timeout=1):  # type: ignore[attr-defined]
                message.acknowledge()
                with self._cond:
                    self.got[message.message["event_type"]] += 1
                    self._cond.notify_all()

    def wait_until(self, predicate: Callable[[collections.Counter[str]], bool],
                   timeout: float = 30) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.got), timeout)

    def pause(self, timeout: float = 10) -> None:
        """Stop polling; returns once nothing more is counted."""
        self._polling.clear()
        with self._cond:
            assert self._cond.wait_for(lambda: self._paused, timeout), "the collector is stuck"

    def resume(self) -> None:
        self._polling.set()

    def stop(self) -> None:
        self.listener.cleanup()  # type: ignore[attr-defined]
        self._polling.set()
        self._thread.join(10)


def queue_exists(kombu_url: str, name: str) -> bool:
    with kombu.Connection(kombu_url, connect_timeout=5) as conn:
        try:
            conn.channel().queue_declare(queue=name, passive=True)
        except Exception:
            return False
    return True


def drain_and_delete(kombu_url: str, name: str) -> set[str]:
    """Event types of every message left in ``name`` (acked), then delete the queue."""
    from msgframework.wire.envelope import decode_body
    from msgframework.wire.notification import parse_notification

    events: set[str] = set()
    with kombu.Connection(kombu_url, connect_timeout=5) as conn:
        channel = conn.channel()
        while (message := channel.basic_get(queue=name, no_ack=True)) is not None:
            body = message.body.decode() if isinstance(message.body, bytes) else message.body
            events.add(parse_notification(decode_body(body))[1]["event_type"])
        channel.queue_delete(queue=name)
    return events


def test_failover_between_two_nodes_loses_no_confirmed_notification(
        node: RabbitNode, driver_factory: Callable, exchange: str, unique: Callable,
        cleanup: Cleanup, record_property: Callable) -> None:
    topic, rpc_topic = unique("notifications"), unique("topic")
    queue = f"{topic}.info"
    cleanup.queues.add(queue)
    cleanup.rpc(exchange, rpc_topic, "s")
    # the second node first; durable queues keep what it confirmed across its restart
    url = (f"rabbit://guest:guest@127.0.0.1:{node.port},guest:guest@{BROKER_HOST}:"
           f"{BROKER_PORT}/?{FAST_RECONNECT}&amqp_durable_queues=true")
    consumer_side = driver_factory(url)
    notifier = driver_factory(url)
    collector = Collector(consumer_side.listen_for_notifications([(Target(topic=topic),
                                                                    "info")]))
    server = EchoServer(consumer_side.listen(Target(topic=rpc_topic, server="s")))
    sender: Sender | None = None
    try:
        assert call(notifier, rpc_topic, {"n": 1}) == {"echo": {"n": 1}}
        assert queue_exists(node.kombu_url, queue) and not queue_exists(KOMBU_URL, queue)
        sender = Sender(notifier, Target(topic=queue))
        assert collector.wait_until(lambda got: len(got) >= 20), "nothing flows via node 2"

        node.stop()  # graceful: the broker closes every connection (320 CONNECTION_FORCED)
        after_stop = len(sender.confirmed)
        assert sender.wait_for(after_stop + 50), "publishing did not fail over"
        assert call(notifier, rpc_topic, {"n": 2}) == {"echo": {"n": 2}}  # RPC resumed
        confirmed = sender.stop()
        assert sender.failures == []  # every send was confirmed by one broker or the other
        assert queue_exists(KOMBU_URL, queue)  # the listener redeclared it on the main broker

        # Back up, node 2 still holds what it confirmed but nobody acknowledged in time.
        node.start(timeout=60)
        stranded = drain_and_delete(node.kombu_url, queue)
        expected = set(confirmed) - stranded
        assert collector.wait_until(lambda got: expected <= set(got)), (
            f"lost: {sorted(expected - set(collector.got))[:10]}")
        duplicates = sum(collector.got.values()) - len(collector.got)
        record_property("confirmed", len(confirmed))
        record_property("stranded_on_stopped_node", len(stranded))
        record_property("duplicates", duplicates)
        assert set(collector.got) <= set(confirmed)  # nothing invented either
    finally:
        if sender is not None:
            sender.stop()
        server.stop()
        collector.stop()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_restart_under_load_loses_no_confirmed_notification(
        node: RabbitNode, driver_factory: Callable, exchange: str, unique: Callable,
        record_property: Callable) -> None:
    """Stop and start the node while notifications flow: durable queues keep what it confirmed."""
    topic = unique("notifications")
    queue = f"{topic}.info"
    on_node = Cleanup(node.kombu_url)
    on_node.queues.add(queue)
    on_node.exchanges.add(exchange)
    on_node.dead_letters(exchange)
    url = (f"rabbit://guest:guest@127.0.0.1:{node.port}/?{FAST_RECONNECT}"
           "&amqp_durable_queues=true")
    # a small prefetch: what the listener was not handed yet stays in the broker's queue
    listener = driver_factory(f"{url}&rabbit_qos_prefetch_count=20").listen_for_notifications(
        [(Target(topic=topic), "info")])
    collector = Collector(listener)
    sender: Sender | None = None
    try:
        # retry=2: while the node is down, sends fail (typed) within a few passes
        sender = Sender(driver_factory(url), Target(topic=queue), retry=2, flush_every=50,
                        pace=0.0005, max_seconds=60)
        assert sender.wait_for(1000), f"nothing confirmed: {sender.failures[:3]}"
        assert collector.wait_until(lambda got: len(got) >= 500), "nothing arrives"
        generation = listener.consumer.bconn.generation  # type: ignore[attr-defined]
        # Let confirmed notifications pile up in the queue, so that the restart
        # has stored messages to keep (durable queue, persistent messages).
        collector.pause()
        assert sender.wait_for(len(sender.confirmed) + 300), "sending stalled"
        stored = len(set(sender.confirmed) - set(collector.got))
        assert stored >= 200  # (300, less the at most flush_every received before confirmed)

        node.stop()  # a real shutdown: the broker closes every connection and exits
        collector.resume()  # through the outage: the listener must reconnect on its own
        assert sender.wait_for_failure(timeout=20), "no send failed while the node was down"
        failed_while_down = list(sender.failures)
        node.start(timeout=60)
        back_from = sender.attempted  # sends from here on find the node up
        assert sender.wait_for_confirmed_from(back_from, 500), (
            f"sending did not resume: {sender.failures[len(failed_while_down):][:3]}")
        assert collector.wait_until(
            lambda got: any(int(event[1:]) >= back_from for event in got)), (
            "the listener did not resume")
        confirmed = sender.stop()

        assert collector.wait_until(lambda got: set(confirmed) <= set(got)), (
            f"lost: {sorted(set(confirmed) - set(collector.got), key=lambda e: int(e[1:]))[:10]}"
            f" of {len(confirmed)} confirmed")
        assert set(collector.got) <= {f"e{n}" for n in range(sender.attempted)}  # none invented
        # the outage was seen as typed errors, each within its retry budget, none hung
        assert any(isinstance(exc, EarlierSendFailed) for exc in failed_while_down)
        assert all(isinstance(exc, MessageDeliveryFailure) for exc in sender.failures), (
            [exc for exc in sender.failures if not isinstance(exc, MessageDeliveryFailure)][:3])
        assert sender.flush_timeouts == 0
        assert sender.slowest < 15, f"a send or flush took {sender.slowest:.1f}s"
        assert listener.consumer.bconn.generation > generation  # type: ignore[attr-defined]
        duplicates = sum(collector.got.values()) - len(collector.got)
        record_property("attempted", sender.attempted)
        record_property("confirmed", len(confirmed))
        record_property("failures", len(sender.failures))
        record_property("duplicates", duplicates)
        record_property("confirmed_not_received_at_stop", stored)
        record_property("slowest_call", round(sender.slowest, 2))
    finally:
        if sender is not None:
            sender.stop()
        collector.stop()
        node.start(timeout=60)  # a no-op unless a failed check left it stopped
        on_node.run()
