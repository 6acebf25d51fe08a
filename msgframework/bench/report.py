"""The comparison table (text) and the JSON document of a run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

#: (scenario, metric key, label, higher_is_better) in table order.
ROWS: tuple[tuple[str, str, str, bool], ...] = (
    ("notify", "send_rate", "send msg/s", True),
    ("notify", "e2e_rate", "end-to-end msg/s", True),
    ("notify", "lat_p50", "latency p50 ms", False),
    ("notify", "lat_p99", "latency p99 ms", False),
    ("notify-pool2", "send_rate", "send msg/s", True),
    ("notify-pool2", "e2e_rate", "end-to-end msg/s", True),
    ("notify-pool2", "lat_p50", "latency p50 ms", False),
    ("notify-pool2", "lat_p99", "latency p99 ms", False),
    ("rpc-call", "call_p50", "call p50 ms", False),
    ("rpc-call", "call_p99", "call p99 ms", False),
    ("rpc-call", "call_rate", "calls/s", True),
    ("rpc-call-8", "call_rate", "calls/s", True),
    ("rpc-call-8", "call_p50", "call p50 ms", False),
    ("rpc-call-8", "call_p99", "call p99 ms", False),
    ("cast", "send_rate", "send msg/s", True),
    ("cast", "e2e_rate", "end-to-end msg/s", True),
)

#: Floor columns: raw kombu scenario shown beside the one-way send/end-to-end rows.
FLOOR_COLUMNS = (("kombu-confirm", "kombu+confirm"), ("kombu-noconfirm", "kombu no-confirm"))

HEADERS = ("scenario", "metric", "ours", "oslo", "ours/oslo", *[c[1] for c in FLOOR_COLUMNS])


def _value(results: dict[str, Any], scenario: str, impl: str, key: str) -> float | None:
    value = results.get(scenario, {}).get(impl, {}).get("median", {}).get(key)
    return value if isinstance(value, (int, float)) else None


def _fmt(value: float | None, key: str) -> str:
    if value is None:
        return "-"
    if key.endswith("_rate"):
        return f"{value:,.0f}"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def table_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per row that has any number: the JSON's ``table`` and the text table's source."""
    rows = []
    for scenario, key, label, higher in ROWS:
        if scenario not in results:
            continue
        ours = _value(results, scenario, "ours", key)
        oslo = _value(results, scenario, "oslo", key)
        row: dict[str, Any] = {"scenario": scenario, "metric": label, "key": key,
                               "higher_is_better": higher, "ours": ours, "oslo": oslo,
                               "ratio": ours / oslo if ours is not None and oslo else None}
        for floor_scenario, column in FLOOR_COLUMNS:
            row[column] = (_value(results, floor_scenario, "kombu", key)
                           if scenario == "notify" and key in ("send_rate", "e2e_rate")
                           else None)
        if ours is not None or oslo is not None:
            rows.append(row)
    return rows


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table (also valid as an RST simple table)."""
    cells = [list(HEADERS)]
    for row in rows:
        ratio = row["ratio"]
        cells.append([row["scenario"], row["metric"], _fmt(row["ours"], row["key"]),
                      _fmt(row["oslo"], row["key"]),
                      "-" if ratio is None else f"{ratio:.2f}x",
                      *[_fmt(row[c[1]], row["key"]) for c in FLOOR_COLUMNS]])
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADERS))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)), rule]
    for r in cells[1:]:
        lines.append("  ".join((c.ljust(w) if i < 2 else c.rjust(w))
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    lines.append(rule)
    return "\n".join(lines)


def render_settings(settings: dict[str, dict[str, str]]) -> str:
    lines = []
    for impl, values in settings.items():
        for key, text in values.items():
            lines.append(f"  {impl:<5} {key:<12} {text}")
    return "\n".join(lines)


def render_rss(result: dict[str, Any]) -> str:
    """RSS samples (MiB) at intervals and the peak, per process of an rss run."""
    lines = []
    for rid, samples in sorted(result.get("rss_samples", {}).items()):
        role = "sender" if rid.startswith("p") else "listener"
        points = ", ".join(f"{n:,}: {b / 2**20:.1f}" for n, b in samples)
        lines.append(f"  {role} ({rid}) RSS MiB at message count -> {points}")
    for rid, peak in sorted(result.get("peak_rss", {}).items()):
        if peak:
            role = "sender" if rid.startswith("p") else "listener"
            lines.append(f"  {role} ({rid}) peak RSS {peak / 2**20:.1f} MiB")
    return "\n".join(lines)


def write_json(path: str, document: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
