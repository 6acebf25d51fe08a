"""``serve``, ``call`` and ``cast`` as separate processes on one SQLite file, and the demo."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap

import pytest

from .conftest import WAIT, child_env, cli_argv, run_cli, start_cli

EXAMPLE = "msgframework.cli.examples:ExampleRPCEndpoint"


@pytest.fixture
def server(sqlite_url, children):
    serve = start_cli("serve", "--transport-url", sqlite_url, "serve", EXAMPLE,
                      "--topic", "clitest", "--server", "s1")
    children.append(serve)
    serve.wait_for(lambda c: c.has_status("ready"), WAIT, "ready line")
    return serve


def _call(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("--transport-url", url, "call", "--topic", "clitest", "--timeout", "20",
                   *args)


def test_call_prints_the_result_as_json(sqlite_url, server):
    result = _call(sqlite_url, "add", '{"a": 2}', "--arg", "b=40")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == 42
    result = _call(sqlite_url, "echo", "--arg", "text=hi", "--server", "s1")
    assert json.loads(result.stdout) == {"text": "hi"}
    server.wait_for(lambda c: c.count("rpc ") == 2, WAIT, "two dispatched calls")


def test_cast_and_repeat_print_a_summary(sqlite_url, server):
    result = run_cli("--transport-url", sqlite_url, "cast", "--topic", "clitest", "echo",
                     "--arg", "n=1", "--repeat", "3", "--fanout")
    assert result.returncode == 0, result.stderr
    assert "cast 3 echo() in" in result.stderr and "clitest (fanout)" in result.stderr
    server.wait_for(lambda c: c.count('rpc echo({"n": 1})') == 3, WAIT, "three casts")


def test_remote_exception_exits_1_with_one_line(sqlite_url, server):
    result = _call(sqlite_url, "fail", '{"message": "boom"}')
    assert result.returncode == 1
    assert result.stderr.strip() == "msgframework: error: remote ValueError: boom"
    result = _call(sqlite_url, "nosuch")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "msgframework: error: remote NoSuchMethod: Endpoint does not support RPC method "
        "nosuch"]


def test_call_without_a_server_times_out_with_exit_1(sqlite_url):
    result = run_cli("--transport-url", sqlite_url, "call", "--topic", "nobody-here",
                     "add", "--timeout", "0.5")
    assert result.returncode == 1
    assert "msgframework: error: MessagingTimeout" in result.stderr


def test_sigterm_lets_the_in_flight_call_finish(sqlite_url, server):
    caller = subprocess.Popen(cli_argv("--transport-url", sqlite_url, "call", "--topic",
                                       "clitest", "sleep", "--arg", "seconds=0.5",
                                       "--timeout", "20"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=child_env())
    try:
        server.wait_for(lambda c: c.count("rpc sleep(0.5) started") == 1, WAIT,
                        "the call starting")
        server.proc.send_signal(signal.SIGTERM)
        out, err = caller.communicate(timeout=WAIT)
    finally:
        caller.kill()
    assert caller.returncode == 0, err
    assert json.loads(out) == 0.5
    assert server.wait(WAIT) == 0
    assert server.count("rpc sleep(0.5) done") == 1


def test_sighup_serves_the_endpoints_of_the_rewritten_config(tmp_path, sqlite_url, children):
    for version in (1, 2):
        (tmp_path / f"cli_ep_v{version}.py").write_text(textwrap.dedent(f"""
            class Endpoint:
                def version(self, ctxt):
                    return {version}
        """), encoding="utf-8")
    config = tmp_path / "serve.conf"

    def write(version: int) -> None:
        config.write_text(f"[DEFAULT]\ntransport_url = {sqlite_url}\n[msgframework_cli]\n"
                          f"rpc_endpoints = cli_ep_v{version}:Endpoint\nrpc_topic = clitest\n",
                          encoding="utf-8")

    write(1)
    env = dict(child_env(), PYTHONPATH=str(tmp_path))
    from msgframework.cli.demo import Child

    serve = Child("serve", cli_argv("--config-file", str(config), "serve"), env)
    children.append(serve)
    serve.wait_for(lambda c: c.has_status("ready"), WAIT, "ready line")
    assert json.loads(_call(sqlite_url, "version").stdout) == 1
    write(2)
    serve.proc.send_signal(signal.SIGHUP)
    serve.wait_for(lambda c: c.has_status("reloaded"), WAIT, "reloaded line")
    assert json.loads(_call(sqlite_url, "version").stdout) == 2
    assert serve.terminate(WAIT) == 0


def test_serve_without_endpoints_is_a_usage_error(sqlite_url):
    result = run_cli("--transport-url", sqlite_url, "serve")
    assert result.returncode == 2
    assert "no endpoints to serve" in result.stderr


def test_demo_runs_the_whole_flow_and_exits_0():
    result = run_cli("demo", "--timeout", "30", timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "4 notification(s) sent and 4 dispatched" in out
    assert "rpc add(a=2, b=3) -> 5" in out
    assert "raised ValueError (remote): this call fails on purpose" in out
    assert "listen exited 0" in out and "serve exited 0" in out


def test_demo_refuses_the_in_process_memory_transport():
    result = run_cli("--transport-url", "memory://", "demo")
    assert result.returncode == 2
    assert "memory transport cannot connect them" in result.stderr
