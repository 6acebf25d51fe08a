"""``msgframework demo``: the whole flow on the embedded transport, in one command.

1. writes a config file naming the example endpoints and a fresh SQLite file
   (in a temporary directory; ``--state-dir`` uses the default state file);
2. starts ``msgframework listen`` and ``msgframework serve`` as child
   processes and waits for their ``ready`` lines (no polling);
3. from this process, sends notifications of several priorities and a few
   RPC calls and a cast (one call fails on purpose, to show remote errors);
4. waits until the daemons printed what they dispatched, and shows it;
5. sends SIGTERM to both, checks that they exit 0, prints a summary.

The exit code is 0 only if everything above happened as expected; the same
flow is the end-to-end test of the CLI.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from msgframework import opts as core_opts
from msgframework.cli.common import PROG, CLIContext, CLIError, UsageError, emit

__all__ = ["add_parser", "run", "DEMO_NOTIFICATIONS", "DEMO_CALLS"]

#: (priority, event type, payload) sent by the demo.
DEMO_NOTIFICATIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("info", "compute.instance.create", {"instance_id": "i-42", "flavor": "m1.small"}),
    ("warn", "volume.usage.high", {"volume_id": "v-7", "used_percent": 91}),
    ("error", "backup.failed", {"job": "nightly", "reason": "disk full"}),
    ("audit", "identity.user.login", {"user": "alice"}),
)
#: (method, kwargs) called by the demo; the last one fails on purpose.
DEMO_CALLS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("add", {"a": 2, "b": 3}),
    ("echo", {"text": "hello from the demo"}),
    ("fail", {"message": "this call fails on purpose"}),
)


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="run a listener and an RPC server, send to them, stop them",
        description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--state-dir", action="store_true",
                   help="use the default transport (the SQLite file in the user's state "
                        "directory) instead of a temporary file")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="bound on each step (default 60)")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (config, database, logs)")


class Child:
    """A ``msgframework`` subprocess whose output lines are collected as they come."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True, env=env)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(stream, lines),
                                          daemon=True, name=f"demo-{name}-pump")
                         for stream, lines in ((self.proc.stdout, self.stdout),
                                               (self.proc.stderr, self.stderr))]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._cond:
                lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        """Wait until ``predicate(self)`` holds; CLIError if it exits or the time is up."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                if self.proc.poll() is not None and not any(t.is_alive() for t in self._threads):
                    raise CLIError(f"{self.name} exited ({self.proc.returncode}) before {what}"
                                   f"{self._tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CLIError(f"{self.name}: no {what} within {timeout:g}s{self._tail()}")
                self._cond.wait(left)

    def count(self, prefix: str) -> int:
        return sum(1 for line in self.stdout if line.startswith(prefix))

    def has_status(self, word: str) -> bool:
        return any(f"{PROG} {self.name}: {word}" in line for line in self.stderr)

    def _tail(self) -> str:
        tail = self.stderr[-5:]
        return (":\n  " + "\n  ".join(tail)) if tail else ""

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit by itself (killed after ``timeout``); its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise CLIError(f"{self.name} did not exit within {timeout:g}s; killed") from None
        finally:
            for thread in self._threads:
                thread.join(5)

    def terminate(self, timeout: float) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise CLIError(f"{self.name} did not exit within {timeout:g}s of SIGTERM; "
                           "killed") from None
        finally:
            for thread in self._threads:
                thread.join(5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _demo_url(ctx: CLIContext, args: argparse.Namespace, workdir: Path) -> str:
    if ctx.transport_url:
        if ctx.transport_url.split(":", 1)[0].split("+", 1)[0] in ("memory", "fake"):
            raise UsageError("the demo runs separate processes; the in-process memory "
                             "transport cannot connect them (use sqlite:// or rabbit://)")
        return ctx.transport_url
    if args.state_dir:
        return core_opts.default_transport_url()
    return "sqlite:///" + str(workdir / "demo.db").lstrip("/")


def _write_config(path: Path, url: str, topic: str) -> None:
    path.write_text(
        "[DEFAULT]\n"
        f"transport_url = {url}\n"
        "[msgframework_notifications]\n"
        f"topics = {topic}\n"
        "[msgframework_cli]\n"
        "rpc_endpoints = msgframework.cli.examples:ExampleRPCEndpoint\n"
        f"rpc_topic = {topic}\n"
        "notification_endpoints = msgframework.cli.examples:ExampleNotificationEndpoint\n",
        encoding="utf-8")
    os.chmod(path, 0o600)  # the URL may hold a password


def run(args: argparse.Namespace) -> int:
    ctx: CLIContext = args.cli_context
    tmp = tempfile.mkdtemp(prefix="msgframework-demo-")
    workdir = Path(tmp)
    children: list[Child] = []
    try:
        url = _demo_url(ctx, args, workdir)
        topic = f"demo-{uuid.uuid4().hex[:8]}"
        config = workdir / "demo.conf"
        _write_config(config, url, topic)
        return _run_flow(ctx, args, config, topic, children)
    finally:
        for child in children:
            child.kill()
        if args.keep:
            emit(f"{PROG} demo: kept {workdir}", stream=sys.stderr)
        else:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def _run_flow(ctx: CLIContext, args: argparse.Namespace, config: Path, topic: str,
              children: list[Child]) -> int:
    timeout = args.timeout
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    base = [sys.executable, "-m", "msgframework.cli.main", "--config-file", str(config)]
    emit(f"== starting a listener and an RPC server (config {config})")
    listener = Child("listen", [*base, "listen"], env)
    children.append(listener)
    server = Child("serve", [*base, "serve", "--server", "demo"], env)
    children.append(server)
    for child in (listener, server):
        child.wait_for(lambda c: c.has_status("ready"), timeout, "ready line")
        emit(f"   {[line for line in child.stderr if 'ready' in line][0]}")

    sent_calls, remote_errors = _send(config, topic, timeout)

    n_notes = len(DEMO_NOTIFICATIONS)
    listener.wait_for(lambda c: c.count("notification ") >= n_notes, timeout,
                      f"{n_notes} dispatched notifications")
    n_rpc = len(DEMO_CALLS) + 1  # the calls and one cast
    server.wait_for(lambda c: c.count("rpc ") >= n_rpc, timeout, f"{n_rpc} dispatched calls")
    emit("== the listener dispatched:")
    for line in listener.stdout:
        emit(f"   {line}")
    emit("== the RPC server dispatched:")
    for line in server.stdout:
        emit(f"   {line}")

    emit("== stopping both with SIGTERM")
    codes = {child.name: child.terminate(timeout) for child in (listener, server)}
    for name, code in codes.items():
        emit(f"   {name} exited {code}")
    ok = all(code == 0 for code in codes.values()) and remote_errors == 1
    emit(f"{PROG} demo: {n_notes} notification(s) sent and "
         f"{listener.count('notification ')} dispatched; {sent_calls} call(s) and 1 cast sent, "
         f"{server.count('rpc ')} dispatched ({remote_errors} remote error as expected); "
         + ("daemons stopped cleanly" if ok else "SOMETHING WENT WRONG"))
    return 0 if ok else 1


def _send(config: Path, topic: str, timeout: float) -> tuple[int, int]:
    """Send the demo's notifications, calls and cast from this process."""
    from oslo_config import cfg

    from msgframework.notify.notifier import Notifier
    from msgframework.rpc.client import get_rpc_client
    from msgframework.target import Target
    from msgframework.transport import get_notification_transport, get_rpc_transport

    conf = cfg.ConfigOpts()
    core_opts.register_opts(conf)
    conf(args=[], project=PROG, default_config_files=[str(config)], use_env=False)

    emit("== sending notifications")
    ntransport = get_notification_transport(conf)
    try:
        notifier = Notifier(ntransport, publisher_id="demo.cli", topics=[topic], retry=3,
                            raise_on_send_failure=True)
        for priority, event_type, payload in DEMO_NOTIFICATIONS:
            getattr(notifier, priority)({"request_id": "req-demo"}, event_type, payload)
            emit(f"   sent {priority} {event_type}")
    finally:
        ntransport.cleanup()

    emit("== calling the RPC server")
    rtransport = get_rpc_transport(conf)
    calls = remote_errors = 0
    try:
        client = get_rpc_client(rtransport, Target(topic=topic), timeout=timeout, retry=3)
        for method, kwargs in DEMO_CALLS:
            calls += 1
            try:
                result = client.call({}, method, **kwargs)
            except Exception as exc:  # the 'fail' call: a remote ValueError
                remote_errors += 1
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                name = type(exc).__name__.removesuffix("_Remote")
                emit(f"   {method}({kwargs}) raised {name} (remote): {first}")
            else:
                emit(f"   {method}({kwargs}) -> {result!r}")
        client.cast({}, "echo", text="a cast needs no reply")
        emit("   cast echo(text='a cast needs no reply')")
    finally:
        rtransport.cleanup()
    return calls, remote_errors
