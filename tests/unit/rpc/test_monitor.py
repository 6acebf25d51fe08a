"""CallMonitor: one thread, a heap of deadlines, sub-second intervals."""

from __future__ import annotations

import threading
import time

from msgframework.rpc.monitor import CallMonitor


class Beating:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.times: list[float] = []

    def heartbeat(self) -> None:
        with self.cond:
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.times) >= count, timeout)


def test_heartbeats_at_half_the_client_timeout_until_unwatched():
    monitor = CallMonitor()
    fast, slow = Beating(), Beating()
    start = time.monotonic()
    w_fast = monitor.watch(fast, 0.04)
    w_slow = monitor.watch(slow, 0.2)
    assert monitor.watching() == 2
    assert fast.wait_for(4)
    assert fast.times[0] - start >= 0.02 * 0.9
    assert slow.wait_for(1)
    # the slow call is beaten about every 0.1s, the fast one every 0.02s
    assert len(fast.times) > len(slow.times)
    monitor.unwatch(w_fast)
    monitor.unwatch(w_fast)  # idempotent
    assert monitor.watching() == 1
    with fast.cond:
        seen = len(fast.times)
    # slow keeps beating; fast stops (at most one beat already in flight)
    assert slow.wait_for(3)
    assert len(fast.times) <= seen + 1
    monitor.unwatch(w_slow)
    assert monitor.watching() == 0


def test_thread_shared_between_calls():
    monitor = CallMonitor(name="test-monitor")
    beats = [Beating() for _ in range(20)]
    watches = [monitor.watch(b, 0.02) for b in beats]
    for b in beats:
        assert b.wait_for(2)
    assert sum(t.name == "test-monitor" for t in threading.enumerate()) == 1
    for w in watches:
        monitor.unwatch(w)
