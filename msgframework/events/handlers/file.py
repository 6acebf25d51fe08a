"""The ``file`` event handler: keep events in a directory.

Two modes:

``jsonl`` (default)
    Append one line per event to ``<directory>/<filename>``
    (default ``events.jsonl``): ``{"event": {...}, "attachments": {...}}``,
    small attachments inline as base64, large ones by reference (path, size,
    sha1). Each line is written with a single ``write`` on a file opened for
    appending under an exclusive ``flock``, so lines from concurrent threads
    or processes never interleave.
``dump``
    Write each event as its own file with :meth:`Event.dump`; such files can
    be replayed with ``msgframework send-event``. Pointing another manager at
    this directory makes it an outbox.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from typing import TYPE_CHECKING, ClassVar

from msgframework.events.attachment import check_attachment_name
from msgframework.events.handlers.base import ConfigField, EventHandler, attachments_payload
from msgframework.exceptions import EventError

if TYPE_CHECKING:
    from msgframework.events.event import Event

__all__ = ["FileHandler"]

_MODES = ("jsonl", "dump")


class FileHandler(EventHandler):
    """Append events as JSON lines, or dump one file per event, into ``directory``."""

    plugin_name = "file"
    config_fields: ClassVar[dict[str, ConfigField]] = {
        "directory": ConfigField(str),
        "mode": ConfigField(str),
        "filename": ConfigField(str),
        "create": ConfigField(bool),
    }

    def __init__(self, directory: str | os.PathLike[str], mode: str = "jsonl",
                 filename: str = "events.jsonl", create: bool = True) -> None:
        if mode not in _MODES:
            raise EventError(f"event handler 'file': mode must be one of {_MODES}, got {mode!r}")
        try:
            check_attachment_name(filename)  # same rule: a plain file name
        except EventError:
            raise EventError(f"event handler 'file': filename must be a plain file name, "
                             f"got {filename!r}") from None
        self.directory = os.path.abspath(os.fspath(directory))
        self.mode = mode
        self.filename = filename
        self.create = create
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        """The JSON-lines file (``jsonl`` mode)."""
        return os.path.join(self.directory, self.filename)

    def _ensure_dir(self) -> None:
        if self.create:
            try:
                os.makedirs(self.directory, exist_ok=True)
            except OSError as exc:
                raise EventError(f"cannot create {self.directory!r}: {exc.strerror}") from exc

    def send_event(self, event: Event) -> None:
        self._ensure_dir()
        if self.mode == "dump":
            event.dump(self.directory)
            return
        line = json.dumps({"event": event.as_dict(), "attachments": attachments_payload(event)},
                          sort_keys=True, ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            except OSError as exc:
                raise EventError(f"cannot open {self.path!r}: {exc.strerror}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                written = os.write(fd, data)
                if written != len(data):
                    raise EventError(f"short write to {self.path!r}: "
                                     f"{written} of {len(data)} bytes")
                os.fsync(fd)
            except OSError as exc:
                raise EventError(f"cannot write {self.path!r}: {exc.strerror}") from exc
            finally:
                os.close(fd)  # also releases the flock
