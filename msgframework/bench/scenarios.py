"""The scenario catalogue, and running one scenario for one implementation.

A scenario is consumers (started first, each says when it listens) and
producers (started together once every consumer listens). The run ends when
the producers are done and, for one-way traffic, when the consumers counted
every message, or when its time is up; every wait has a deadline, and child
processes still alive at the end are terminated.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from msgframework.bench import broker
from msgframework.bench.coord import Coord
from msgframework.bench.roles_api import GRACE
from msgframework.bench.stats import percentile, rate
from msgframework.bench.worker import run_role

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    consumers: tuple[str, ...]
    producer: str
    one_way: bool  # consumers count arrivals (the run waits for all of them)
    threads: int = 1
    pool: bool = False
    kombu: bool = False  # raw kombu floor scenarios (publish + consume)
    confirms: bool = True


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("notify", "notifications: one sender process, one listener process",
             ("notify_listen",), "notify_send", one_way=True),
    Scenario("notify-pool2", "notifications to a pool of 2 listener processes",
             ("notify_listen", "notify_listen"), "notify_send", one_way=True, pool=True),
    Scenario("rpc-call", "sequential RPC calls from one thread",
             ("rpc_serve",), "rpc_call", one_way=False),
    Scenario("rpc-call-8", "RPC calls from 8 threads sharing one client",
             ("rpc_serve",), "rpc_call", one_way=False, threads=8),
    Scenario("cast", "RPC casts from one thread", ("rpc_serve",), "rpc_cast", one_way=True),
    Scenario("kombu-confirm", "raw kombu: publish with a confirm per message, consume",
             ("kombu_consume",), "kombu_publish", one_way=True, kombu=True),
    Scenario("kombu-noconfirm", "raw kombu: publish without confirms, consume",
             ("kombu_consume",), "kombu_publish", one_way=True, kombu=True, confirms=False),
    Scenario("rss", "N notifications, RSS sampled at intervals, peak reported",
             ("notify_listen",), "notify_send", one_way=True),
)}

#: The scenarios run when none are named.
DEFAULT_SCENARIOS = ("notify", "notify-pool2", "rpc-call", "rpc-call-8", "cast")


@dataclass
class RunOptions:
    url: str
    oslo_url: str
    kombu_url: str
    count: int = 2000
    payload_size: int = 100
    duration: float = 30.0
    in_process: bool = False  # the memory driver: threads of this process
    rabbit: bool = False
    log_level: int = logging.WARNING


def _launch(opts: RunOptions, impl: str, role: str, spec: dict[str, Any], coord: Coord,
            role_id: str) -> Any:
    args = (impl, role, spec, coord, role_id, opts.log_level)
    if opts.in_process:
        worker: Any = threading.Thread(target=run_role, args=args, daemon=True,
                                       name=f"bench-{role_id}")
    else:
        import multiprocessing

        worker = multiprocessing.get_context("spawn").Process(
            target=run_role, args=args, daemon=True, name=f"bench-{role_id}")
    worker.start()
    return worker


def run_once(scenario: Scenario, impl: str, opts: RunOptions, count: int | None = None,
             rss: bool = False, window: int = 0) -> dict[str, Any]:
    """Run ``scenario`` once for ``impl`` (ours, oslo, kombu); returns its metrics."""
    names = broker.RunNames()
    count = count or opts.count
    spec: dict[str, Any] = {
        "url": opts.url, "oslo_url": opts.oslo_url, "kombu_url": opts.kombu_url,
        "exchange": names.exchange, "topic": names.topic, "count": count,
        "payload_size": opts.payload_size, "duration": opts.duration,
        "threads": scenario.threads, "pool": names.pool if scenario.pool else None,
        "confirms": scenario.confirms, "rss": rss, "window": window}
    coord = Coord(count, processes=not opts.in_process)
    roles = [(f"c{i}", role) for i, role in enumerate(scenario.consumers)]
    workers = {rid: _launch(opts, impl, role, spec, coord, rid) for rid, role in roles}
    producer_id = "p0"  # launched once every consumer listens: nothing is sent unrouted
    expected = len(workers) + 1
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    ready: set[str] = set()
    hard = time.time() + opts.duration + GRACE * 2
    go_at = None
    try:
        while len(results) + len(errors) < expected and time.time() < hard:
            try:
                kind, rid, data = coord.results.get(timeout=0.2)
            except queue.Empty:
                kind = None
                if not any(_alive(w) for rid_, w in workers.items()
                           if rid_ not in results and rid_ not in errors):
                    break  # every worker left without a word: crashed
            if kind == "ready":
                ready.add(rid)
                if len(ready) == len(roles) and producer_id not in workers:
                    workers[producer_id] = _launch(opts, impl, scenario.producer, spec, coord,
                                                   producer_id)
                elif len(ready) == expected and not coord.go.is_set():
                    go_at = time.time()
                    coord.go.set()
            elif kind == "result":
                results[rid] = data
            elif kind == "error":
                errors[rid] = data
                coord.stop.set()
            producer_done = producer_id in results or producer_id in errors
            if producer_done and not coord.stop.is_set():
                sent = results.get(producer_id, {}).get("sent", 0)
                if (not scenario.one_way or coord.done.is_set() or coord.received >= sent
                        or (go_at and time.time() > go_at + opts.duration + GRACE)):
                    coord.stop.set()
            if go_at is None and time.time() > hard - opts.duration - GRACE:
                errors.setdefault("startup", "workers were not ready in time")
                coord.stop.set()
    finally:
        coord.stop.set()
        coord.go.set()  # a producer still waiting for the start gives up at once
        _reap(workers)
        if opts.rabbit:
            extra = [q for r in results.values() for q in r.get("reply_queues", [])]
            try:
                broker.delete_names(opts.kombu_url, names, extra)
            except Exception as exc:
                LOG.warning("Cleanup of run %s failed: %s", names.run_id, exc)
    metrics = summarize(scenario, results)
    metrics["errors"] = errors
    metrics["run_id"] = names.run_id
    return metrics


def _alive(worker: Any) -> bool:
    return bool(worker.is_alive())


def _reap(workers: dict[str, Any]) -> None:
    deadline = time.time() + 15
    for worker in workers.values():
        worker.join(max(0.1, deadline - time.time()))
    for worker in workers.values():
        if worker.is_alive() and hasattr(worker, "terminate"):
            worker.terminate()
            worker.join(5)


def summarize(scenario: Scenario, results: dict[str, Any]) -> dict[str, Any]:
    """Rates and latencies from the roles' raw results."""
    producers = [r for rid, r in results.items() if rid.startswith("p")]
    consumers = [r for rid, r in results.items() if rid.startswith("c")]
    out: dict[str, Any] = {"timed_out": any(r.get("timed_out") for r in producers)}
    if not producers:
        return out
    prod = producers[0]
    start, end = prod.get("start") or 0.0, prod.get("end") or 0.0
    if scenario.one_way:
        sent = prod.get("sent", 0)
        received = sum(c.get("received", 0) for c in consumers)
        last = max((c.get("last", 0.0) for c in consumers), default=0.0)
        latencies = [x for c in consumers for x in c.get("latencies", [])]
        out.update(sent=sent, received=received,
                   send_rate=rate(sent, end - start),
                   e2e_rate=rate(received, last - start) if received >= sent else None,
                   lat_p50=_ms(percentile(latencies, 0.50)),
                   lat_p99=_ms(percentile(latencies, 0.99)),
                   per_consumer=[c.get("received", 0) for c in consumers])
        if received < sent:
            out["lost_or_late"] = sent - received
    else:
        calls = prod.get("calls", 0)
        latencies = prod.get("latencies", [])
        out.update(calls=calls, call_rate=rate(calls, end - start),
                   call_p50=_ms(percentile(latencies, 0.50)),
                   call_p99=_ms(percentile(latencies, 0.99)))
        if prod.get("errors"):
            out["call_errors"] = prod["errors"]
    out["peak_rss"] = {rid: r.get("peak_rss") for rid, r in results.items()}
    out["rss_samples"] = {rid: r.get("rss") for rid, r in results.items() if r.get("rss")}
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0
