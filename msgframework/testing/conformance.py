"""Driver conformance checks: the obligations of ``drivers/base.py``, as tests.

Every driver runs the same checks. They talk to the driver through the
transport's seam (``Transport._send``, ``_send_notification``, ``_listen``,
``_listen_for_notifications``) and the Listener poll API, so they depend
neither on the RPC nor on the notification layer. A clause about an optional
feature is skipped when the driver does not declare its capability.

Use it by subclassing in a test module and overriding the ``transport_url``
fixture (a URL of a fresh, isolated namespace per test)::

    import uuid, pytest
    from msgframework.testing.conformance import DriverConformance

    class TestMemoryConformance(DriverConformance):
        @pytest.fixture
        def transport_url(self):
            return f"memory://{uuid.uuid4().hex}"

Optional hooks a subclass may override: :meth:`DriverConformance.dead_letters`
(what the driver dead-lettered, to check the reason) and
:meth:`DriverConformance.publish_raw` (put an arbitrary body on a queue, to
check undecodable messages are dead-lettered).
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.drivers.base import (
    Capability,
    IncomingMessage,
    Listener,
    QueuePolicy,
    TransportOptions,
)
from msgframework.exceptions import MessageUndeliverable, MessagingTimeout, UnsupportedFeature
from msgframework.target import Target
from msgframework.testing.waiting import Recorder, wait_for
from msgframework.transport import Transport, get_notification_transport, get_rpc_transport
from msgframework.wire.failures import serialize_remote_exception

__all__ = ["DriverConformance", "Server", "feature_table"]

_ROW = re.compile(r"^\s*([a-z_]+)\s+(yes|no)\b", re.MULTILINE)


def feature_table(driver_cls: type) -> dict[str, bool]:
    """The ``feature  yes/no`` rows of a driver package's docstring table."""
    package = driver_cls.__module__.rpartition(".")[0]
    doc = sys.modules[package].__doc__ or ""
    return {name: answer == "yes" for name, answer in _ROW.findall(doc)
            if name in Capability.ALL | Capability.PROVISIONAL}


class Server:
    """A thread polling a listener and handing each message to ``handler``.

    The handler settles the message (the default acknowledges it); every
    message is also recorded in :attr:`received` (pass one :class:`Recorder`
    to several servers to wait for what they received together).
    """

    def __init__(self, listener: Listener,
                 handler: Callable[[IncomingMessage], None] | None = None,
                 name: str = "server", received: Recorder | None = None) -> None:
        self.listener = listener
        self.handler = handler or (lambda m: m.acknowledge())
        #: Every message polled; several servers may share one recorder.
        self.received = received if received is not None else Recorder()
        self.name = name
        self._thread = threading.Thread(target=self._run, name=f"conformance-{name}",
                                        daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self.listener.stopped:
            for message in self.listener.poll(timeout=1.0):
                self.received.add(message)
                self.handler(message)

    def stop(self, timeout: float) -> None:
        self.listener.stop()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"{self.name} did not stop within {timeout}s"


def _ids(messages: list[IncomingMessage]) -> list[Any]:
    return [m.message["args"]["i"] for m in messages]


class DriverConformance:
    """Conformance tests; subclass and override the ``transport_url`` fixture."""

    #: Upper bound of every wait; passing tests finish far sooner.
    WAIT = 10.0
    #: How long "nothing arrives" is watched for.
    QUIET = 0.3

    # -- fixtures and hooks ------------------------------------------------------

    @pytest.fixture
    def transport_url(self) -> str:
        raise NotImplementedError("override the transport_url fixture")

    @pytest.fixture
    def make_transport(self, transport_url: str) -> Iterator[Callable[..., Transport]]:
        """``make_transport(notification=False)``: another transport on the same URL."""
        made: list[Transport] = []

        def make(notification: bool = False) -> Transport:
            conf = cfg.ConfigOpts()
            factory = get_notification_transport if notification else get_rpc_transport
            transport = factory(conf, transport_url)
            made.append(transport)
            return transport

        yield make
        for transport in made:
            transport.cleanup()

    @pytest.fixture
    def transport(self, make_transport: Callable[..., Transport]) -> Transport:
        return make_transport()

    @pytest.fixture
    def servers(self) -> Iterator[list[Server]]:
        running: list[Server] = []
        yield running
        for server in running:
            server.stop(self.WAIT)

    def dead_letters(self, transport: Transport) -> list[tuple[Any, str]] | None:
        """``(body or message, reason)`` of every message dead-lettered so far
        (each call sees them all); None: cannot tell."""
        return None

    def _dead_letters_once(self, transport: Transport, count: int,
                           reason: str) -> list[tuple[Any, str]] | None:
        """The dead letters, once ``count`` of them give ``reason`` (or after WAIT).

        A driver may dead-letter on a thread of its own, after it handed out
        a message that reached the broker later, so the letters are waited for.
        """
        if self.dead_letters(transport) is None:
            return None
        letters: list[tuple[Any, str]] = []

        def enough() -> bool:
            letters[:] = self.dead_letters(transport) or []
            return sum(reason in why for _body, why in letters) >= count

        wait_for(enough, self.WAIT, message=f"fewer than {count} dead letters for {reason}")
        return letters

    def publish_raw(self, transport: Transport, exchange: str, queue: str, body: str) -> bool:
        """Put ``body`` on a queue unchecked; False when the driver offers no way to."""
        return False

    def require(self, transport: Transport, capability: str) -> None:
        if capability not in transport.driver.capabilities:
            pytest.skip(f"{type(transport.driver).__name__} does not declare {capability}")

    def cast(self, transport: Transport, target: Target, i: Any, **kw: Any) -> None:
        transport._send(target, {"user": "conformance"}, {"method": "m", "args": {"i": i}},
                        **kw)

    def start(self, servers: list[Server], listener: Listener,
              handler: Callable[[IncomingMessage], None] | None = None,
              received: Recorder | None = None) -> Server:
        server = Server(listener, handler, name=f"server{len(servers)}",
                        received=received).start()
        servers.append(server)
        return server

    # -- declared capabilities ---------------------------------------------------

    def test_feature_table_matches_capabilities(self, transport: Transport) -> None:
        driver_cls = type(transport.driver)
        table = feature_table(driver_cls)
        # A provisional feature may be missing from the table: the driver lacks it.
        assert set(table) - Capability.PROVISIONAL == set(Capability.ALL), \
            f"feature table of {driver_cls.__module__} lacks {set(Capability.ALL) - set(table)}"
        declared = {name for name, has in table.items() if has}
        assert declared == set(driver_cls.capabilities)

    # -- RPC routing ---------------------------------------------------------------

    def test_topic_message_goes_to_exactly_one_listener(self, make_transport: Any,
                                                        servers: list[Server]) -> None:
        client = make_transport()
        received = Recorder()
        for name in ("a", "b"):
            self.start(servers, make_transport()._listen(Target(topic="lb", server=name)),
                       received=received)
        for i in range(20):
            self.cast(client, Target(topic="lb"), i)
        received.wait_for_count(20, self.WAIT)
        # nothing more arrives: each message went to one listener only
        assert not received.wait_for(lambda items: len(items) > 20, self.QUIET)
        assert sorted(_ids(received.snapshot())) == list(range(20))

    def test_server_message_goes_to_that_server(self, make_transport: Any) -> None:
        client = make_transport()
        s1 = make_transport()._listen(Target(topic="addr", server="s1"))
        s2 = make_transport()._listen(Target(topic="addr", server="s2"))
        self.cast(client, Target(topic="addr", server="s2"), 7)
        got = s2.poll(timeout=self.WAIT)
        assert _ids(got) == [7]
        got[0].acknowledge()
        assert s1.poll(timeout=self.QUIET) == []

    def test_fanout_reaches_every_listener(self, make_transport: Any) -> None:
        client = make_transport()
        listeners = [make_transport()._listen(Target(topic="fan", server=f"s{n}"))
                     for n in range(3)]
        self.cast(client, Target(topic="fan", fanout=True), 1)
        for listener in listeners:
            got = listener.poll(timeout=self.WAIT)
            assert _ids(got) == [1]
            got[0].acknowledge()
            assert listener.poll(timeout=0.05) == []

    def test_exchange_scopes_topics(self, make_transport: Any) -> None:
        client = make_transport()
        other = make_transport()._listen(Target(topic="scoped", server="s", exchange="other"))
        mine = make_transport()._listen(Target(topic="scoped", server="s"))
        self.cast(client, Target(topic="scoped", exchange="other"), 3)
        got = other.poll(timeout=self.WAIT)
        assert _ids(got) == [3]
        got[0].acknowledge()
        assert mine.poll(timeout=self.QUIET) == []

    def test_batch_poll(self, transport: Transport) -> None:
        listener = transport._listen(Target(topic="batch", server="s"))
        for i in range(3):
            self.cast(transport, Target(topic="batch"), i)
        got = listener.poll(timeout=self.WAIT, batch_size=3, batch_timeout=self.WAIT)
        assert sorted(_ids(got)) == [0, 1, 2]
        for m in got:
            m.acknowledge()

    def test_context_and_message_round_trip(self, transport: Transport) -> None:
        listener = transport._listen(Target(topic="ctx", server="s"))
        transport._send(Target(topic="ctx"), {"user": "u1", "roles": ["a"]},
                        {"method": "do", "args": {"n": [1, 2], "s": "é"}})
        (msg,) = listener.poll(timeout=self.WAIT)
        msg.acknowledge()
        assert msg.ctxt == {"user": "u1", "roles": ["a"]}
        assert msg.message["method"] == "do"
        assert msg.message["args"] == {"n": [1, 2], "s": "é"}
        assert msg.delivery_count == 1

    # -- notifications -----------------------------------------------------------

    def notify(self, transport: Transport, topic: str, i: Any, version: float = 2.0,
               exchange: str | None = None, queue_policy: QueuePolicy | None = None) -> None:
        message = {"message_id": f"id-{i}", "publisher_id": "conformance",
                   "event_type": "thing.happened", "priority": "INFO",
                   "payload": {"i": i}, "timestamp": "2024-01-01 00:00:00.000000"}
        transport._send_notification(Target(topic=topic, exchange=exchange),
                                     {"user": "n"}, message, version,
                                     queue_policy=queue_policy)

    def test_notification_store_and_forward(self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.notify(notifier, "saf.info", 1)
        self.notify(notifier, "saf.info", 2, version=1.0)
        listener = make_transport(notification=True)._listen_for_notifications(
            [(Target(topic="saf"), "info")])
        got = listener.poll(timeout=self.WAIT, batch_size=2, batch_timeout=self.WAIT)
        assert [m.message["payload"]["i"] for m in got] == [1, 2]
        assert got[0].ctxt == {"user": "n"}
        assert got[0].message["event_type"] == "thing.happened"
        for m in got:
            m.acknowledge()

    def test_notification_priorities_are_separate(self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        errors = make_transport(notification=True)._listen_for_notifications(
            [(Target(topic="prio"), "error")])
        self.notify(notifier, "prio.info", 1)
        assert errors.poll(timeout=self.QUIET) == []

    def test_pools_get_one_copy_each(self, make_transport: Any,
                                     servers: list[Server]) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.POOLS)
        targets = [(Target(topic="pooled"), "info")]
        pools = {"A": Recorder(), "B": Recorder()}
        for pool in ("A", "A", "B"):
            listener = make_transport(notification=True)._listen_for_notifications(
                targets, pool=pool)
            self.start(servers, listener, received=pools[pool])
        for i in range(10):
            self.notify(notifier, "pooled.info", i)
        for received in pools.values():
            received.wait_for_count(10, self.WAIT)
        assert not pools["A"].wait_for(lambda items: len(items) > 10, self.QUIET)
        for received in pools.values():
            assert sorted(m.message["payload"]["i"] for m in received.snapshot()) \
                == list(range(10))

    # -- queue policies (store-time TTL and length) -------------------------------

    def _take(self, listener: Listener, n: int, ack: bool = False) -> list[IncomingMessage]:
        """Poll until ``n`` messages arrived (or WAIT passed); ``ack`` settles each.

        Waiting for a count, not for a quiet gap, keeps a host stall between
        two deliveries from cutting the list short.
        """
        got: list[IncomingMessage] = []
        deadline = time.monotonic() + self.WAIT
        while len(got) < n and (left := deadline - time.monotonic()) > 0:
            batch = listener.poll(timeout=left, batch_size=n - len(got), batch_timeout=0)
            for m in batch if ack else ():
                m.acknowledge()  # as it comes: a prefetch bound waits for it
            got += batch
        return got

    def _drain(self, listener: Listener, expect: int = 0) -> list[Any]:
        """The payloads' ``i`` of what arrives, acknowledged: the first
        ``expect`` waited for (see :meth:`_take`), then all within QUIET."""
        got = self._take(listener, expect, ack=True)
        while batch := listener.poll(timeout=self.QUIET, batch_size=50, batch_timeout=0):
            for m in batch:
                m.acknowledge()
            got += batch
        return [m.message["payload"]["i"] for m in got]

    def test_queue_policy_needs_the_capability(self, make_transport: Any) -> None:
        transport = make_transport(notification=True)
        if Capability.QUEUE_POLICY in transport.driver.capabilities:
            pytest.skip("the driver has queue policies")
        with pytest.raises(UnsupportedFeature):
            transport._listen_for_notifications([(Target(topic="qp"), "info")],
                                                queue_policy=QueuePolicy(max_length=1))
        with pytest.raises(UnsupportedFeature):
            self.notify(transport, "qp.info", 1, queue_policy=QueuePolicy(max_length=1))

    def _declare_bounded(self, make_transport: Any, targets: list[tuple[Target, str]],
                         policy: QueuePolicy, pool: str | None = None) -> None:
        """Subscribe with ``policy``, then stop: the queue stays, bounded, unread.

        Stopped rather than left idle because a broker's consumer takes
        messages ahead of poll() (prefetch): those are in flight, which a
        length limit does not count.
        """
        listener = make_transport(notification=True)._listen_for_notifications(
            targets, pool=pool, queue_policy=policy)
        listener.stop()
        listener.cleanup()

    def test_max_length_drops_the_oldest_when_stored(self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY)
        targets = [(Target(topic="bounded"), "info")]
        self._declare_bounded(make_transport, targets, QueuePolicy(max_length=3))
        for i in range(8):  # nobody reads meanwhile
            self.notify(notifier, "bounded.info", i)
        notifier.flush()
        # The policy belongs to the queue: it outlived the listener that set it.
        later = make_transport(notification=True)._listen_for_notifications(targets)
        assert self._drain(later, 3) == [5, 6, 7]

    def test_sender_policy_bounds_the_queue_before_anyone_subscribes(
            self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY)
        for i in range(8):  # the first send creates the queue with the policy
            self.notify(notifier, "unread.info", i, queue_policy=QueuePolicy(max_length=3))
        notifier.flush()  # stored (pipelining drivers return before that)
        other = make_transport(notification=True)
        for i in range(8, 10):  # a sender without a policy leaves the queue's as it is
            self.notify(other, "unread.info", i)
        other.flush()
        listener = make_transport(notification=True)._listen_for_notifications(
            [(Target(topic="unread"), "info")])
        assert self._drain(listener, 3) == [7, 8, 9]

    def test_sender_policy_leaves_an_existing_queue_as_it_is(self, make_transport: Any
                                                             ) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY)
        targets = [(Target(topic="owned"), "info")]
        self._declare_bounded(make_transport, targets, QueuePolicy(max_length=4))
        for i in range(6):  # the subscriber's bounds hold, not the sender's
            self.notify(notifier, "owned.info", i, queue_policy=QueuePolicy(max_length=2))
        notifier.flush()
        later = make_transport(notification=True)._listen_for_notifications(targets)
        assert self._drain(later, 4) == [2, 3, 4, 5]

    def test_max_length_applies_to_what_the_queue_already_holds(self, make_transport: Any
                                                                ) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY_CHANGE)
        for i in range(6):  # stored and forwarded before any listener existed
            self.notify(notifier, "backlog.info", i)
        listener = make_transport(notification=True)._listen_for_notifications(
            [(Target(topic="backlog"), "info")], queue_policy=QueuePolicy(max_length=2))
        assert self._drain(listener, 2) == [4, 5]

    def test_latest_policy_wins(self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY_CHANGE)
        targets = [(Target(topic="relimit"), "info")]
        first = make_transport(notification=True)._listen_for_notifications(
            targets, queue_policy=QueuePolicy(max_length=4))
        first.stop()
        first.cleanup()
        later = make_transport(notification=True)._listen_for_notifications(
            targets, queue_policy=QueuePolicy(max_length=2))
        for i in range(6):
            self.notify(notifier, "relimit.info", i)
        assert self._drain(later, 2) == [4, 5]

    def test_existing_queue_keeps_its_policy_without_policy_change(
            self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY)
        if Capability.QUEUE_POLICY_CHANGE in notifier.driver.capabilities:
            pytest.skip("the driver changes existing queues' policies")
        for i in range(4):  # the queue exists, unbounded, before the listener
            self.notify(notifier, "kept.info", i)
        notifier.flush()
        listener = make_transport(notification=True)._listen_for_notifications(
            [(Target(topic="kept"), "info")], queue_policy=QueuePolicy(max_length=2))
        assert self._drain(listener, 4) == [0, 1, 2, 3]  # used as it is, not trimmed

    def test_pooled_queue_gets_the_policy(self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY)
        self.require(notifier, Capability.POOLS)
        targets = [(Target(topic="pq"), "info")]
        self._declare_bounded(make_transport, targets, QueuePolicy(max_length=2),
                              pool="bounded")
        unbounded = make_transport(notification=True)._listen_for_notifications(
            targets, pool="all")
        unbounded.stop()  # the pool's queue stays, as the bounded one does
        unbounded.cleanup()
        for i in range(5):
            self.notify(notifier, "pq.info", i)
        notifier.flush()
        assert self._drain(make_transport(notification=True)._listen_for_notifications(
            targets, pool="bounded"), 2) == [3, 4]
        assert self._drain(make_transport(notification=True)._listen_for_notifications(
            targets, pool="all"), 5) == [0, 1, 2, 3, 4]

    def test_message_ttl_expires_unread_messages(self, make_transport: Any) -> None:
        notifier = make_transport(notification=True)
        self.require(notifier, Capability.QUEUE_POLICY)
        ttl = 0.2
        targets = [(Target(topic="ttl"), "info")]
        self._declare_bounded(make_transport, targets, QueuePolicy(message_ttl=ttl))
        idle = make_transport(notification=True)._listen_for_notifications(
            [(Target(topic="ttl-idle"), "info")])
        self.notify(notifier, "ttl.info", 1)
        notifier.flush()
        sent = time.monotonic()
        # Nothing to wait on but the clock: an idle queue's poll lets the TTL pass.
        while time.monotonic() - sent <= ttl * 1.5:
            assert idle.poll(timeout=ttl) == []
        listener = make_transport(notification=True)._listen_for_notifications(targets)
        assert self._drain(listener) == []  # 1 outlived its TTL unread
        # A fresh message is delivered. It too expires if the host stalls past
        # the TTL before it is read, so only a stall that long earns a retry.
        for i in range(2, 7):
            sent = time.monotonic()
            self.notify(notifier, "ttl.info", i)
            notifier.flush()
            got = []
            for m in listener.poll(timeout=ttl * 10):
                got.append(m.message["payload"]["i"])
                m.acknowledge()
            if got == [i]:
                break
            assert got == [] and time.monotonic() - sent > ttl, got
        else:
            pytest.fail("no fresh message was delivered within its TTL in 5 tries")
        assert self._drain(listener) == []

    # -- settling ----------------------------------------------------------------

    def test_requeue_redelivers_with_growing_delivery_count(self, transport: Transport
                                                             ) -> None:
        self.require(transport, Capability.REQUEUE)
        listener = transport._listen(Target(topic="rq", server="s"))
        self.cast(transport, Target(topic="rq"), 5)
        for count in (1, 2, 3):
            (msg,) = listener.poll(timeout=self.WAIT)
            assert _ids([msg]) == [5]
            assert msg.delivery_count == count
            if count < 3:
                msg.requeue()
        msg.acknowledge()
        assert listener.poll(timeout=self.QUIET) == []

    def test_dead_letter_is_not_redelivered(self, transport: Transport) -> None:
        self.require(transport, Capability.DEAD_LETTER)
        listener = transport._listen(Target(topic="dl", server="s"))
        self.cast(transport, Target(topic="dl"), 9)
        (msg,) = listener.poll(timeout=self.WAIT)
        msg.dead_letter("poisonous")
        msg.acknowledge()  # settled already: a no-op
        assert listener.poll(timeout=self.QUIET) == []
        letters = self.dead_letters(transport)
        if letters is not None:
            assert any("poisonous" in reason for _body, reason in letters), letters

    def test_acknowledged_message_is_gone(self, make_transport: Any) -> None:
        client = make_transport()
        first = make_transport()
        listener = first._listen(Target(topic="ack", server="s"))
        self.cast(client, Target(topic="ack"), 1)
        (msg,) = listener.poll(timeout=self.WAIT)
        msg.acknowledge()
        msg.requeue()  # settled already: a no-op
        listener.stop()
        listener.cleanup()
        again = make_transport()._listen(Target(topic="ack", server="s"))
        assert again.poll(timeout=self.QUIET) == []

    def test_undecodable_message_is_dead_lettered_not_returned(self, transport: Transport
                                                               ) -> None:
        listener = transport._listen(Target(topic="bad", server="s"))
        exchange = transport.conf.control_exchange
        if not self.publish_raw(transport, exchange, "bad", "{not json"):
            pytest.skip("no publish_raw hook for this driver")
        self.publish_raw(transport, exchange, "bad", '{"no": "method"}')
        self.cast(transport, Target(topic="bad"), 1)
        got = listener.poll(timeout=self.WAIT)
        assert _ids(got) == [1]
        got[0].acknowledge()
        letters = self._dead_letters_once(transport, 2, "MalformedMessage")
        if letters is not None:
            assert sum("MalformedMessage" in reason for _b, reason in letters) == 2, letters

    # -- polling -----------------------------------------------------------------

    def test_poll_timeout_returns_empty_in_time(self, transport: Transport) -> None:
        listener = transport._listen(Target(topic="quiet", server="s"))
        start = time.monotonic()
        assert listener.poll(timeout=0.2) == []
        elapsed = time.monotonic() - start
        assert 0.15 <= elapsed < 0.2 + 3.0, elapsed  # margin for a stalled host

    def test_stop_wakes_a_blocked_poll(self, transport: Transport) -> None:
        listener = transport._listen(Target(topic="stop", server="s"))
        result: list[Any] = []
        done = threading.Event()

        def poll() -> None:
            result.append(listener.poll(timeout=self.WAIT))
            done.set()

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        assert not done.wait(0.05)  # it is blocked
        start = time.monotonic()
        listener.stop()
        assert done.wait(self.WAIT)
        assert time.monotonic() - start < self.WAIT / 2  # woken, not timed out
        assert result == [[]]
        thread.join(self.WAIT)

    def test_prefetch_bounds_unsettled_messages(self, transport: Transport) -> None:
        listener = transport._listen(Target(topic="pf", server="s"))
        listener.prefetch = 2
        for i in range(4):
            self.cast(transport, Target(topic="pf"), i)
        held = self._take(listener, 2)
        held += listener.poll(timeout=self.QUIET, batch_size=4, batch_timeout=0)
        assert len(held) == 2, _ids(held)
        held[0].acknowledge()
        more = listener.poll(timeout=self.WAIT)
        assert len(more) == 1
        assert listener.poll(timeout=self.QUIET) == []
        for m in held[1:] + more:
            m.acknowledge()
        rest = listener.poll(timeout=self.WAIT)
        assert len(rest) == 1
        rest[0].acknowledge()

    # -- RPC calls ---------------------------------------------------------------

    def test_call_returns_the_reply(self, make_transport: Any, servers: list[Server]) -> None:
        client = make_transport()

        def answer(msg: IncomingMessage) -> None:
            msg.acknowledge()
            msg.reply({"doubled": msg.message["args"]["i"] * 2})

        self.start(servers, make_transport()._listen(Target(topic="call", server="s")),
                   answer)
        for i in range(3):
            result = client._send(Target(topic="call"), {}, {"method": "m", "args": {"i": i}},
                                  wait_for_reply=True, timeout=self.WAIT)
            assert result == {"doubled": i * 2}

    def test_call_to_a_server_and_fanout_cast(self, make_transport: Any,
                                              servers: list[Server]) -> None:
        client = make_transport()

        def answer(msg: IncomingMessage) -> None:
            msg.acknowledge()
            msg.reply("from-b")

        self.start(servers, make_transport()._listen(Target(topic="cs", server="b")), answer)
        assert client._send(Target(topic="cs", server="b"), {}, {"method": "m", "args": {}},
                            wait_for_reply=True, timeout=self.WAIT) == "from-b"

    def test_call_times_out(self, transport: Transport) -> None:
        start = time.monotonic()
        with pytest.raises(MessagingTimeout):
            transport._send(Target(topic="nobody"), {}, {"method": "m", "args": {}},
                            wait_for_reply=True, timeout=0.2)
        assert 0.15 <= time.monotonic() - start < 0.2 + 3.0  # margin for a stalled host

    def test_remote_failure_is_raised(self, make_transport: Any,
                                      servers: list[Server]) -> None:
        client = make_transport()

        def fail(msg: IncomingMessage) -> None:
            msg.acknowledge()
            try:
                raise ValueError("remote boom")
            except ValueError as exc:
                msg.reply(failure=serialize_remote_exception(exc))

        self.start(servers, make_transport()._listen(Target(topic="fail", server="s")), fail)
        with pytest.raises(ValueError, match="remote boom"):
            client._send(Target(topic="fail"), {}, {"method": "m", "args": {}},
                         wait_for_reply=True, timeout=self.WAIT)

    def test_heartbeats_extend_call_monitor_timeout(self, make_transport: Any,
                                                    servers: list[Server]) -> None:
        client = make_transport()
        self.require(client, Capability.CALL_MONITOR)
        # the server heartbeats every 0.1 s: a stall of the host up to 0.9 s is fine
        monitor = 1.0
        stop = threading.Event()

        def slow(msg: IncomingMessage) -> None:
            msg.acknowledge()
            assert msg.client_timeout == monitor
            end = time.monotonic() + monitor * 2.5
            while time.monotonic() < end and not stop.is_set():
                msg.heartbeat()
                stop.wait(0.1)
            msg.reply("slow but alive")

        self.start(servers, make_transport()._listen(Target(topic="hb", server="s")), slow)
        try:
            assert client._send(Target(topic="hb"), {}, {"method": "m", "args": {}},
                                wait_for_reply=True, timeout=self.WAIT,
                                call_monitor_timeout=monitor) == "slow but alive"
        finally:
            stop.set()

    def test_call_monitor_times_out_without_heartbeats(self, make_transport: Any,
                                                       servers: list[Server]) -> None:
        client = make_transport()
        self.require(client, Capability.CALL_MONITOR)
        silent = threading.Event()

        def ignore(msg: IncomingMessage) -> None:
            msg.acknowledge()
            silent.set()

        self.start(servers, make_transport()._listen(Target(topic="mute", server="s")), ignore)
        start = time.monotonic()
        with pytest.raises(MessagingTimeout):
            client._send(Target(topic="mute"), {}, {"method": "m", "args": {}},
                         wait_for_reply=True, timeout=self.WAIT, call_monitor_timeout=0.3)
        assert time.monotonic() - start < self.WAIT / 2
        assert silent.is_set()

    # -- delivery guarantees -------------------------------------------------------

    def test_at_least_once_without_listener_is_undeliverable(self, make_transport: Any
                                                             ) -> None:
        client = make_transport()
        self.require(client, Capability.MANDATORY)
        options = TransportOptions(at_least_once=True)
        with pytest.raises(MessageUndeliverable):
            self.cast(client, Target(topic="void"), 1, transport_options=options)
        with pytest.raises(MessageUndeliverable):
            self.cast(client, Target(topic="void", fanout=True), 1,
                      transport_options=options)
        listener = make_transport()._listen(Target(topic="void", server="s"))
        self.cast(client, Target(topic="void"), 2, transport_options=options)
        got = listener.poll(timeout=self.WAIT)
        assert _ids(got) == [2]
        got[0].acknowledge()

    def test_values_json_cannot_encode_fail_at_send(self, make_transport: Any) -> None:
        client = make_transport()
        listener = make_transport()._listen(Target(topic="json", server="s"))
        with pytest.raises((TypeError, ValueError)):
            client._send(Target(topic="json"), {}, {"method": "m", "args": {"x": object()}})
        with pytest.raises((TypeError, ValueError)):
            client._send(Target(topic="json"), {}, {"method": "m", "args": {"x": {1, 2}}},
                         wait_for_reply=True, timeout=self.WAIT)
        notifier = make_transport(notification=True)
        with pytest.raises((TypeError, ValueError)):
            notifier._send_notification(Target(topic="json.info"), {},
                                        {"event_type": "e", "priority": "INFO",
                                         "payload": object()}, 2.0)
        assert listener.poll(timeout=self.QUIET) == []
