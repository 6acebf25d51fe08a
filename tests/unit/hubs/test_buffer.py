"""ReplayBuffer: bounded, durable, monotonic, and honest about gaps."""

from __future__ import annotations

import threading

import pytest

from msgframework.hubs import ReplayBuffer


def test_sequence_numbers_grow_per_channel():
    b = ReplayBuffer(capacity=5)
    assert b.last_seq() == 0
    assert [b.append({"i": i}) for i in range(3)] == [1, 2, 3]
    assert b.append({"i": 0}, channel="other") == 1
    replay = b.since(1)
    assert [e.seq for e in replay.events] == [2, 3]
    assert [e.data["i"] for e in replay.events] == [1, 2]
    assert replay.missed == 0 and replay.last_seq == 3


def test_bounded_and_reports_what_was_trimmed():
    b = ReplayBuffer(capacity=3)
    for i in range(10):
        b.append({"i": i})
    replay = b.since(2)
    assert [e.seq for e in replay.events] == [8, 9, 10]
    assert replay.missed == 5  # 3..7 were trimmed
    assert b.since(7).missed == 0
    assert b.since(10).events == [] and b.since(10).missed == 0


def test_durable_and_monotonic_across_reopen(tmp_path):
    path = tmp_path / "replay.db"
    b = ReplayBuffer(path, capacity=2)
    for i in range(4):
        b.append({"i": i})
    b.close()
    again = ReplayBuffer(path, capacity=2)
    assert [e.data["i"] for e in again.since(None).events] == [2, 3]
    assert again.append({"i": 4}) == 5  # never reuses a number, even after trims
    again.close()


def test_subscribers_are_woken_and_can_leave():
    b = ReplayBuffer()
    woke = threading.Event()
    unsubscribe = b.subscribe(woke.set)
    b.append({})
    assert woke.is_set()
    woke.clear()
    unsubscribe()
    b.append({})
    assert not woke.is_set()


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(capacity=0)


def test_epoch_is_kept_by_the_file_and_new_for_a_new_buffer(tmp_path):
    path = tmp_path / "replay.db"
    first = ReplayBuffer(path)
    epoch = first.epoch
    assert first.event_id(7) == f"{epoch}-7"
    first.close()
    again = ReplayBuffer(path)
    assert again.epoch == epoch  # a restart on the same file: same ids
    again.close()
    path.unlink()
    assert ReplayBuffer(path).epoch != epoch  # the file was recreated
    assert ReplayBuffer().epoch != ReplayBuffer().epoch  # memory buffers


def test_event_ids_parse_with_or_without_an_epoch():
    from msgframework.hubs.buffer import EventPosition, parse_event_id

    assert parse_event_id("3f2a9c-41") == EventPosition(41, "3f2a9c")
    assert parse_event_id(" 41 ") == EventPosition(41, None)
    for bad in ("", "x", "-1", "ab-", "AB-1", "a-b-1", "1.5"):
        with pytest.raises(ValueError, match="event id"):
            parse_event_id(bad)


def test_default_path_is_next_to_the_default_transport_file(tmp_path, monkeypatch):
    from msgframework.drivers.sqlite.location import default_database_path
    from msgframework.hubs.buffer import default_buffer_path

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    path = default_buffer_path("ops")
    assert path == default_database_path().parent / "replay-ops.db"
    buffer = ReplayBuffer(path)  # the directory is created
    assert buffer.append({}) == 1 and path.is_file()
    buffer.close()
