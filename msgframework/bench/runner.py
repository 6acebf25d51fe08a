"""Plan and run a whole benchmark: scenarios x implementations, alternated.

Runs alternate (ours, oslo, ours, oslo, ...) within each scenario, so that
drift on a shared machine (another job starting, the broker compacting its
store) hits both sides rather than one; the median of the repeats is what
the table shows.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from msgframework.bench.scenarios import SCENARIOS, RunOptions, run_once
from msgframework.bench.stats import median

#: The raw kombu floor scenarios, run on RabbitMQ when kombu is compared.
FLOOR_SCENARIOS = ("kombu-confirm", "kombu-noconfirm")

METRIC_KEYS = ("send_rate", "e2e_rate", "lat_p50", "lat_p99", "call_rate", "call_p50",
               "call_p99", "sent", "received", "calls")


def oslo_available() -> bool:
    return importlib.util.find_spec("oslo_messaging") is not None


def run_bench(opts: RunOptions, scenarios: Sequence[str], impls: Sequence[str],
              repeat: int = 1, floor: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every scenario for every implementation, ``repeat`` times, alternated.

    Returns ``{scenario: {impl: {"median": {...}, "runs": [...]}}}``.
    """
    say = progress or (lambda line: None)
    plan: list[tuple[str, str]] = []
    for name in scenarios:
        for r in range(repeat):
            order = list(impls) if r % 2 == 0 else list(reversed(impls))
            plan += [(name, impl) for impl in order]
    if floor:
        for _ in range(repeat):
            plan += [(name, "kombu") for name in FLOOR_SCENARIOS]
    results: dict[str, dict[str, Any]] = {}
    for i, (name, impl) in enumerate(plan, 1):
        t0 = time.time()
        metrics = run_once(SCENARIOS[name], impl, opts)
        slot = results.setdefault(name, {}).setdefault(impl, {"runs": []})
        slot["runs"].append(metrics)
        say(f"[{i}/{len(plan)}] {name:<16} {impl:<5} {time.time() - t0:5.1f}s  "
            f"{_brief(metrics)}")
    for per_impl in results.values():
        for slot in per_impl.values():
            slot["median"] = {k: median(run.get(k) for run in slot["runs"])
                              for k in METRIC_KEYS
                              if any(run.get(k) is not None for run in slot["runs"])}
            slot["errors"] = [run["errors"] for run in slot["runs"] if run.get("errors")]
    return results


def _brief(m: dict[str, Any]) -> str:
    parts = []
    for key, label, fmt in (("send_rate", "send", "{:,.0f}/s"), ("e2e_rate", "e2e", "{:,.0f}/s"),
                            ("lat_p50", "p50", "{:.2f}ms"), ("call_p50", "p50", "{:.3f}ms"),
                            ("call_p99", "p99", "{:.3f}ms"), ("call_rate", "calls", "{:,.0f}/s")):
        if m.get(key) is not None:
            parts.append(f"{label} {fmt.format(m[key])}")
    if m.get("lost_or_late"):
        parts.append(f"MISSING {m['lost_or_late']}")
    if m.get("errors"):
        parts.append(f"ERRORS in {', '.join(m['errors'])}")
    return "  ".join(parts)


def machine_info(amqp_url: str | None = None) -> dict[str, Any]:
    """What the numbers depend on: CPU, cores, memory, load, versions, the broker's version."""
    info: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.platform(),
                            "cores": os.cpu_count(), "load_avg": os.getloadavg()[0]}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f
                                if line.startswith("model name")), platform.processor())
        with open("/proc/meminfo", encoding="utf-8") as f:
            kib = int(f.readline().split()[1])
            info["memory_gib"] = round(kib / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    from importlib import metadata

    for dist in ("kombu", "amqp", "oslo.messaging"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    if amqp_url:
        try:
            import kombu

            with kombu.Connection(amqp_url, connect_timeout=5) as conn:
                conn.connect()
                props = conn.connection.server_properties
                version = props.get("version")
                info["rabbitmq"] = version.decode() if isinstance(version, bytes) else version
        except Exception as exc:
            info["rabbitmq"] = f"unknown ({type(exc).__name__})"
    return info


def settings(opts: RunOptions, impls: Sequence[str], floor: bool) -> dict[str, dict[str, str]]:
    """Confirms, persistence and prefetch of each implementation: they move the numbers most."""
    from oslo_config import cfg

    from msgframework import opts as core_opts
    from msgframework.transport_url import TransportURL

    conf = cfg.ConfigOpts()
    core_opts.register_opts(conf)
    parsed = TransportURL.parse(conf, opts.url)
    pool = conf.executor_thread_pool_size
    out: dict[str, dict[str, str]] = {}
    if opts.rabbit:
        qos = parsed.query.get("rabbit_qos_prefetch_count", "0")
        window = parsed.query.get("confirm_window", "64")
        out["ours"] = {
            "confirms": (f"on, pipelined: up to confirm_window={window} notifications/casts "
                         "await their confirm, each confirmed or raised (flush() before the "
                         "run ends); calls wait for the reply, replies for their confirm"
                         if window != "0" else
                         "on: every publish confirmed by the broker before send returns"),
            "persistence": "delivery_mode 2 (persistent); queues durable per "
                           "amqp_durable_queues (default off), as oslo",
            "prefetch": f"server: executor_thread_pool_size={pool} per listener; "
                        f"rabbit_qos_prefetch_count={qos}",
            "ack": "notifications acknowledged after the endpoint returned"}
        if "oslo" in impls:
            out["oslo"] = {
                "confirms": "on: confirm_publish, one synchronous wait per publish",
                "persistence": "delivery_mode 2 (kombu's default); queues non-durable",
                "prefetch": "rabbit_qos_prefetch_count=0 (unlimited)",
                "ack": "notifications acknowledged after the endpoint returned"}
        if floor:
            out["kombu"] = {"confirms": "kombu-confirm: one synchronous confirm per publish; "
                                        "kombu-noconfirm: none",
                            "persistence": "delivery_mode 2; queue non-durable",
                            "prefetch": "64", "ack": "after decoding, one by one"}
    else:
        out["ours"] = {"confirms": f"n/a: {parsed.driver_name} driver (no broker)",
                       "persistence": "memory: none (in-process)" if parsed.driver_name in (
                           "memory", "fake") else f"{parsed.driver_name}: driver defaults",
                       "prefetch": f"server: executor_thread_pool_size={pool}",
                       "ack": "after the endpoint returned"}
    return out
