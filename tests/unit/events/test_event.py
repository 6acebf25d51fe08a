"""Event: data, times, closing, attachments, formatters, dump and load."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgframework.events import Event, unique_id
from msgframework.events.attachment import Attachment
from msgframework.exceptions import EventError, MessagingException


def test_unique_id_is_random_uuid4():
    ids = {unique_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 36 and i[14] == "4" for i in ids)


def test_new_event_has_standard_keys_in_utc():
    before = datetime.now(timezone.utc)
    ev = Event("build", project="nova")
    assert ev.name == "build" and ev.project == "nova"
    assert ev.begin_time.tzinfo is not None and ev.begin_time.utcoffset() == timedelta(0)
    assert before <= ev.begin_time <= datetime.now(timezone.utc)
    assert ev.end_time is None
    assert Event("a").uid != Event("a").uid
    assert Event("a", uid="fixed").uid == "fixed"


def test_context_manager_sets_end_time_and_freezes():
    with Event("job") as ev:
        ev.status = "running"
        assert not ev.closed
    assert ev.closed
    assert ev.end_time >= ev.begin_time
    end = ev.end_time
    with pytest.raises(EventError, match="closed"):
        ev.status = "changed"
    with pytest.raises(EventError, match="closed"):
        del ev.status
    ev.close()  # idempotent
    assert ev.end_time == end
    assert ev.status == "running"


def test_closing_even_when_the_block_raises():
    with pytest.raises(ZeroDivisionError), Event("job") as ev:
        raise ZeroDivisionError
    assert ev.closed and ev.end_time is not None


def test_event_error_is_a_messaging_exception():
    assert issubclass(EventError, MessagingException)


def test_explicit_end_time_is_kept_on_close():
    end = datetime(2030, 1, 1, tzinfo=timezone.utc)
    ev = Event("x")
    ev.end_time = end
    ev.close()
    assert ev.end_time == end


@pytest.mark.parametrize("value, expected", [
    (0, datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ("2024-05-06T07:08:09+02:00", datetime(2024, 5, 6, 5, 8, 9, tzinfo=timezone.utc)),
])
def test_times_are_normalised_to_utc(value, expected):
    ev = Event("x")
    ev.begin_time = value
    assert ev.begin_time == expected and ev.begin_time.tzinfo == timezone.utc
    assert ev.as_dict()["begin_time"] == expected.isoformat()
    assert ev.as_dict()["begin_time"].endswith("+00:00")


@pytest.mark.parametrize("bad", [datetime(2024, 1, 1), "2024-01-01T00:00:00", "yesterday", True])
def test_ambiguous_or_bad_times_are_refused(bad):
    ev = Event("x")
    with pytest.raises(EventError):
        ev.begin_time = bad


def test_bad_names_and_reserved_keys():
    with pytest.raises(EventError, match="name"):
        Event("")
    with pytest.raises(EventError, match="uid"):
        Event("x", uid="")
    ev = Event("x")
    with pytest.raises(EventError, match="method"):
        ev.dump = 1
    with pytest.raises(AttributeError):
        ev._secret = 1
    with pytest.raises(AttributeError, match="nothing"):
        ev.nothing  # noqa: B018


def test_formatter_replaces_key_in_as_dict():
    class User:
        def __init__(self, uid, name):
            self.uid, self.name = uid, name

    ev = Event("login", user=User(7, "ann"))
    with pytest.raises(EventError, match="'user' is not JSON-serializable"):
        ev.as_dict()
    ev.set_formatter("user", lambda k, v: {f"{k}_id": v.uid, f"{k}_name": v.name})
    d = ev.as_dict()
    assert d["user_id"] == 7 and d["user_name"] == "ann" and "user" not in d


def test_formatter_errors_are_reported_with_the_key():
    ev = Event("x", a=1)
    ev.set_formatter("a", lambda k, v: [v])
    with pytest.raises(EventError, match="formatter for 'a' returned list"):
        ev.as_dict()
    ev.set_formatter("a", lambda k, v: 1 / 0)
    with pytest.raises(EventError, match="formatter for 'a' failed"):
        ev.as_dict()


def test_as_dict_is_a_copy():
    ev = Event("x", items=[1, 2])
    d = ev.as_dict()
    d["items"].append(3)
    assert ev.items == [1, 2]


# -- attachments ---------------------------------------------------------------


def _write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def test_small_file_travels_inline_with_sha1(tmp_path):
    data = b"line 1\nline 2\n"
    path = _write(tmp_path / "build.log", data)
    ev = Event("build")
    att = ev.attach_file(path)
    assert att.name == "log" and att.inline and att.content == data
    assert att.sha1 == hashlib.sha1(data).hexdigest() and att.size == len(data)
    assert ev.get_attachments() == {"log": (os.path.abspath(path), att.sha1)}
    os.unlink(path)  # the content was captured when attached
    assert ev.attachments["log"].read() == data


def test_large_file_travels_by_reference_and_is_verified(tmp_path):
    data = os.urandom(5000)
    path = _write(tmp_path / "big.bin", data)
    ev = Event("build")
    att = ev.attach_file(path, "big", inline_limit=1000)
    assert not att.inline and att.content is None
    assert att.sha1 == hashlib.sha1(data).hexdigest()
    assert att.read() == data
    with pytest.raises(EventError, match="above the limit"):
        att.read(max_size=100)
    _write(tmp_path / "big.bin", b"x" + data[1:])
    with pytest.raises(EventError, match="changed since it was attached"):
        att.read()
    os.unlink(path)
    with pytest.raises(EventError, match="cannot read"):
        att.read()


@pytest.mark.parametrize("name", ["", "a/b", "..", ".", "a\\b", "x\x00", "n" * 201])
def test_unsafe_attachment_names_are_refused(tmp_path, name):
    path = _write(tmp_path / "f", b"x")
    with pytest.raises(EventError, match="invalid attachment name"):
        Event("x").attach_file(path, name)


def test_attachment_must_be_a_regular_file(tmp_path):
    ev = Event("x")
    with pytest.raises(EventError, match="not a regular file"):
        ev.attach_file(tmp_path, "dir")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(EventError, match="not a regular file"):
        ev.attach_file(fifo, "fifo")  # must not block waiting for a writer
    with pytest.raises(EventError, match="cannot attach"):
        ev.attach_file(tmp_path / "missing", "missing")
    assert ev.attachments == {}


def test_attachment_rules(tmp_path):
    path = _write(tmp_path / "f", b"x")
    ev = Event("x")
    ev.attach_file(path, "a")
    with pytest.raises(EventError, match="already has an attachment named 'a'"):
        ev.attach_file(path, "a")
    with pytest.raises(EventError, match="inline_limit"):
        ev.attach_file(path, "b", inline_limit=-1)
    ev.close()
    with pytest.raises(EventError, match="closed"):
        ev.attach_file(path, "c")


# -- dump / load ---------------------------------------------------------------------


def test_dump_load_round_trip(tmp_path):
    small = _write(tmp_path / "small.txt", b"hello")
    big = _write(tmp_path / "big.bin", os.urandom(3000))
    with Event("deploy", uid="u/1", region="eu", count=3, tags=["a", "b"]) as ev:
        ev.attach_file(small, "small.txt")
        ev.attach_file(big, "big.bin", inline_limit=100)
    out = tmp_path / "out"
    out.mkdir()
    path = ev.dump(out)
    assert os.path.dirname(path) == str(out)
    assert os.path.basename(path).startswith("u_1-")  # the uid made file-safe
    assert [p.name for p in out.iterdir()] == [os.path.basename(path)]  # no temp left
    loaded = Event.load(path)
    assert loaded.as_dict() == ev.as_dict()
    assert loaded.closed
    assert loaded.attachments == ev.attachments
    assert loaded.begin_time == ev.begin_time and loaded.begin_time.tzinfo is not None
    with pytest.raises(EventError, match="closed"):
        loaded.extra = 1


def test_dump_holds_formatted_data(tmp_path):
    ev = Event("x", obj=object())
    ev.set_formatter("obj", lambda k, v: {k: "rendered"})
    loaded = Event.load(ev.dump(tmp_path))
    assert loaded.obj == "rendered" and not loaded.closed


def test_dump_into_missing_directory_fails_clearly(tmp_path):
    with pytest.raises(EventError, match="cannot write an event"):
        Event("x").dump(tmp_path / "nope")


@pytest.mark.parametrize("content, match", [
    (b"not json", "not valid JSON"),
    (b"[1]", "not a msgframework event dump"),
    (b'{"format": "other"}', "not a msgframework event dump"),
    (b'{"format": "msgframework.event/1", "data": {"uid": "u"}}', "lacks a string 'name'"),
    (b'{"format": "msgframework.event/1", "data": {"name": "n", "uid": "u"},'
     b' "attachments": {"a": {"name": "a", "path": "/x", "sha1": "' + b"0" * 40 +
     b'", "size": 1, "content_b64": "eA=="}}}', "does not match its sha1"),
    (b'{"format": "msgframework.event/1", "data": {"name": "n", "uid": "u"},'
     b' "attachments": {"a": {"name": "../a", "path": "/x", "sha1": "' + b"0" * 40 +
     b'", "size": 1}}}', "invalid attachment name"),
])
def test_load_rejects_malformed_files(tmp_path, content, match):
    path = tmp_path / "e.json"
    path.write_bytes(content)
    with pytest.raises(EventError, match=match):
        Event.load(path)


def test_load_missing_file(tmp_path):
    with pytest.raises(EventError, match="cannot read event file"):
        Event.load(tmp_path / "missing.json")


def test_attachment_dict_round_trip_without_content():
    att = Attachment("n", "/p", "a" * 40, 10, b"0123456789")
    ref = Attachment.from_dict(json.loads(json.dumps(att.as_dict(include_content=False))))
    assert ref.content is None and ref.sha1 == att.sha1 and ref.path == "/p"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8)
_keys = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda k: k not in {"name", "uid", "begin_time", "end_time"} and not hasattr(Event, k))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(_keys, _json, max_size=5), st.booleans())
def test_dump_load_round_trips_any_json_data(tmp_path, data, close):
    ev = Event("prop", **data)
    if close:
        ev.close()
    loaded = Event.load(ev.dump(tmp_path))
    assert loaded.as_dict() == ev.as_dict() and loaded.closed == close
