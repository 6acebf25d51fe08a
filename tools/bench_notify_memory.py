#!/usr/bin/env python
"""Benchmark of the notification path in one process on the memory transport.

    python tools/bench_notify_memory.py [-n 20000] [--executor threading]
                                        [--batch 0] [--url memory://bench]

A Notifier (messagingv2 driver, the default) sends N INFO notifications
while a notification listener consumes them, acknowledging each after its
endpoint returned. Printed:

* ``sent/s``: N / time of the N ``notifier.info()`` calls (the publisher's
  cost, listener running meanwhile);
* ``end-to-end/s``: N / (time the endpoint saw the last one - first send);
* the same with a batch listener when ``--batch`` is set.

``--url`` runs the same measurement on another transport (e.g.
``sqlite:///tmp/bench.db``); without it, ``memory://<unique>`` is used when
the memory driver is installed, else a temporary SQLite file (said so).
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import threading
import time
import uuid
from typing import Any

from oslo_config import cfg

from msgframework.notify.listener import (
    get_batch_notification_listener,
    get_notification_listener,
)
from msgframework.notify.notifier import Notifier
from msgframework.target import Target
from msgframework.transport import get_notification_transport


class Counter:
    """Endpoint counting notifications; sets ``done`` at the N-th."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.finished_at = 0.0

    def _add(self, n: int) -> None:
        with self.lock:
            self.count += n
            if self.count >= self.expected and not self.done.is_set():
                self.finished_at = time.perf_counter()
                self.done.set()

    def info(self, *args: Any) -> None:
        # single: (ctxt, publisher_id, event_type, payload, metadata); batch: (list,)
        self._add(len(args[0]) if len(args) == 1 else 1)


def default_url() -> str:
    if importlib.util.find_spec("msgframework.drivers.memory.driver") is not None:
        return f"memory://bench-{uuid.uuid4().hex}"
    path = tempfile.mkdtemp(prefix="bench-notify-")
    print("(memory driver not installed: using a temporary SQLite file)")
    return f"sqlite://{path}/bench.db"


def run(url: str, count: int, executor: str, batch: int) -> dict[str, float]:
    transport = get_notification_transport(cfg.ConfigOpts(), url)
    endpoint = Counter(count)
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    targets = [Target(topic=topic)]
    if batch:
        server = get_batch_notification_listener(transport, targets, [endpoint],
                                                 executor=executor, batch_size=batch,
                                                 batch_timeout=0.05)
    else:
        server = get_notification_listener(transport, targets, [endpoint], executor=executor)
    notifier = Notifier(transport, "bench.publisher", topics=[topic])
    server.start()
    try:
        payload = {"instance_id": "5c8d", "state": "active", "memory_mb": 2048}
        ctxt = {"request_id": "req-bench", "user": "u1", "project": "p1"}
        start = time.perf_counter()
        for _ in range(count):
            notifier.info(ctxt, "compute.instance.update", payload)
        sent = time.perf_counter() - start
        if not endpoint.done.wait(max(60.0, count / 500)):
            raise SystemExit(f"only {endpoint.count}/{count} notifications arrived")
        total = endpoint.finished_at - start
    finally:
        server.stop(timeout=30)
        server.wait(timeout=30)
        transport.cleanup()
    if notifier.stats.failed:
        raise SystemExit(f"{notifier.stats.failed} sends failed")
    return {"sent_per_s": count / sent, "end_to_end_per_s": count / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--notifications", type=int, default=20000)
    parser.add_argument("--executor", default="threading",
                        choices=["threading", "blocking"])
    parser.add_argument("--batch", type=int, default=0,
                        help="also measure a batch listener with this batch_size")
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or default_url()
    shown = url.split("?")[0]
    results = [("single", run(url, args.notifications, args.executor, 0))]
    if args.batch:
        results.append((f"batch={args.batch}",
                        run(url, args.notifications, args.executor, args.batch)))
    for label, r in results:
        print(f"{shown} {label:>9} executor={args.executor} n={args.notifications}: "
              f"sent/s={r['sent_per_s']:,.0f}  end-to-end/s={r['end_to_end_per_s']:,.0f}")


if __name__ == "__main__":
    main()
