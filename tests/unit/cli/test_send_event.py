"""``msgframework send-event FILE...``: handlers from --handlers, the config files or the env."""

from __future__ import annotations

import json

import pytest

from msgframework.events import DEFAULT_ENV_VAR, Event

from .conftest import WAIT, run_main


def test_sends_dumped_events_and_reports_bad_files(tmp_path, monkeypatch, capsys):
    dumps = tmp_path / "dumps"
    with Event("nightly-build", project="nova") as event:
        event.status = "ok"
    dumps.mkdir()
    good = event.dump(dumps)
    bad = tmp_path / "garbage.json"
    bad.write_text("{not an event", encoding="utf-8")
    sink = tmp_path / "sink"
    monkeypatch.setenv(DEFAULT_ENV_VAR, f"file:directory={sink}")

    code, out, _ = run_main(capsys, "send-event", good, str(bad))

    assert code == 1  # one file could not be sent
    lines = out.splitlines()
    assert lines[0] == f"{good}: sent to file"
    assert lines[1].startswith(f"{bad}: not sent: ")
    assert lines[-1] == "msgframework: 1 of 2 event file(s) sent"
    kept = [json.loads(line) for f in sink.iterdir() for line in f.read_text().splitlines()]
    assert [(e["event"]["name"], e["event"]["project"]) for e in kept] == [
        ("nightly-build", "nova")]


def test_all_sent_exits_0(tmp_path, monkeypatch, capsys):
    with Event("deploy") as event:
        pass
    (tmp_path / "dumps").mkdir()
    path = event.dump(tmp_path / "dumps")
    monkeypatch.setenv(DEFAULT_ENV_VAR, f"file:directory={tmp_path / 'sink'}")
    code, out, _ = run_main(capsys, "send-event", path)
    assert code == 0, out
    assert out.splitlines()[-1] == "msgframework: 1 of 1 event file(s) sent"


def _dump(tmp_path, name="deploy"):
    with Event(name, project="nova") as event:
        pass
    dumps = tmp_path / "dumps"
    dumps.mkdir(exist_ok=True)
    return event.dump(dumps)


def _sent_names(sink):
    if not sink.exists():
        return []
    return [json.loads(line)["event"]["name"]
            for f in sorted(sink.iterdir()) for line in f.read_text().splitlines()]


def test_handlers_from_the_config_file_win_over_the_environment(tmp_path, monkeypatch, capsys):
    path = _dump(tmp_path)
    from_conf, from_env = tmp_path / "from-conf", tmp_path / "from-env"
    conf = tmp_path / "events.conf"
    conf.write_text(f"[msgframework_events]\nhandlers = file:directory={from_conf}\n",
                    encoding="utf-8")
    monkeypatch.setenv(DEFAULT_ENV_VAR, f"file:directory={from_env}")

    code, out, _ = run_main(capsys, "send-event", path, "--config-file", str(conf))

    assert code == 0, out
    assert _sent_names(from_conf) == ["deploy"] and _sent_names(from_env) == []


def test_handlers_flag_wins_over_config_and_environment(tmp_path, monkeypatch, capsys):
    path = _dump(tmp_path)
    from_flag, from_conf = tmp_path / "from-flag", tmp_path / "from-conf"
    conf = tmp_path / "events.conf"
    conf.write_text(f"[msgframework_events]\nhandlers = file:directory={from_conf}\n",
                    encoding="utf-8")
    monkeypatch.setenv(DEFAULT_ENV_VAR, "logging")

    code, out, _ = run_main(capsys, "send-event", path, "--config-file", str(conf),
                            "--handlers", f"file:directory={from_flag}")

    assert code == 0, out
    assert out.splitlines()[0] == f"{path}: sent to file"
    assert _sent_names(from_flag) == ["deploy"] and _sent_names(from_conf) == []


def test_an_empty_option_means_no_handlers_not_the_environment(tmp_path, monkeypatch, capsys):
    path = _dump(tmp_path)
    conf = tmp_path / "events.conf"
    conf.write_text("[msgframework_events]\nhandlers =\n", encoding="utf-8")
    monkeypatch.setenv(DEFAULT_ENV_VAR, f"file:directory={tmp_path / 'sink'}")
    code, out, _ = run_main(capsys, "send-event", path, "--config-file", str(conf))
    assert code == 1
    assert "not sent: no event handlers configured" in out
    assert _sent_names(tmp_path / "sink") == []


def test_bad_handler_config_is_a_usage_error_naming_its_source(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(DEFAULT_ENV_VAR, raising=False)
    path = _dump(tmp_path)
    code, _, err = run_main(capsys, "send-event", path, "--handlers", "file:colour=red")
    assert code == 2
    assert "msgframework: error: " in err and "unknown option 'colour'" in err
    conf = tmp_path / "events.conf"
    conf.write_text("[msgframework_events]\nhandlers = nosuch_handler\n", encoding="utf-8")
    code, _, err = run_main(capsys, "send-event", path, "--config-file", str(conf))
    assert code == 2 and "nosuch_handler" in err


def _received(url, topic):
    """The notifications waiting on ``<topic>.info`` of the SQLite file (bounded wait)."""
    from oslo_config import cfg

    from msgframework.target import Target
    from msgframework.transport import get_notification_transport

    transport = get_notification_transport(cfg.ConfigOpts(), url)
    try:
        listener = transport._listen_for_notifications([(Target(topic=topic), "info")])
        got = []
        for incoming in listener.poll(timeout=WAIT):
            got.append(incoming.message)
            incoming.acknowledge()
        listener.stop()
        listener.cleanup()
        return got
    finally:
        transport.cleanup()


@pytest.mark.parametrize("where", ["flag", "config"])
def test_notify_handler_without_url_uses_the_command_transport(tmp_path, monkeypatch, capsys,
                                                               sqlite_url, where):
    monkeypatch.delenv(DEFAULT_ENV_VAR, raising=False)
    path = _dump(tmp_path, "nightly-build")
    conf = tmp_path / "events.conf"
    if where == "flag":
        conf.write_text("[msgframework_events]\nhandlers = notify:topic=events\n",
                        encoding="utf-8")
        args = ["--transport-url", sqlite_url]
    else:  # the transport comes from the same config file
        conf.write_text(f"[DEFAULT]\ntransport_url = {sqlite_url}\n"
                        "[msgframework_events]\nhandlers = notify:topic=events\n",
                        encoding="utf-8")
        args = []

    code, out, _ = run_main(capsys, "send-event", path, "--config-file", str(conf), *args)

    assert code == 0, out
    assert out.splitlines()[0] == f"{path}: sent to notify"
    [message] = _received(sqlite_url, "events")
    assert message["event_type"] == "event.nightly-build"
    assert message["payload"]["event"]["project"] == "nova"
