"""``notify`` and the ``listen`` daemon, as separate processes on one SQLite file."""

from __future__ import annotations

import json
import signal

from .conftest import WAIT, run_cli, start_cli

EXAMPLE = "msgframework.cli.examples:ExampleNotificationEndpoint"


def _notify(url: str, *args: str) -> None:
    result = run_cli("--transport-url", url, "notify", *args)
    assert result.returncode == 0, result.stderr
    assert "sent 1 notification(s)" in result.stdout


def _ready(child) -> None:
    child.wait_for(lambda c: c.has_status("ready"), WAIT, "ready line")


def test_listen_prints_json_lines_filtered_and_stops_after_max(sqlite_url, children):
    listener = start_cli("listen", "--transport-url", sqlite_url, "listen", "--json",
                         "--priority", "info", "--priority", "error",
                         "--event-type", r"^compute\.", "--max-messages", "2")
    children.append(listener)
    _ready(listener)
    _notify(sqlite_url, "other.thing", '{"skip": true}')            # filtered out
    _notify(sqlite_url, "compute.start", '{"n": 1}', "--context", '{"request_id": "r1"}',
            "--publisher-id", "compute.host1")
    _notify(sqlite_url, "compute.warned", '{"n": 2}', "--priority", "warn")  # not listened to
    _notify(sqlite_url, "compute.stop", '{"n": 3}', "-p", "error")
    assert listener.wait(WAIT) == 0
    lines = [json.loads(line) for line in listener.stdout]
    assert [(m["priority"], m["event_type"], m["payload"]) for m in lines] == [
        ("info", "compute.start", {"n": 1}), ("error", "compute.stop", {"n": 3})]
    assert lines[0]["publisher_id"] == "compute.host1"
    assert lines[0]["context"]["request_id"] == "r1"
    assert "2 notification(s) dispatched" in listener.stderr[-1]


def test_sigterm_finishes_the_in_flight_notification_and_acknowledges_it(sqlite_url,
                                                                        children):
    listener = start_cli("listen", "--transport-url", sqlite_url, "listen",
                         "--endpoint", EXAMPLE)
    children.append(listener)
    _ready(listener)
    _notify(sqlite_url, "slow.job", '{"sleep": 0.5}')
    listener.wait_for(lambda c: c.count("notification info slow.job started") == 1, WAIT,
                      "the slow notification starting")
    assert listener.terminate(WAIT) == 0
    assert listener.count("notification info slow.job from") == 1  # it finished
    assert "stopping (SIGTERM)" in "\n".join(listener.stderr)

    # Acknowledged: a new listener gets the next notification, not the slow one again.
    _notify(sqlite_url, "marker", "{}")
    again = start_cli("listen", "--transport-url", sqlite_url, "listen", "--json",
                      "--max-messages", "1")
    children.append(again)
    assert again.wait(WAIT) == 0
    assert [json.loads(line)["event_type"] for line in again.stdout] == ["marker"]


def test_sighup_reloads_endpoints_and_log_level_from_the_config(tmp_path, sqlite_url,
                                                               children):
    config = tmp_path / "listen.conf"
    config.write_text(f"[DEFAULT]\ntransport_url = {sqlite_url}\nlog_level = WARNING\n",
                      encoding="utf-8")
    listener = start_cli("listen", "--config-file", str(config), "listen")
    children.append(listener)
    _ready(listener)
    _notify(sqlite_url, "before.reload", '{"n": 1}')
    listener.wait_for(lambda c: any("before.reload" in line for line in c.stdout), WAIT,
                      "the first notification printed")
    assert not any(" INFO " in line for line in listener.stderr)

    config.write_text(f"[DEFAULT]\ntransport_url = {sqlite_url}\nlog_level = INFO\n"
                      f"[msgframework_cli]\nnotification_endpoints = {EXAMPLE}\n",
                      encoding="utf-8")
    listener.proc.send_signal(signal.SIGHUP)
    listener.wait_for(lambda c: c.has_status("reloaded"), WAIT, "reloaded line")
    _notify(sqlite_url, "after.reload", '{"n": 2}')
    listener.wait_for(lambda c: c.count("notification info after.reload") == 1, WAIT,
                      "the example endpoint's line")
    assert any(" INFO " in line for line in listener.stderr)  # the new log level applies

    assert listener.terminate(WAIT) == 0


def test_sighup_with_a_broken_config_keeps_listening(tmp_path, sqlite_url, children):
    config = tmp_path / "listen.conf"
    config.write_text(f"[DEFAULT]\ntransport_url = {sqlite_url}\n", encoding="utf-8")
    listener = start_cli("listen", "--config-file", str(config), "listen", "--json")
    children.append(listener)
    _ready(listener)
    config.write_text("[DEFAULT\nnot an ini file\n", encoding="utf-8")
    listener.proc.send_signal(signal.SIGHUP)
    listener.wait_for(lambda c: any("reloading the configuration failed" in line
                                    for line in c.stderr), WAIT, "the reload error")
    _notify(sqlite_url, "still.listening", "{}")
    listener.wait_for(lambda c: any("still.listening" in line for line in c.stdout), WAIT,
                      "the notification after the failed reload")
    listener.proc.send_signal(signal.SIGINT)
    assert listener.wait(WAIT) == 0


def test_unreachable_broker_fails_quickly_with_a_readable_line():
    url = "rabbit://guest:s3cr3tpw@127.0.0.1:1/"
    result = run_cli("--transport-url", url, "notify", "ev", "{}", "--retry", "0",
                     timeout=WAIT)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    # the send is pipelined (confirm_window), so the failure comes from the flush
    assert last.startswith("msgframework: error: EarlierSendFailed")
    assert "cannot connect" in last
    assert "Traceback" not in result.stderr
    assert "s3cr3tpw" not in result.stderr + result.stdout


def test_listen_on_an_unreachable_broker_exits_1():
    result = run_cli("--transport-url", "rabbit://guest:s3cr3tpw@127.0.0.1:1/", "listen",
                     timeout=WAIT)
    assert result.returncode == 1
    assert "msgframework: error: ServerListenError" in result.stderr
    assert "s3cr3tpw" not in result.stderr


def test_every_pool_gets_its_own_copy(sqlite_url, children):
    pools = [start_cli(f"listen-{pool}", "--transport-url", sqlite_url, "listen", "--json",
                       "--pool", pool, "--max-messages", "1") for pool in ("audit", "billing")]
    children.extend(pools)
    for child in pools:
        child.wait_for(lambda c: any("ready" in line for line in c.stderr), WAIT, "ready")
    _notify(sqlite_url, "shared.event", '{"n": 7}')
    for child in pools:
        assert child.wait(WAIT) == 0
        assert [json.loads(line)["payload"] for line in child.stdout] == [{"n": 7}]
