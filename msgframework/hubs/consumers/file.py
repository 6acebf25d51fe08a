"""FileConsumer: append each event to a file as one JSON line.

JSON lines rather than Flask-Notifications' ``str(event)``: the file can
be read back (``HubEvent.from_dict(json.loads(line))``), grepped and
tailed, and a line is never half-written by two threads at once.
"""

from __future__ import annotations

import json
import os
import threading
from typing import IO

from msgframework.hubs.consumers.base import Consumer
from msgframework.hubs.event import HubEvent

__all__ = ["FileConsumer", "read_events"]


class FileConsumer(Consumer):
    """Append ``event.to_dict()`` as a JSON line to ``path``.

    :param fsync: call ``os.fsync`` after each line, so an acknowledged
        notification is on disk even after a power cut (slower).
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.path = os.fspath(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def consume(self, event: HubEvent) -> None:
        line = json.dumps(event.to_dict(), default=str, ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()
            if self.fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_events(path: str | os.PathLike[str]) -> list[HubEvent]:
    """The events a FileConsumer wrote to ``path``, in order."""
    with open(path, encoding="utf-8") as f:
        return [HubEvent.from_dict(json.loads(line)) for line in f if line.strip()]
