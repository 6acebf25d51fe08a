"""``msgframework bench``: scenarios on any transport URL, compared with oslo.messaging.

::

    msgframework bench --transport-url rabbit://guest:guest@127.0.0.1:5672/ \\
        --count 5000 --repeat 3 --json bench.json
    msgframework bench --transport-url memory://bench --scenario rpc-call
    msgframework bench --transport-url sqlite:///tmp/bench.db
    msgframework bench --transport-url memory://x --scenario rss --count 1000000

On RabbitMQ, when oslo.messaging is installed, every scenario also runs
through oslo.messaging on the same broker (alternating with ours), and raw
kombu publishing with and without confirms runs as the floor. One table
shows ours, theirs and the ratio; ``--json`` writes everything. Every run
is bounded by ``--count`` and by ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from typing import Any

from msgframework.cli.common import UsageError, emit, non_negative_int, positive_int, seconds

__all__ = ["add_parser", "run"]




def add_parser(subparsers: Any) -> None:
    from msgframework.bench.scenarios import DEFAULT_SCENARIOS, SCENARIOS

    helptext = "measure notifications and RPC, and compare with oslo.messaging"
    p = subparsers.add_parser("bench", help=helptext, description=__doc__.split("::")[0].strip(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    names = sorted(n for n in SCENARIOS if not n.startswith("kombu-"))
    p.add_argument("--scenario", "-s", action="append", choices=names, dest="scenarios",
                   help=f"a scenario to run (repeatable; default: {', '.join(DEFAULT_SCENARIOS)})")
    p.add_argument("--count", "-n", type=positive_int, default=2000,
                   help="messages (or calls) per run (default 2000)")
    p.add_argument("--payload-size", type=non_negative_int, default=100,
                   help="bytes of filler in each payload (default 100)")
    p.add_argument("--duration", type=seconds, default=30.0,
                   help="upper bound in seconds of each run's sending (default 30)")
    p.add_argument("--repeat", type=positive_int, default=1,
                   help="runs per scenario and implementation, alternated; medians shown")
    p.add_argument("--no-oslo", action="store_true",
                   help="do not compare with oslo.messaging even when it is installed")
    p.add_argument("--no-kombu", action="store_true",
                   help="do not measure the raw kombu floor")
    p.add_argument("--rss-window", type=non_negative_int, default=10000,
                   help="rss scenario: max messages sent ahead of the listener (0: unbounded)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")


def _options(url: str, args: argparse.Namespace) -> Any:
    from oslo_config import cfg

    from msgframework.bench import broker
    from msgframework.bench.scenarios import RunOptions
    from msgframework.transport_url import TransportURL

    try:
        parsed = TransportURL.parse(cfg.ConfigOpts(), url)
    except Exception as exc:
        raise UsageError(f"bad transport URL: {exc}") from exc
    rabbit = broker.is_rabbit(url)
    ours_url, oslo_url = url, url
    if rabbit:  # reply/fanout queues we cannot name expire a minute after the run
        from msgframework.bench.adapters import TRANSIENT_QUEUES_TTL

        sep = "&" if "?" in url else "?"
        ours_url = f"{url}{sep}rabbit_transient_queues_ttl={TRANSIENT_QUEUES_TTL}"
    level = logging.DEBUG if getattr(args, "debug", False) else logging.WARNING
    return RunOptions(url=ours_url, oslo_url=oslo_url,
                      kombu_url=broker.kombu_url(parsed) if rabbit else "",
                      count=args.count, payload_size=args.payload_size,
                      duration=args.duration, rabbit=rabbit,
                      in_process=parsed.driver_name in ("memory", "fake"), log_level=level), parsed


def run(args: argparse.Namespace) -> int:
    from msgframework.bench import report, runner
    from msgframework.bench.scenarios import DEFAULT_SCENARIOS, SCENARIOS, run_once

    ctx = args.cli_context
    tmp = None
    url = ctx.transport_url
    if not url:
        tmp = tempfile.TemporaryDirectory(prefix="msgframework-bench-")
        url = f"sqlite://{os.path.join(tmp.name, 'bench.db')}"
    try:
        opts, parsed = _options(url, args)
        scenarios = args.scenarios or list(DEFAULT_SCENARIOS)
        compare = opts.rabbit and not args.no_oslo and runner.oslo_available()
        impls = ["ours", "oslo"] if compare else ["ours"]
        floor = opts.rabbit and not args.no_kombu
        if scenarios == ["rss"]:  # the rss scenario measures ours only
            impls, floor = ["ours"], False
        emit(f"msgframework bench on {parsed.redacted()}: count={args.count} "
             f"payload={args.payload_size}B duration<={args.duration:g}s "
             f"repeat={args.repeat} implementations={','.join(impls)}"
             f"{' + kombu floor' if floor else ''}")
        if opts.rabbit and not compare and not args.no_oslo:
            emit("(oslo.messaging is not installed: only our numbers)")
        machine = runner.machine_info(opts.kombu_url or None)
        settings = runner.settings(opts, impls, floor)
        document: dict[str, Any] = {
            "command": " ".join(["msgframework", *sys.argv[2:]]) if sys.argv[1:2] == ["bench"]
            else "msgframework bench",
            "url": parsed.redacted(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine, "settings": settings,
            "params": {"count": args.count, "payload_size": args.payload_size,
                       "duration": args.duration, "repeat": args.repeat}}
        failed = False
        if "rss" in scenarios:
            scenarios = [s for s in scenarios if s != "rss"]
            result = run_once(SCENARIOS["rss"], "ours", opts, rss=True, window=args.rss_window)
            document["rss"] = result
            emit(f"rss: {result.get('received', 0):,} of {result.get('sent', 0):,} "
                 f"notifications received")
            emit(report.render_rss(result))
            failed |= bool(result.get("errors")) or bool(result.get("lost_or_late"))
        if scenarios:
            results = runner.run_bench(opts, scenarios, impls, args.repeat, floor,
                                       progress=emit)
            rows = report.table_rows(results)
            document["results"], document["table"] = results, rows
            emit("")
            emit(report.render_table(rows))
            failed |= any(slot.get("errors") for per in results.values() for slot in per.values())
        document["load_avg_end"] = os.getloadavg()[0]
        emit("settings:")
        emit(report.render_settings(settings))
        emit("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
        if args.json:
            report.write_json(args.json, document)
            emit(f"JSON written to {args.json}")
        return 1 if failed else 0
    finally:
        if tmp is not None:
            tmp.cleanup()
