"""The ``file`` and ``logging`` handlers."""

from __future__ import annotations

import base64
import json
import logging
import threading

import pytest

from msgframework.events import Event, EventManager
from msgframework.events.handlers.file import FileHandler
from msgframework.events.handlers.logging import LoggingHandler
from msgframework.exceptions import EventError


def _event_with_files(tmp_path) -> Event:
    (tmp_path / "small.txt").write_bytes(b"small")
    (tmp_path / "big.bin").write_bytes(b"B" * 2000)
    with Event("job", status="ok") as ev:
        ev.attach_file(tmp_path / "small.txt", "small.txt")
        ev.attach_file(tmp_path / "big.bin", "big.bin", inline_limit=1000)
    return ev


def test_jsonl_appends_one_line_per_event(tmp_path):
    ev = _event_with_files(tmp_path)
    handler = FileHandler(tmp_path / "out")  # directory created on demand
    handler.send_event(ev)
    handler.send_event(Event("second"))
    lines = (tmp_path / "out" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["event"] == ev.as_dict()
    small, big = first["attachments"]["small.txt"], first["attachments"]["big.bin"]
    assert base64.b64decode(small["content_b64"]) == b"small" and small["inline"]
    assert "content_b64" not in big and not big["inline"]
    assert big["sha1"] == ev.attachments["big.bin"].sha1 and big["size"] == 2000
    assert json.loads(lines[1])["event"]["name"] == "second"


def test_jsonl_lines_never_interleave_across_threads(tmp_path):
    handler = FileHandler(tmp_path)
    payload = "x" * 20000
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait(timeout=10)
        for j in range(10):
            handler.send_event(Event("e", i=i, j=j, payload=payload))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    lines = handler.path and open(handler.path).read().splitlines()
    assert len(lines) == 80
    assert {(d["event"]["i"], d["event"]["j"]) for d in map(json.loads, lines)} == \
        {(i, j) for i in range(8) for j in range(10)}


def test_dump_mode_writes_replayable_files(tmp_path):
    ev = _event_with_files(tmp_path)
    out = tmp_path / "spool"
    FileHandler(out, mode="dump").send_event(ev)
    (path,) = out.iterdir()
    assert Event.load(path).as_dict() == ev.as_dict()


def test_file_handler_configuration_errors(tmp_path):
    with pytest.raises(EventError, match="mode"):
        FileHandler(tmp_path, mode="csv")
    with pytest.raises(EventError, match="plain file name"):
        FileHandler(tmp_path, filename="../escape.jsonl")
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = EventManager({"file": FileHandler(blocker / "sub")}).send_event(Event("x"))
    assert "cannot create" in result.failed["file"]
    result = EventManager({"file": FileHandler(tmp_path / "nodir", create=False)}).send_event(
        Event("x"))
    assert "cannot open" in result.failed["file"]


def test_logging_handler_logs_at_the_configured_level(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="app.events")
    ev = _event_with_files(tmp_path)
    LoggingHandler("app.events", "warning").send_event(ev)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.name == "app.events"
    message = record.getMessage()
    assert message.startswith(f"event job {ev.uid}: ")
    doc = json.loads(message.split(": ", 1)[1])
    assert doc["event"] == ev.as_dict()
    assert "content_b64" not in json.dumps(doc)  # attachments by reference only


def test_logging_handler_levels():
    assert LoggingHandler(level=15).encode_config()["level"] == "Level 15"
    assert LoggingHandler(level="10").level == "DEBUG"
    with pytest.raises(EventError, match="unknown logging level"):
        LoggingHandler(level="LOUD")
    assert LoggingHandler.decode_config({"logger": "a", "level": "ERROR"}) == \
        {"logger_name": "a", "level": "ERROR"}
