"""EventManager: every handler runs, failures are reported, replay, outbox, env config."""

from __future__ import annotations

import json
import logging
import os

import pytest

from msgframework.events import Event, EventManager, send_event_files
from msgframework.events import manager as manager_mod
from msgframework.events.handlers.file import FileHandler
from msgframework.events.handlers.logging import LoggingHandler
from msgframework.exceptions import EventError


def test_one_failure_does_not_skip_the_others(recording):
    first, broken, last = recording(), recording(fail_with=ConnectionError("down")), recording()
    mgr = EventManager({"first": first, "broken": broken, "last": last})
    ev = Event("x")
    result = mgr.send_event(ev)
    assert not result and not result.ok
    assert first.events == [ev] and last.events == [ev]
    assert result.succeeded == ["first", "last"]
    assert result.failed == {"broken": "ConnectionError: down"}
    assert result.error == "broken: ConnectionError: down"
    assert isinstance(result.results[1].exception, ConnectionError)
    assert result.uid == ev.uid


def test_returning_false_is_a_failure_and_none_or_true_success(recording):
    mgr = EventManager({"a": recording(result=False), "b": recording(result=True),
                        "c": recording()})
    result = mgr.send_event(Event("x"))
    assert result.failed == {"a": "handler returned False"}
    assert result.succeeded == ["b", "c"]


def test_event_error_reason_is_kept_verbatim(recording):
    mgr = EventManager({"a": recording(fail_with=EventError("smtp h:25: refused"))})
    assert mgr.send_event(Event("x")).failed == {"a": "smtp h:25: refused"}


def test_no_handlers_means_not_delivered(caplog):
    caplog.set_level(logging.WARNING, logger="msgframework.events.manager")
    result = EventManager().send_event(Event("x"))
    assert not result and result.error == "no event handlers configured"
    assert "not delivered" in caplog.text


def test_failure_is_logged(recording, caplog):
    caplog.set_level(logging.WARNING, logger="msgframework.events.manager")
    EventManager({"bad": recording(fail_with=RuntimeError("boom"))}).send_event(Event("x"))
    assert "handler bad failed: RuntimeError: boom" in caplog.text


def test_only_selects_handlers(recording):
    a, b = recording(), recording()
    result = EventManager({"a": a, "b": b}).send_event(Event("x"), only=["b", "zz"])
    assert a.events == [] and len(b.events) == 1
    assert result.failed == {"zz": "handler not configured"}


def test_add_handler_loads_entry_points(tmp_path):
    mgr = EventManager()
    handler = mgr.add_handler("file", directory=str(tmp_path))
    assert isinstance(handler, FileHandler)
    assert mgr.handlers == {"file": handler}
    assert mgr.send_event(Event("x"))


def test_unknown_handler_names_the_choices():
    with pytest.raises(EventError, match=r"'fiel'.*installed: .*file.*did you mean 'file'"):
        EventManager().add_handler("fiel")


def test_bad_handler_arguments_are_event_errors():
    with pytest.raises(EventError, match="'file'"):
        EventManager().add_handler("file", nonsense=1)
    with pytest.raises(EventError, match="mode"):
        EventManager().add_handler("file", directory="/tmp", mode="weird")


def test_replacing_and_removing_close_the_old_handler(recording):
    old, new = recording(), recording()
    mgr = EventManager({"a": old})
    mgr.register_handler("a", new)
    assert old.closed == 1 and mgr.handlers == {"a": new}
    mgr.remove_handler("a")
    assert new.closed == 1 and mgr.handlers == {}
    with pytest.raises(EventError):
        mgr.register_handler("x", object())


def test_close_closes_every_handler(recording):
    a, b = recording(), recording()
    with EventManager({"a": a, "b": b}):
        pass
    assert a.closed == b.closed == 1


# -- replay -------------------------------------------------------------------------


def test_send_event_from_file_replays_a_dump(tmp_path, recording):
    (tmp_path / "log.txt").write_text("log content")
    with Event("offline", build=42) as ev:
        ev.attach_file(tmp_path / "log.txt")
    path = ev.dump(tmp_path)
    rec = recording()
    result = EventManager({"rec": rec}).send_event_from_file(path)
    assert result.ok
    (replayed,) = rec.events
    assert replayed.as_dict() == ev.as_dict()
    assert replayed.attachments["log"].read() == b"log content"
    assert os.path.exists(path)  # kept unless asked to remove


def test_send_event_files_reports_each_file(tmp_path, recording):
    good = Event("a").dump(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    rec = recording()
    results = send_event_files([good, bad, tmp_path / "missing.json"],
                               EventManager({"rec": rec}), remove_sent=True)
    assert [r.ok for r in results] == [True, False, False]
    assert results[0].error is None and not os.path.exists(good)
    assert "not valid JSON" in results[1].error and results[1].result is None
    assert "cannot read" in results[2].error
    assert len(rec.events) == 1


def test_send_event_files_without_manager_uses_the_environment(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("MSGFRAMEWORK_EVENT_HANDLERS", f"file:directory={out}")
    path = Event("from-env").dump(tmp_path)
    (res,) = send_event_files([path])
    assert res.ok
    line = json.loads((out / "events.jsonl").read_text())
    assert line["event"]["name"] == "from-env"


def test_send_event_files_with_no_handlers_configured_keeps_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MSGFRAMEWORK_EVENT_HANDLERS", raising=False)
    path = Event("x").dump(tmp_path)
    (res,) = send_event_files([path], remove_sent=True)
    assert not res and res.error == "no event handlers configured"
    assert os.path.exists(path)


# -- outbox -------------------------------------------------------------------------


def test_outbox_keeps_failed_events_and_retries_only_failed_handlers(tmp_path, recording):
    ok, flaky = recording(), recording(fail_with=OSError("offline"))
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    mgr = EventManager({"ok": ok, "flaky": flaky}, outbox=outbox)
    ev = Event("x")
    result = mgr.send_event(ev)
    assert not result and result.outbox_path is not None
    assert json.loads(open(result.outbox_path).read())["pending_handlers"] == ["flaky"]

    # Still failing: the file stays.
    (r1,) = mgr.flush_outbox()
    assert not r1 and os.path.exists(result.outbox_path)
    assert len(ok.events) == 1

    flaky.fail_with = None
    (r2,) = mgr.flush_outbox()
    assert r2.ok and r2.result.succeeded == ["flaky"]
    assert len(ok.events) == 1  # not sent twice to the handler that took it
    assert flaky.events[0].uid == ev.uid
    assert list(outbox.iterdir()) == []


def test_flush_rewrites_the_pending_list(tmp_path, recording):
    a, b = recording(fail_with=OSError("a down")), recording(fail_with=OSError("b down"))
    mgr = EventManager({"a": a, "b": b}, outbox=tmp_path)
    path = mgr.send_event(Event("x")).outbox_path
    b.fail_with = None
    mgr.flush_outbox()
    assert json.loads(open(path).read())["pending_handlers"] == ["a"]
    assert len(b.events) == 1


def test_success_writes_nothing_to_the_outbox(tmp_path, recording):
    mgr = EventManager({"a": recording()}, outbox=tmp_path)
    assert mgr.send_event(Event("x")).outbox_path is None
    assert list(tmp_path.iterdir()) == []
    assert EventManager(outbox=tmp_path / "missing").flush_outbox() == []


# -- environment --------------------------------------------------------------------


def test_env_round_trip_between_managers(tmp_path):
    parent = EventManager()
    parent.add_handler("logging", logger_name="app.events", level="DEBUG")
    parent.add_handler("file", directory=str(tmp_path / "a|b,c"), mode="dump")
    parent.add_handler("smtp", sender="me@x", to=["a@x", '"Doe, J" <j@x>'], port=2525,
                       starttls=True, password="s3cret", user="me")
    env: dict[str, str] = {}
    value = parent.handler_config_as_env(environ=env)
    assert env["MSGFRAMEWORK_EVENT_HANDLERS"] == value
    child = EventManager.from_env(environ=env)
    assert list(child.handlers) == ["logging", "file", "smtp"]
    assert [h.encode_config() for h in child.handlers.values()] == \
        [h.encode_config() for h in parent.handlers.values()]
    file_handler = child.handlers["file"]
    assert file_handler.directory == str(tmp_path / "a|b,c") and file_handler.mode == "dump"
    smtp = child.handlers["smtp"]
    assert smtp.port == 2525 and smtp.starttls is True
    assert smtp.recipients == ["a@x", "j@x"]
    assert "s3cret" not in repr(smtp)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_unset_or_empty_env_means_no_handlers(value):
    env = {} if value is None else {"MSGFRAMEWORK_EVENT_HANDLERS": value}
    mgr = EventManager()
    assert mgr.load_handlers_from_env(environ=env) == []
    assert mgr.handlers == {}


def test_bad_env_leaves_the_manager_unchanged(tmp_path):
    mgr = EventManager()
    env = {"V": f"file:directory={tmp_path}|logging:level=LOUD"}
    with pytest.raises(EventError, match="unknown logging level 'LOUD'"):
        mgr.load_handlers_from_env("V", env)
    assert mgr.handlers == {}
    with pytest.raises(EventError, match="unknown option 'colour'.*known: level, logger"):
        mgr.load_handlers_from_env("V", {"V": "logging:colour=red"})
    with pytest.raises(EventError, match="bad value for 'port'"):
        mgr.load_handlers_from_env("V", {"V": "smtp:from=a@x,to=b@x,port=abc"})
    with pytest.raises(EventError, match="bad value for 'create'"):
        mgr.load_handlers_from_env("V", {"V": f"file:directory={tmp_path},create=maybe"})
    with pytest.raises(EventError, match="no plugin named 'nope'"):
        mgr.load_handlers_from_env("V", {"V": "nope"})


def _conf(tmp_path, text=None):
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    files = []
    if text is not None:
        path = tmp_path / "events.conf"
        path.write_text(text, encoding="utf-8")
        files = [str(path)]
    conf(args=[], default_config_files=files, use_env=False)
    return conf


def test_handlers_from_the_config_option_on_the_callers_conf(tmp_path):
    conf = _conf(tmp_path, "[msgframework_events]\nhandlers = logging:level=DEBUG|"
                           f"file:directory={tmp_path / 'sink'}\n")
    env = {"MSGFRAMEWORK_EVENT_HANDLERS": "smtp:from=a@x,to=b@x"}  # not used: the option is set
    mgr = EventManager.from_config(conf, environ=env)
    assert list(mgr.handlers) == ["logging", "file"]
    assert mgr.handlers["logging"].level == "DEBUG"
    assert "handlers" in conf.msgframework_events  # registered on the caller's ConfigOpts


def test_unset_option_falls_back_to_the_environment_and_empty_means_none(tmp_path):
    env = {"MSGFRAMEWORK_EVENT_HANDLERS": "logging"}
    assert EventManager().load_handlers_from_config(_conf(tmp_path), environ=env) == ["logging"]
    empty = _conf(tmp_path, "[msgframework_events]\nhandlers =\n")
    assert EventManager().load_handlers_from_config(empty, environ=env) == []


def test_defaults_fill_what_the_spec_leaves_out(tmp_path):
    mgr = EventManager()
    defaults = {"notify": {"url": "memory://from-defaults"}, "file": {"directory": "unused"}}
    mgr.load_handlers(f"notify:topic=t|file:directory={tmp_path}", defaults=defaults)
    assert mgr.handlers["notify"].url == "memory://from-defaults"
    assert mgr.handlers["file"].directory == str(tmp_path)  # the spec wins
    with pytest.raises(EventError, match="from --handlers"):
        EventManager().load_handlers("file:directory=" + str(tmp_path), source="--handlers",
                                     defaults={"file": {"no_such_argument": 1}})


def test_bad_config_option_names_the_option_not_the_value(tmp_path):
    conf = _conf(tmp_path, "[msgframework_events]\nhandlers = smtp:from=a@x,to=b@x,"
                           "password=s3cret,port=x\n")
    with pytest.raises(EventError) as info:
        EventManager().load_handlers_from_config(conf, environ={})
    assert "bad value for 'port'" in str(info.value) and "s3cret" not in str(info.value)


def test_default_manager_helpers(monkeypatch, tmp_path):
    fresh = EventManager()
    monkeypatch.setattr(manager_mod, "default_manager", fresh)
    monkeypatch.setenv("MSGFRAMEWORK_EVENT_HANDLERS", "logging:level=WARNING")
    assert manager_mod.load_handlers_from_env() == ["logging"]
    assert isinstance(fresh.handlers["logging"], LoggingHandler)
    manager_mod.add_handler("file", directory=str(tmp_path))
    assert manager_mod.handler_config_as_env() == os.environ["MSGFRAMEWORK_EVENT_HANDLERS"]
    result = manager_mod.send_event(Event("x"))
    assert result.succeeded == ["logging", "file"]
    assert manager_mod.send_event_from_file(Event("y").dump(tmp_path)).ok


def test_unserializable_event_fails_every_handler_with_the_reason(tmp_path, recording, caplog):
    class Strict(recording):
        def send_event(self, event):
            event.as_dict()
            return super().send_event(event)

    mgr = EventManager({"a": Strict(), "b": Strict()}, outbox=tmp_path)
    result = mgr.send_event(Event("x", obj=object()))
    assert set(result.failed) == {"a", "b"}
    assert all("'obj' is not JSON-serializable" in r for r in result.failed.values())
    assert result.outbox_path is None  # could not be kept either, and that is logged
    assert "could not be kept in the outbox" in caplog.text
