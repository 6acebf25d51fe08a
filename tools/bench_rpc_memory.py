#!/usr/bin/env python
"""Benchmark of RPC calls in one process on the memory transport.

    python tools/bench_rpc_memory.py [-n 5000] [--threads 8] [--executor threading]
                                     [--url memory://bench] [--oslo]

One RPC server (one endpoint, ``add(a, b)``) and one client on the same
transport. Printed:

* sequential ``call()`` latency, p50/p90/p99 over N calls from one thread,
  after a warm-up, and the process CPU time per call (all threads): on a
  loaded machine the percentiles include waiting for a CPU, the CPU time
  does not;
* throughput of ``--threads`` threads calling through one shared client
  (calls/s over N calls in all).

``--oslo`` runs the same measurement on oslo.messaging's own ``fake://``
driver for comparison (its reply wait polls, hence its ~50 ms per call;
fewer calls are made there).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from typing import Any

from oslo_config import cfg


class Adder:
    def add(self, ctxt: Any, a: int, b: int) -> int:
        return a + b


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _measure(client: Any, count: int, threads: int) -> dict[str, float]:
    for i in range(min(200, count)):  # warm-up: caches, thread pools, reply queue
        client.call({}, "add", a=i, b=1)
    latencies = []
    cpu_start = time.process_time()
    for i in range(count):
        start = time.perf_counter()
        if client.call({"request_id": "req-1"}, "add", a=i, b=1) != i + 1:
            raise SystemExit("wrong answer")
        latencies.append(time.perf_counter() - start)
    cpu_per_call = (time.process_time() - cpu_start) / count
    latencies.sort()

    per_thread = max(1, count // threads)
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def caller(n: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                if client.call({}, "add", a=n, b=i) != n + i:
                    raise AssertionError("wrong answer")
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=caller, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} calling threads failed: {errors[0]!r}")
    return {"p50": _percentile(latencies, 0.50), "p90": _percentile(latencies, 0.90),
            "p99": _percentile(latencies, 0.99), "mean": statistics.fmean(latencies),
            "cpu": cpu_per_call,
            "throughput": per_thread * threads / elapsed}


def run_ours(url: str, count: int, threads: int, executor: str) -> dict[str, float]:
    from msgframework.rpc import get_rpc_client, get_rpc_server
    from msgframework.target import Target
    from msgframework.transport import get_rpc_transport

    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    server = get_rpc_server(transport, Target(topic=topic, server="s1"), [Adder()],
                            executor=executor)
    server.start()
    try:
        client = get_rpc_client(transport, Target(topic=topic), timeout=30)
        return _measure(client, count, threads)
    finally:
        server.stop(timeout=30)
        server.wait(timeout=30)
        transport.cleanup()


def run_oslo(count: int, threads: int) -> dict[str, float]:
    import oslo_messaging

    # oslo.messaging reads its tracing/metrics options from the global CONF
    # whatever ConfigOpts it is given, so it must run on cfg.CONF.
    conf = cfg.CONF
    conf([], project="bench")
    transport = oslo_messaging.get_rpc_transport(conf, f"fake://bench{uuid.uuid4().hex}")
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server="s1"), [Adder()])
    server.start()
    try:
        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic=topic),
                                               timeout=30)
        return _measure(client, count, threads)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


def _show(label: str, n: int, threads: int, r: dict[str, float]) -> None:
    print(f"{label}: sequential n={n}: p50={r['p50'] * 1e3:.3f} ms  "
          f"p90={r['p90'] * 1e3:.3f} ms  p99={r['p99'] * 1e3:.3f} ms  "
          f"(mean {r['mean'] * 1e3:.3f} ms, CPU {r['cpu'] * 1e3:.3f} ms/call); "
          f"{threads} threads: "
          f"{r['throughput']:,.0f} calls/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--calls", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--executor", default="threading",
                        choices=["threading", "blocking"])
    parser.add_argument("--url", default=None,
                        help="transport URL (default: a private memory:// broker)")
    parser.add_argument("--oslo", action="store_true",
                        help="also measure oslo.messaging's fake driver (100 calls)")
    args = parser.parse_args()
    url = args.url or f"memory://bench-{uuid.uuid4().hex}"
    _show(f"msgframework {url.split('?')[0]} executor={args.executor}", args.calls,
          args.threads, run_ours(url, args.calls, args.threads, args.executor))
    if args.oslo:
        n = min(args.calls, 100)
        _show("oslo.messaging fake://", n, args.threads, run_oslo(n, args.threads))


if __name__ == "__main__":
    main()
