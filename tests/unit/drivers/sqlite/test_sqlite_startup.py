"""Several processes opening one new SQLite file at the same moment.

CI once caught two servers starting together: one got "database is locked"
while the other switched the new file to WAL, an error ``busy_timeout`` does
not cover. Every opener must succeed and see the whole schema.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

from msgframework.drivers.sqlite.store import SCHEMA_VERSION, Store

#: Processes per round and rounds: enough that the old start-up failed here
#: within a few rounds, bounded so the test stays around a second.
OPENERS = 6
ROUNDS = 8


def _open(path: str, start: multiprocessing.synchronize.Event, out: multiprocessing.Queue) -> None:
    start.wait(10)
    try:
        Store(Path(path), busy_timeout=10.0).close()
        out.put("ok")
    except Exception as exc:  # reported to the parent, which fails naming it
        out.put(repr(exc))


def test_processes_opening_a_new_file_together_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_no in range(ROUNDS):
        path = tmp_path / f"round{round_no}" / "messages.db"
        start, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(str(path), start, out))
                 for _ in range(OPENERS)]
        for proc in procs:
            proc.start()
        start.set()
        results = [out.get(timeout=30) for _ in procs]
        for proc in procs:
            proc.join(10)
        assert results == ["ok"] * OPENERS, f"round {round_no}: {results}"
        conn = sqlite3.connect(str(path))
        try:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            conn.close()
