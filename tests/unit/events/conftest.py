"""Helpers for the events tests: in-test handlers registered through the public API."""

from __future__ import annotations

import threading

import pytest

from msgframework.events import EventHandler


class RecordingHandler(EventHandler):
    """Keeps every event it is given; fails while ``fail_with`` is set."""

    def __init__(self, fail_with: BaseException | None = None, result: object = None) -> None:
        self.events: list = []
        self.fail_with = fail_with
        self.result = result
        self.closed = 0
        self.lock = threading.Lock()

    def send_event(self, event):
        if self.fail_with is not None:
            raise self.fail_with
        with self.lock:
            self.events.append(event)
        return self.result

    def close(self):
        self.closed += 1


@pytest.fixture
def recording():
    return RecordingHandler
