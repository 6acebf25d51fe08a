"""Fixtures of the SQLite driver tests: a fresh database file and transports on it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.transport import Transport, get_rpc_transport

HELPER = Path(__file__).with_name("sqlite_proc_helper.py")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "messages.db"


@pytest.fixture
def make_url(db_path: Path) -> Callable[..., str]:
    """``make_url(visibility_timeout=1)`` -> ``sqlite:///<tmp>/nested/messages.db?...``."""
    def make(**query: Any) -> str:
        url = f"sqlite://{db_path}"
        if query:
            url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        return url
    return make


@pytest.fixture
def make_transport(make_url: Callable[..., str]) -> Iterator[Callable[..., Transport]]:
    """Transports on the test's file, each with its own ConfigOpts; cleaned up after."""
    made: list[Transport] = []

    def make(**query: Any) -> Transport:
        transport = get_rpc_transport(cfg.ConfigOpts(), make_url(**query))
        made.append(transport)
        return transport

    yield make
    for transport in made:
        transport.cleanup()


class Child:
    """A helper process (sqlite_proc_helper.py) whose stdout lines are JSON events."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, str(HELPER), *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "eof"})

    def expect(self, event: str, timeout: float = 20.0) -> dict[str, Any]:
        """The next event of this name; fails naming what came instead, or on timeout."""
        while True:
            try:
                got = self.events.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"child sent no {event!r} within {timeout}s")
            if got["event"] == event:
                return got
            if got["event"] in ("eof", "error"):
                try:  # at eof the child is exiting: report how it ended
                    code = self.proc.wait(5) if got["event"] == "eof" else self.proc.poll()
                except subprocess.TimeoutExpired:
                    code = None
                stderr = ""
                if code is not None and self.proc.stderr is not None:
                    stderr = self.proc.stderr.read()[-3000:]
                pytest.fail(f"child ended (exit status {code}; negative: killed by that "
                            f"signal) waiting for {event!r}: {got} {stderr}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 20.0) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    children: list[Child] = []

    def start(*args: str) -> Child:
        child = Child(*args)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()
