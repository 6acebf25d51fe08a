"""RPC server behaviour on the memory driver: delivery, bounds, ping, call monitoring."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.exceptions import InvalidTarget, MessagingTimeout, NoSuchMethod
from msgframework.rpc.client import get_rpc_client
from msgframework.rpc.decorators import expose
from msgframework.rpc.dispatcher import PING_METHOD
from msgframework.rpc.policies import ExplicitRPCAccessPolicy
from msgframework.rpc.server import RPCServer, get_rpc_server
from msgframework.target import Target


class Gate:
    """An endpoint whose calls block until released; counts what runs at once."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.running = 0
        self.peak = 0
        self.done = 0
        self.calls = 0
        self.open = threading.Event()

    def hold(self, ctxt: Any, i: int = 0) -> int:
        with self.cond:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.cond.notify_all()
        try:
            if not self.open.wait(10):
                raise RuntimeError("gate never opened")
            return i
        finally:
            with self.cond:
                self.running -= 1
                self.done += 1
                self.cond.notify_all()

    def fail(self, ctxt: Any) -> None:
        with self.cond:
            self.calls += 1
            self.cond.notify_all()
        raise RuntimeError("endpoint failure")

    def work(self, ctxt: Any, seconds: float) -> str:
        # simulates a long computation; `open` ends it early at teardown
        self.open.wait(seconds)
        return "worked"

    def wait_until(self, predicate: Any, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: predicate(self), timeout)


def test_server_target_needs_topic_and_server(servers):
    transport = servers.transport()
    srv = get_rpc_server(transport, Target(topic="topic"), [Gate()])
    with pytest.raises(InvalidTarget):
        srv.start(timeout=5)
    with pytest.raises(TypeError):
        get_rpc_server(transport, "topic", [Gate()])  # type: ignore[arg-type]
    assert isinstance(servers.server([Gate()]), RPCServer)


def test_failed_cast_is_not_redelivered_at_most_once(servers):
    gate = Gate()
    servers.server([gate])
    client = get_rpc_client(servers.transport(), Target(topic="topic"))
    client.cast({}, "fail")
    assert gate.wait_until(lambda g: g.calls == 1)
    broker = servers.broker()
    assert broker.wait_until_idle(5)
    stats = broker.stats()
    assert stats.get("requeued", 0) == 0 and stats.get("dead_lettered", 0) == 0
    assert gate.calls == 1


def test_server_holds_at_most_its_pool_size(servers, conf):
    conf.set_override("executor_thread_pool_size", 3)
    gate = Gate()
    servers.server([gate])
    client = get_rpc_client(servers.transport(), Target(topic="topic"))
    for i in range(10):
        client.cast({}, "hold", i=i)
    assert gate.wait_until(lambda g: g.running == 3)
    broker = servers.broker()
    stats = broker.stats()
    # the rest waits in the broker, not in the server's memory
    assert stats["ready"] == 7 and stats["in_flight"] <= 3
    gate.open.set()
    assert gate.wait_until(lambda g: g.done == 10)
    assert gate.peak == 3
    assert broker.wait_until_idle(5)


def test_ping_enabled_from_the_transports_own_conf(servers, conf):
    assert cfg.CONF is not conf
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=5)
    servers.server([Gate()], server="plain")
    with pytest.raises(NoSuchMethod):
        client.prepare(server="plain").call({}, PING_METHOD)
    conf.set_override("rpc_ping_enabled", True)
    servers.server([Gate()], server="pinged")
    assert client.prepare(server="pinged").call({}, PING_METHOD) == "pong"


class Exposed:
    @expose
    def shown(self, ctxt: Any) -> str:
        return "shown"

    def hidden(self, ctxt: Any) -> str:
        return "hidden"

    def _private(self, ctxt: Any) -> str:
        return "private"


def test_access_policies_end_to_end(servers):
    servers.server([Exposed()], server="default")
    servers.server([Exposed()], server="explicit", access_policy=ExplicitRPCAccessPolicy)
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=5)
    default, explicit = client.prepare(server="default"), client.prepare(server="explicit")
    assert default.call({}, "hidden") == "hidden"
    with pytest.raises(NoSuchMethod):
        default.call({}, "_private")
    assert explicit.call({}, "shown") == "shown"
    with pytest.raises(NoSuchMethod):
        explicit.call({}, "hidden")


def test_blocking_executor_serves(servers):
    servers.server([Exposed()], executor="blocking")
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=5)
    assert client.call({}, "shown") == "shown"


#: call_monitor_timeout of the monitored calls below. The server heartbeats
#: every half of it, so a stall of the host for about half of it fails a call
#: that should live: keep it well above a loaded host's stalls.
MONITOR = 2.0


def test_call_monitor_keeps_a_long_call_alive(servers):
    servers.server([Gate()])
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=30,
                            call_monitor_timeout=MONITOR)
    # the call outlives the monitor timeout: only heartbeats keep it alive
    assert client.call({}, "work", seconds=MONITOR * 1.5) == "worked"


def test_call_monitor_detects_a_silent_server_early(servers):
    client = get_rpc_client(servers.transport(), Target(topic="nobody"), timeout=30,
                            call_monitor_timeout=0.2)
    start = time.monotonic()
    with pytest.raises(MessagingTimeout):
        client.call({}, "work", seconds=0)
    assert time.monotonic() - start < 10  # the monitor's 0.2 s, long before the 30 s


def test_hard_timeout_bounds_a_heartbeating_call(servers):
    gate = Gate()
    servers.server([gate])
    hard = MONITOR * 1.5  # past the monitor timeout: heartbeats kept the call alive
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=hard,
                            call_monitor_timeout=MONITOR)
    start = time.monotonic()
    try:
        with pytest.raises(MessagingTimeout, match="Timed out waiting"):
            client.call({}, "work", seconds=10)
        assert hard * 0.9 <= time.monotonic() - start < hard + 5
    finally:
        gate.open.set()


def test_stop_and_restart(servers):
    srv = servers.server([Exposed()])
    client = get_rpc_client(servers.transport(), Target(topic="topic"), timeout=5)
    assert client.call({}, "shown") == "shown"
    srv.stop(timeout=5)
    srv.wait(timeout=5)
    client.cast({}, "shown")  # kept in the topic queue while nobody serves
    srv.start(timeout=5)
    assert client.call({}, "shown") == "shown"
