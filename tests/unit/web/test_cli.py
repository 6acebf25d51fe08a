"""``msgframework web`` through the real command: the installed script, as a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from oslo_config import cfg

from msgframework.cli import main
from msgframework.notify.notifier import Notifier
from msgframework.transport import get_notification_transport

from .conftest import WAIT, SSEReader

#: The console script pip installed next to this interpreter (what a user runs).
SCRIPT = Path(sys.executable).with_name("msgframework")


def script_env(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", XDG_STATE_HOME=str(state_dir))
    env.pop("MSGFRAMEWORK_TRANSPORT_URL", None)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_web_is_a_builtin_command():
    assert "msgframework.cli.web" in main.BUILTIN_COMMANDS
    parser, runners = main.build_parser()  # nothing registered by hand
    assert "web" in runners
    args = parser.parse_args(["web", "--hub", "ops", "--topic", "a", "--topic", "b",
                              "--port", "0", "--buffer", "/tmp/x.db"])
    assert (args.hub, args.topics, args.port, args.buffer) == ("ops", ["a", "b"], 0, "/tmp/x.db")
    assert args.host == "127.0.0.1"


def test_installed_script_has_web_help(state_dir):
    assert SCRIPT.exists(), f"the console script is not installed at {SCRIPT}"
    done = subprocess.run([str(SCRIPT), "web", "--help"], capture_output=True, text=True,
                          timeout=WAIT * 3, env=script_env(state_dir))
    assert done.returncode == 0, done.stderr
    assert "usage: msgframework web" in done.stdout
    assert "--buffer" in done.stdout and "--backlog" in done.stdout
    listed = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True,
                            timeout=WAIT * 3, env=script_env(state_dir))
    commands = [line.split()[0] for line in listed.stdout.splitlines()
                if line.startswith("    ") and line.split()]
    assert "web" in commands


def test_bad_capacity_is_a_usage_error(state_dir):
    done = subprocess.run([str(SCRIPT), "web", "--capacity", "0"], capture_output=True,
                          text=True, timeout=WAIT * 3, env=script_env(state_dir))
    assert done.returncode == 2
    assert "msgframework: error: --capacity" in done.stderr


_WITHOUT_WEB_EXTRA = """
import sys
for name in ("starlette", "sse_starlette", "uvicorn"):
    sys.modules[name] = None  # any import of them now fails, as when not installed
from msgframework.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_command_is_listed_without_the_web_extra_and_says_what_to_install(state_dir):
    env = script_env(state_dir)
    listed = subprocess.run([sys.executable, "-c", _WITHOUT_WEB_EXTRA, "web", "--help"],
                            capture_output=True, text=True, timeout=WAIT * 3, env=env)
    assert listed.returncode == 0, listed.stderr
    ran = subprocess.run([sys.executable, "-c", _WITHOUT_WEB_EXTRA, "web",
                          "--transport-url", "memory://nothing"],
                         capture_output=True, text=True, timeout=WAIT * 3, env=env)
    assert ran.returncode == 2
    assert "needs the 'web' extra" in ran.stderr and "Traceback" not in ran.stderr


def wait_until_serving(proc: subprocess.Popen[str], url: str, timeout: float) -> dict:
    """GET ``/healthz`` until it answers; between tries, wait (bounded) on the child's exit."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(f"{url}/healthz", timeout=2.0)
            response.raise_for_status()
            return response.json()
        except httpx.TransportError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"msgframework web did not answer within {timeout}s: "
                                     f"{exc}") from None
        try:
            code = proc.wait(timeout=0.1)  # the condition: did it die instead?
        except subprocess.TimeoutExpired:
            continue
        _, err = proc.communicate(timeout=WAIT)
        raise AssertionError(f"msgframework web exited {code} before serving:\n{err}")


def test_web_serves_a_live_hub_and_exits_0_on_sigterm(tmp_path, state_dir):
    """The installed command on the SQLite transport: healthy, live, and a clean stop."""
    port = free_port()
    url = f"sqlite:///{str(tmp_path / 'web-cli.db').lstrip('/')}?poll_interval=0.05"
    proc = subprocess.Popen([str(SCRIPT), "web", "--port", str(port), "--hub", "clitest",
                             "--transport-url", url], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=script_env(state_dir))
    transport = get_notification_transport(cfg.ConfigOpts(), url)
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_until_serving(proc, base, WAIT * 3)
        assert health["ok"] is True and health["hub"] == "clitest"
        # The default replay buffer is a file per hub in the state directory.
        assert (state_dir / "msgframework" / "replay-clitest.db").is_file()

        notifier = Notifier(transport, "svc", driver="messagingv2",
                            topics=["notifications"], raise_on_send_failure=True)
        with httpx.Client(base_url=base, timeout=httpx.Timeout(WAIT)) as http, \
                http.stream("GET", "/events?event_type=cli.*") as response:
            reader = SSEReader(response)
            reader.next_event("ready")
            notifier.info({}, "cli.hello", {"n": 1})
            frame = reader.next_event("notification")
        assert frame["data"]["event_type"] == "cli.hello"
        assert frame["id"] == f"{health['epoch']}-{frame['data']['seq']}"

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=WAIT * 3)
        _, err = proc.communicate(timeout=WAIT)
        assert code == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=WAIT)
        transport.cleanup()
