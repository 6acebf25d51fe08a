#!/usr/bin/env python
"""Benchmark of the SQLite transport between two processes on one file.

    python tools/bench_sqlite.py [--notifications 5000] [--calls 1000] [--batch 64]

* notifications: this process publishes N notifications (one send each, as a
  Notifier does) while a child process listens, acknowledging each; the
  rate is N / (time the child got the last one - time of the first send).
* RPC: a child process serves; this process makes sequential calls and
  reports p50/p99 round-trip latency.

Targets (the issue): >= 2,000 notifications/s; call p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from oslo_config import cfg

from msgframework.target import Target
from msgframework.transport import get_rpc_transport


def child_consume(url: str, count: int, batch: int, prefetch: int) -> None:
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    listener = transport._listen_for_notifications([(Target(topic="bench"), "info")])
    listener.prefetch = prefetch  # what a server with that many worker threads sets
    print("ready", flush=True)
    got = 0
    while got < count:
        for msg in listener.poll(timeout=10, batch_size=batch, batch_timeout=0):
            msg.acknowledge()
            got += 1
    print(json.dumps({"end": time.time()}), flush=True)
    listener.cleanup()
    transport.cleanup()


def child_stack_consume(url: str, count: int) -> None:
    """The full stack: a notification listener server with the threading executor."""
    import threading

    from msgframework.notify.listener import get_notification_listener
    from msgframework.transport import get_notification_transport

    transport = get_notification_transport(cfg.ConfigOpts(), url)
    done = threading.Event()
    seen = [0]
    lock = threading.Lock()

    class Endpoint:
        def info(self, ctxt: object, publisher_id: str, event_type: str, payload: object,
                 metadata: object) -> None:
            with lock:
                seen[0] += 1
                if seen[0] == count:
                    done.set()

    server = get_notification_listener(transport, [Target(topic="bench")], [Endpoint()])
    server.start()
    cpu = time.process_time()
    print("ready", flush=True)
    done.wait(120)
    end = time.time()
    print(json.dumps({"end": end, "cpu": time.process_time() - cpu}), flush=True)
    server.stop()
    server.wait()
    transport.cleanup()


def bench_stack_notifications(url: str, count: int) -> float:
    from msgframework.notify.notifier import Notifier
    from msgframework.transport import get_notification_transport

    proc = spawn("--child-stack-consume", url, str(count))
    transport = get_notification_transport(cfg.ConfigOpts(), url)
    notifier = Notifier(transport, "bench", driver="messagingv2", topics=["bench"])
    cpu = time.process_time()
    start = time.time()
    for n in range(count):
        notifier.info({"user": "bench"}, "bench.n", {"n": n})
    sent = time.time()
    cpu = time.process_time() - cpu
    assert proc.stdout is not None
    report = json.loads(proc.stdout.readline())
    end = report["end"]
    proc.wait(30)
    transport.cleanup()
    rate = count / (end - start)
    print(f"notifications, full stack (Notifier -> NotificationServer, threading executor): "
          f"{count} in {end - start:.3f}s = {rate:,.0f}/s "
          f"(publishing alone {count / (sent - start):,.0f}/s; CPU per notification: "
          f"publisher {cpu / count * 1e6:.0f} us, consumer "
          f"{report['cpu'] / count * 1e6:.0f} us)")
    return rate


def child_serve(url: str) -> None:
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    listener = transport._listen(Target(topic="bench", server="s"))
    print("ready", flush=True)
    while True:
        for msg in listener.poll(timeout=10):
            msg.acknowledge()
            if msg.message["method"] == "stop":
                msg.reply("bye")
                listener.cleanup()
                transport.cleanup()
                return
            msg.reply(msg.message["args"])


def spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise SystemExit(f"child failed to start: {line!r}")
    return proc


def bench_notifications(url: str, count: int, batch: int, prefetch: int) -> float:
    proc = spawn("--child-consume", url, str(count), str(batch), str(prefetch))
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    target = Target(topic="bench.info")
    cpu = time.process_time()
    start = time.time()
    for n in range(count):
        transport._send_notification(target, {"user": "bench"},
                                     {"event_type": "bench.n", "priority": "INFO",
                                      "publisher_id": "bench", "payload": {"n": n}}, 2.0)
    sent = time.time()
    cpu = time.process_time() - cpu
    assert proc.stdout is not None
    end = json.loads(proc.stdout.readline())["end"]
    proc.wait(30)
    transport.cleanup()
    rate = count / (end - start)
    print(f"publisher CPU per notification: {cpu / count * 1e6:.0f} us "
          f"(load-independent; the machine's load average is {os.getloadavg()[0]:.1f})")
    print(f"notifications: {count} in {end - start:.3f}s end to end = {rate:,.0f}/s "
          f"(publishing alone {count / (sent - start):,.0f}/s, consumer batch {batch}, "
          f"prefetch {prefetch})")
    return rate


def bench_calls(url: str, count: int) -> tuple[float, float]:
    proc = spawn("--child-serve", url)
    transport = get_rpc_transport(cfg.ConfigOpts(), url)
    target = Target(topic="bench")
    for _ in range(20):  # warm up
        transport._send(target, {}, {"method": "echo", "args": {}}, wait_for_reply=True,
                        timeout=10)
    times = []
    for n in range(count):
        t0 = time.perf_counter()
        transport._send(target, {"user": "bench"}, {"method": "echo", "args": {"n": n}},
                        wait_for_reply=True, timeout=10)
        times.append(time.perf_counter() - t0)
    transport._send(target, {}, {"method": "stop", "args": {}}, wait_for_reply=True, timeout=10)
    proc.wait(30)
    transport.cleanup()
    times.sort()
    p50 = statistics.median(times) * 1000
    p99 = times[int(len(times) * 0.99) - 1] * 1000
    print(f"rpc call: {count} sequential calls across processes: p50 {p50:.2f} ms, "
          f"p99 {p99:.2f} ms, mean {statistics.mean(times) * 1000:.2f} ms")
    return p50, p99


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-consume":
        return child_consume(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    if len(sys.argv) > 1 and sys.argv[1] == "--child-stack-consume":
        return child_stack_consume(sys.argv[2], int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "--child-serve":
        return child_serve(sys.argv[2])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--notifications", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1,
                        help="consumer poll batch size (1, as a notification server polls)")
    parser.add_argument("--prefetch", type=int, default=64,
                        help="consumer prefetch (a server sets its worker count; 0 = none)")
    parser.add_argument("--stack", action="store_true",
                        help="also measure through Notifier and the notification server")
    parser.add_argument("--url", help="sqlite URL (default: a fresh temp file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite://{os.path.join(tmp, 'bench.db')}"
        print(f"SQLite transport at {url}")
        rate = bench_notifications(url, args.notifications, args.batch, args.prefetch)
        if args.stack:
            rate = min(rate, bench_stack_notifications(url, args.notifications))
        p50, _p99 = bench_calls(url, args.calls)
    ok = rate >= 2000 and p50 < 5
    print("targets (>= 2,000 notifications/s, call p50 < 5 ms):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
