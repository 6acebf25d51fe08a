"""Helpers for the web tests: a transport per driver and a small SSE reader over httpx."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("sse_starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

WAIT = 10.0


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Any, monkeypatch: Any) -> Any:
    """The user's state directory, where default replay buffers go: one per test."""
    path = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(path))
    return path


def seq_of(frame: dict[str, Any]) -> int:
    """The sequence number of a notification frame's ``<epoch>-<seq>`` id."""
    epoch, _, seq = frame["id"].rpartition("-")
    assert epoch and frame["data"]["seq"] == int(seq)
    return int(seq)


@pytest.fixture
def transport(local_transport: Any) -> Any:
    return local_transport


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Frames of an event stream as dicts (``id``, ``event``, ``data`` parsed as JSON)."""
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        frame: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            frame[key] = value[1:] if value.startswith(" ") else value
        if "data" in frame:
            frame["data"] = json.loads(frame["data"])
        if frame:
            frames.append(frame)
    return frames


class SSEReader:
    """Reads frames from a live httpx streaming response, one at a time."""

    def __init__(self, response: Any) -> None:
        self._lines = response.iter_lines()

    def next_frame(self) -> dict[str, Any]:
        lines = []
        for line in self._lines:
            if line == "":
                if lines:
                    frames = parse_sse("\n".join(lines))
                    if frames:
                        return frames[0]
                    lines = []
                continue
            lines.append(line)
        raise EOFError("the stream ended")

    def next_event(self, kind: str) -> dict[str, Any]:
        while True:
            frame = self.next_frame()
            if frame.get("event") == kind:
                return frame


def wait_for_seq(buffer, channel, seq, timeout):
    """Block until the replay buffer's channel holds entry ``seq`` (a condition, no sleep)."""
    cond = threading.Condition()

    def wake():
        with cond:
            cond.notify_all()

    unsubscribe = buffer.subscribe(wake)
    try:
        with cond:
            return cond.wait_for(lambda: buffer.last_seq(channel) >= seq, timeout)
    finally:
        unsubscribe()
