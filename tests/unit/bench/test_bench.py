"""``msgframework bench`` end to end on the memory and SQLite drivers, tiny counts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from msgframework.bench import report, stats
from msgframework.bench.scenarios import DEFAULT_SCENARIOS
from msgframework.cli.main import main


def _bench(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str,
           *extra: str) -> tuple[int, str, dict]:
    out = tmp_path / "bench.json"
    code = main(["bench", "--transport-url", url, "--count", "40", "--duration", "20",
                 "--json", str(out), *extra])
    text = capsys.readouterr().out
    document = json.loads(out.read_text()) if out.exists() else {}
    return code, text, document


def test_memory_runs_every_default_scenario_and_prints_the_table(tmp_path, capsys):
    code, text, doc = _bench(tmp_path, capsys, f"memory://bench-{uuid.uuid4().hex}")
    assert code == 0, text
    for header in report.HEADERS:
        assert header in text
    assert set(doc["results"]) == set(DEFAULT_SCENARIOS)
    for scenario in ("notify", "notify-pool2", "cast"):
        median = doc["results"][scenario]["ours"]["median"]
        assert median["sent"] == median["received"] == 40
        assert median["e2e_rate"] > 0 and median["send_rate"] > 0
        assert 0 <= median["lat_p50"] <= median["lat_p99"]
    for scenario in ("rpc-call", "rpc-call-8"):
        median = doc["results"][scenario]["ours"]["median"]
        assert median["calls"] == 40
        assert 0 < median["call_p50"] <= median["call_p99"]
    pool = doc["results"]["notify-pool2"]["ours"]["runs"][0]["per_consumer"]
    assert len(pool) == 2 and sum(pool) == 40
    assert {row["scenario"] for row in doc["table"]} == set(DEFAULT_SCENARIOS)
    assert doc["params"] == {"count": 40, "payload_size": 100, "duration": 20.0, "repeat": 1}
    assert doc["machine"]["cores"] >= 1 and "confirms" in doc["settings"]["ours"]


def test_sqlite_runs_across_processes(tmp_path, capsys):
    url = f"sqlite://{tmp_path / 'bench.db'}"
    code, text, doc = _bench(tmp_path, capsys, url, "--scenario", "notify",
                             "--scenario", "rpc-call", "--payload-size", "10")
    assert code == 0, text
    notify = doc["results"]["notify"]["ours"]["runs"][0]
    assert notify["received"] == 40 and not notify["errors"]
    # the listener ran in another process than the sender
    assert set(notify["peak_rss"]) == {"c0", "p0"}
    assert doc["results"]["rpc-call"]["ours"]["median"]["calls"] == 40
    assert "oslo" not in doc["results"]["notify"]  # oslo runs only on RabbitMQ


def test_rss_scenario_reports_samples_and_peak(tmp_path, capsys):
    code, text, doc = _bench(tmp_path, capsys, f"memory://bench-{uuid.uuid4().hex}",
                             "--scenario", "rss", "--count", "400")
    assert code == 0, text
    assert doc["rss"]["received"] == 400
    samples = doc["rss"]["rss_samples"]
    assert samples and all(len(points) >= 10 for points in samples.values())
    assert "peak RSS" in text


def test_count_bound_and_time_bound(tmp_path, capsys):
    """A huge count stops at the duration; what was sent is still measured."""
    code, text, doc = _bench(tmp_path, capsys, f"memory://bench-{uuid.uuid4().hex}",
                             "--scenario", "cast", "--count", "100000000", "--duration", "0.5")
    run = doc["results"]["cast"]["ours"]["runs"][0]
    assert run["timed_out"] is True
    assert 0 < run["sent"] < 100000000


def test_bad_count_is_a_usage_error(capsys):
    assert main(["bench", "--count", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


def test_percentile_and_median():
    values = [float(v) for v in range(1, 101)]
    assert stats.percentile(values, 0.5) == 50.0
    assert stats.percentile(values, 0.99) == 99.0
    assert stats.percentile([], 0.5) is None
    assert stats.median([3.0, None, 1.0, 2.0]) == 2.0
    assert len(stats.thin(values, 10)) == 10


def test_table_shows_ratio_and_floor():
    results = {
        "notify": {"ours": {"median": {"e2e_rate": 3000.0, "lat_p50": 1.0}},
                   "oslo": {"median": {"e2e_rate": 1500.0, "lat_p50": 4.0}}},
        "kombu-confirm": {"kombu": {"median": {"e2e_rate": 2500.0}}},
    }
    rows = report.table_rows(results)
    e2e = next(r for r in rows if r["key"] == "e2e_rate")
    assert e2e["ratio"] == 2.0 and e2e["kombu+confirm"] == 2500.0
    lat = next(r for r in rows if r["key"] == "lat_p50")
    assert lat["ratio"] == 0.25 and not lat["higher_is_better"]
    text = report.render_table(rows)
    assert "2.00x" in text and "0.25x" in text and "2,500" in text
