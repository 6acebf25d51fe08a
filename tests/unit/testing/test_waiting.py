"""wait_for, Recorder and RecordingEndpoint: waits that end when the thing happens."""

from __future__ import annotations

import threading
import time

import pytest

from msgframework.testing.waiting import Recorder, RecordingEndpoint, wait_for


def test_wait_for_with_condition_wakes_on_notify() -> None:
    cond = threading.Condition()
    state: list[int] = []

    def later() -> None:
        with cond:
            state.append(1)
            cond.notify_all()

    timer = threading.Timer(0.02, later)
    timer.start()
    start = time.monotonic()
    assert wait_for(lambda: state, 30.0, condition=cond) == [1]
    assert time.monotonic() - start < 10.0  # woken, long before the timeout re-checks
    timer.join()


def test_wait_for_without_condition_rechecks() -> None:
    event = threading.Event()
    threading.Timer(0.02, event.set).start()
    assert wait_for(event.is_set, 5.0) is True


@pytest.mark.parametrize("use_condition", [True, False])
def test_wait_for_times_out_with_message(use_condition: bool) -> None:
    cond = threading.Condition() if use_condition else None
    start = time.monotonic()
    with pytest.raises(AssertionError, match="never"):
        wait_for(lambda: False, 0.05, condition=cond, message="never")
    assert 0.04 < time.monotonic() - start < 5.0


def test_recorder_wait_for_count() -> None:
    recorder = Recorder()
    threading.Timer(0.01, lambda: [recorder.add(i) for i in range(3)]).start()
    assert recorder.wait_for_count(3, 5.0) == [0, 1, 2]
    assert len(recorder) == 3
    with pytest.raises(AssertionError, match="expected 4 items"):
        recorder.wait_for_count(4, 0.02)


def test_recording_endpoint_records_every_priority() -> None:
    endpoint = RecordingEndpoint(result="requeue")
    assert endpoint.info({"c": 1}, "pub", "a.b", {"x": 1}, {"m": 1}) == "requeue"
    endpoint.error({}, "pub", "c.d", 2, {})
    assert endpoint.wait_for_count(2, 1.0)[0] == ("info", {"c": 1}, "pub", "a.b", {"x": 1},
                                                  {"m": 1})
    assert endpoint.payloads == [{"x": 1}, 2]
    assert endpoint.event_types == ["a.b", "c.d"]
