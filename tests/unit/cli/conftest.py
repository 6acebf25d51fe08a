"""Helpers for the CLI tests: run ``msgframework`` in-process or as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from msgframework.cli.demo import Child
from msgframework.cli.main import main

#: Bound on any single wait in these tests.
WAIT = 30.0


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "msgframework.cli.main", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("MSGFRAMEWORK_TRANSPORT_URL", None)
    return env


def run_cli(*args: str, timeout: float = WAIT, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    """Run the command as a separate process and wait for it (bounded)."""
    return subprocess.run(cli_argv(*args), capture_output=True, text=True, timeout=timeout,
                          input=stdin, env=child_env())


def start_cli(name: str, *args: str) -> Child:
    """Start a daemon subcommand; its output lines are collected by the Child."""
    return Child(name, cli_argv(*args), child_env())


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``main()`` in this process; return (exit code, stdout, stderr)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return "sqlite:///" + str(tmp_path / "cli.db").lstrip("/")


@pytest.fixture
def children():
    """Daemons started by a test; killed at the end if still running."""
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


@pytest.fixture(autouse=True)
def _restore_logging():
    """main() configures the root logger; put it back for the next test."""
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stevedore_level = logging.getLogger("stevedore").level
    yield
    root.setLevel(level)
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    logging.getLogger("stevedore").setLevel(stevedore_level)
