"""What one process does in a scenario, for any library with oslo.messaging's API.

Every role takes ``(adapter, spec, coord, role_id)`` and returns a plain
dict that travels back to the orchestrator. Timestamps are wall-clock
(``time.time()``) because sender and receiver are different processes on
one host; latencies are measured from the send timestamp carried in the
payload to the moment the endpoint runs.

Every loop is bounded twice: by ``spec["count"]`` and by
``spec["duration"]`` seconds from the start signal; a role that hits the
time bound returns what it did and says so (``timed_out``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from msgframework.bench.coord import Coord, peak_rss_bytes, rss_bytes
from msgframework.bench.stats import thin

#: Seconds the consumers wait for the run beyond its duration (startup, drain).
GRACE = 30.0


def payload(n: int, data: str) -> dict[str, Any]:
    return {"n": n, "ts": time.time(), "data": data}


def _wait_stop(spec: dict[str, Any], coord: Coord) -> None:
    coord.stop.wait(spec["duration"] + GRACE * 2)


class Receiver:
    """Counts arrivals into the shared counter; keeps latencies and RSS samples."""

    def __init__(self, spec: dict[str, Any], coord: Coord) -> None:
        self.coord = coord
        self.keep_latencies = not spec.get("rss")
        self.rss_every = max(1, spec["count"] // 20) if spec.get("rss") else 0
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.rss: list[tuple[int, int]] = []
        self.count = 0
        self.first = self.last = 0.0

    def arrived(self, body: Any) -> None:
        now = time.time()
        with self.lock:
            self.count += 1
            if self.count == 1:
                self.first = now
            self.last = now
            if self.keep_latencies and isinstance(body, dict) and "ts" in body:
                self.latencies.append(now - body["ts"])
            if self.rss_every and self.count % self.rss_every == 0:
                self.rss.append((self.count, rss_bytes()))
        self.coord.add(1)

    def result(self) -> dict[str, Any]:
        with self.lock:
            return {"received": self.count, "first": self.first, "last": self.last,
                    "latencies": thin(self.latencies), "rss": self.rss,
                    "peak_rss": peak_rss_bytes()}


class NotifyEndpoint:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def info(self, ctxt: Any, publisher_id: str, event_type: str, body: Any,
             metadata: Any) -> None:
        self.receiver.arrived(body)


class RPCEndpoint:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def echo(self, ctxt: Any, n: int, ts: float, data: str) -> int:
        return n

    def tick(self, ctxt: Any, n: int, ts: float, data: str) -> None:
        self.receiver.arrived({"ts": ts})


def _serve_until_stopped(server: Any, transport: Any, receiver: Receiver,
                         spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    """Run ``server`` until the coordinator says stop; what ``receiver`` measured."""
    server.start()
    try:
        coord.ready(role)
        _wait_stop(spec, coord)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    return receiver.result()


def notify_listen(adapter: Any, spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    api = adapter.api
    transport = adapter.notification_transport(spec)
    receiver = Receiver(spec, coord)
    server = api.get_notification_listener(
        transport, [api.Target(topic=spec["topic"])], [NotifyEndpoint(receiver)],
        executor="threading", pool=spec.get("pool"))
    return _serve_until_stopped(server, transport, receiver, spec, coord, role)


def _confirm_all(transport: Any) -> None:
    """Count a pipelined send as sent once confirmed: flush inside the timed part.

    oslo.messaging's transports have no flush(): their sends are confirmed
    one by one before they return.
    """
    flush = getattr(transport, "flush", None)
    if flush is not None:
        flush(60)


def timed_sends(spec: dict[str, Any], coord: Coord, role: str,
                send: Callable[[int, float], None],
                finish: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """The producer side of a run: wait for the go signal, then ``send(n, deadline)``
    up to ``count`` times within ``duration`` seconds; ``finish()`` (a flush)
    still counts in the timed part."""
    coord.ready(role)
    if not coord.wait_go(time.time() + GRACE):
        return {"sent": 0, "start": 0.0, "end": 0.0, "timed_out": True}
    start = time.time()
    deadline = start + spec["duration"]
    sent, timed_out = 0, False
    for n in range(spec["count"]):
        if n % 64 == 0 and time.time() > deadline:
            timed_out = True
            break
        send(n, deadline)
        sent += 1
    finish()
    return {"sent": sent, "start": start, "end": time.time(), "timed_out": timed_out}


def notify_send(adapter: Any, spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    api = adapter.api
    transport = adapter.notification_transport(spec)
    notifier = api.Notifier(transport, publisher_id="bench", driver="messagingv2",
                            topics=[spec["topic"]])
    data = "x" * spec["payload_size"]
    window = spec.get("window") or 0
    rss_every = max(1, spec["count"] // 20) if spec.get("rss") else 0
    samples: list[tuple[int, int]] = []

    def send(n: int, deadline: float) -> None:
        while window and n - coord.received > window and time.time() < deadline:
            time.sleep(0.001)  # backpressure for long runs: measure leaks, not backlog
        notifier.info({"user": "bench"}, "bench.event", payload(n, data))
        if rss_every and (n + 1) % rss_every == 0:
            samples.append((n + 1, rss_bytes()))

    try:
        result = timed_sends(spec, coord, role, send, lambda: _confirm_all(transport))
    finally:
        transport.cleanup()
    return {**result, "rss": samples, "peak_rss": peak_rss_bytes()}


def rpc_serve(adapter: Any, spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    api = adapter.api
    transport = adapter.rpc_transport(spec)
    receiver = Receiver(spec, coord)
    server = api.get_rpc_server(transport, api.Target(topic=spec["topic"], server="s1"),
                                [RPCEndpoint(receiver)], executor="threading")
    return _serve_until_stopped(server, transport, receiver, spec, coord, role)


def _client(adapter: Any, spec: dict[str, Any]) -> tuple[Any, Any]:
    api = adapter.api
    transport = adapter.rpc_transport(spec)
    client = api.get_rpc_client(transport, api.Target(topic=spec["topic"]),
                                timeout=spec.get("call_timeout", 10))
    return transport, client


def rpc_call(adapter: Any, spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    """Sequential calls from one thread; or ``spec["threads"]`` threads on one client."""
    transport, client = _client(adapter, spec)
    data = "x" * spec["payload_size"]
    threads = max(1, spec.get("threads", 1))
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    reply_queues: list[str] = []
    try:
        for i in range(20):  # warm-up: reply queue, pooled connections, caches
            client.call({}, "echo", **payload(i, data))
        reply_queues = adapter.reply_queues(transport)
        coord.ready(role)
        if not coord.wait_go(time.time() + GRACE):
            return {"calls": 0, "start": 0.0, "end": 0.0, "timed_out": True}
        start = time.time()
        deadline = start + spec["duration"]
        per_thread = max(1, spec["count"] // threads)

        def caller(slot: list[float]) -> None:
            try:
                for n in range(per_thread):
                    if time.time() > deadline:
                        return
                    t0 = time.perf_counter()
                    if client.call({"user": "bench"}, "echo", **payload(n, data)) != n:
                        raise AssertionError("wrong answer")
                    slot.append(time.perf_counter() - t0)
            except Exception as exc:  # reported, and the run is marked failed
                errors.append(repr(exc))

        if threads == 1:
            caller(latencies[0])
        else:
            workers = [threading.Thread(target=caller, args=(slot,), daemon=True)
                       for slot in latencies]
            for w in workers:
                w.start()
            for w in workers:
                w.join(spec["duration"] + GRACE)
        end = time.time()
    finally:
        transport.cleanup()
    merged = [x for slot in latencies for x in slot]
    return {"calls": len(merged), "start": start, "end": end, "latencies": thin(merged),
            "errors": errors[:5], "timed_out": len(merged) < per_thread * threads,
            "reply_queues": reply_queues, "peak_rss": peak_rss_bytes()}


def rpc_cast(adapter: Any, spec: dict[str, Any], coord: Coord, role: str) -> dict[str, Any]:
    transport, client = _client(adapter, spec)
    data = "x" * spec["payload_size"]
    try:
        result = timed_sends(
            spec, coord, role,
            lambda n, _deadline: client.cast({"user": "bench"}, "tick", **payload(n, data)),
            lambda: _confirm_all(transport))
    finally:
        transport.cleanup()
    return {**result, "peak_rss": peak_rss_bytes()}
