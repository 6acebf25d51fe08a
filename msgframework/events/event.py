"""The e3-style :class:`Event`: a named record of something that happened.

An event holds free-form data (set as attributes or keyword arguments) plus
four standard keys: ``name``, ``uid`` (a random unique id), ``begin_time``
(set at creation) and ``end_time`` (set by :meth:`Event.close`). Used as a
context manager it closes itself on exit; a closed event is frozen, so what
handlers send is what the code recorded, not something changed later.

Times are timezone-aware UTC :class:`~datetime.datetime` objects and are
rendered as ISO 8601 with an explicit offset (``2026-01-02T03:04:05.123456+00:00``);
naive datetimes are refused because their meaning depends on the machine.

An event can be written to disk with :meth:`Event.dump` and read back with
:meth:`Event.load`; that is how events recorded while offline are sent later
(see :meth:`msgframework.events.manager.EventManager.send_event_from_file`).
The dump holds the *formatted* data (:meth:`Event.as_dict`), so handlers see
the same thing whether an event is sent at once or replayed.

Dump format (JSON, one object)::

    {"format": "msgframework.event/1",
     "data": {...as_dict()...},
     "attachments": {"<name>": {"name", "path", "sha1", "size", "inline",
                                "content_b64"?}},
     "closed": true}
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import types
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from msgframework.events.attachment import DEFAULT_INLINE_LIMIT, Attachment
from msgframework.exceptions import EventError

__all__ = ["Event", "unique_id", "DUMP_FORMAT", "MAX_DUMP_SIZE", "utc_datetime",
           "write_json_atomic", "read_json_doc"]

#: The ``format`` marker written in every dump; load refuses other formats.
DUMP_FORMAT = "msgframework.event/1"
#: Load refuses bigger files: inline attachments are bounded, so a dump this
#: large is not ours.
MAX_DUMP_SIZE = 256 * 1024 * 1024

Formatter = Callable[[str, Any], dict[str, Any]]

_TIME_KEYS = ("begin_time", "end_time")
_SAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


def unique_id() -> str:
    """Return a random globally unique id (a UUID4, which unlike e3's UUID1
    does not reveal the host's MAC address)."""
    return str(uuid.uuid4())


def utc_datetime(value: datetime | float | int | str) -> datetime:
    """Convert ``value`` to an aware UTC datetime, refusing ambiguous input.

    Accepts an aware datetime, a POSIX timestamp, or an ISO 8601 string with
    an offset. Naive values raise EventError: which zone they meant is unknown.
    """
    if isinstance(value, bool):
        raise EventError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise EventError(f"not an ISO 8601 time: {value!r}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise EventError(f"time {value.isoformat()} has no time zone; give UTC explicitly")
        return value.astimezone(timezone.utc)
    raise EventError(f"not a time: {value!r}")


class Event:
    """An event: data, attachments, a begin and an end time.

    ``Event("build", uid=None, project="x")`` creates an open event whose
    ``begin_time`` is now (UTC). Set more data as attributes
    (``event.status = "ok"``), attach files with :meth:`attach_file`, then
    :meth:`close` it, or use ``with Event(...) as ev:``.
    """

    def __init__(self, name: str, uid: str | None = None, **kwargs: Any) -> None:
        if not isinstance(name, str) or not name:
            raise EventError(f"event name must be a non-empty string, got {name!r}")
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_attachments", {})
        object.__setattr__(self, "_formatters", {k: self.format_date for k in _TIME_KEYS})
        object.__setattr__(self, "_closed", False)
        self.name = name
        self.uid = uid if uid is not None else unique_id()
        self.begin_time = datetime.now(timezone.utc)
        self.end_time = None
        for key, value in kwargs.items():
            setattr(self, key, value)

    # -- data as attributes -------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        """Store public attributes in the event data; refused once closed."""
        if name.startswith("_"):
            raise AttributeError(f"event data keys cannot start with '_': {name!r}")
        self._check_open(f"set {name!r}")
        if hasattr(type(self), name):
            raise EventError(f"{name!r} is an Event method or property, not a data key")
        if name in _TIME_KEYS and value is not None:
            value = utc_datetime(value)
        elif name == "uid" and (not isinstance(value, str) or not value):
            raise EventError(f"event uid must be a non-empty string, got {value!r}")
        self._data[name] = value

    def __getattr__(self, name: str) -> Any:
        """Read event data as attributes (only called for names not found otherwise)."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"event {self._data.get('name')!r} has no {name!r}") from None

    def __delattr__(self, name: str) -> None:
        self._check_open(f"delete {name!r}")
        if name in ("name", "uid", "begin_time", "end_time"):
            raise EventError(f"cannot delete standard key {name!r}")
        try:
            del self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Event {self._data['name']!r} uid={self._data['uid']!r} {state}>"

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run; the event is then read-only."""
        return bool(self._closed)

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise EventError(f"cannot {what}: event {self._data.get('uid')!r} is closed")

    # -- context manager / closing -----------------------------------------

    def __enter__(self) -> Event:
        return self

    def __exit__(self, _type: type[BaseException] | None, _val: BaseException | None,
                 _tb: types.TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Set ``end_time`` (unless already set) and freeze the event.

        Idempotent: closing a closed event changes nothing, so it also works
        with :func:`contextlib.closing`.
        """
        if self._closed:
            return
        if self._data.get("end_time") is None:
            self._data["end_time"] = datetime.now(timezone.utc)
        object.__setattr__(self, "_closed", True)

    # -- attachments ----------------------------------------------------------

    def attach_file(self, path: str | os.PathLike[str], name: str = "log", *,
                    inline_limit: int = DEFAULT_INLINE_LIMIT) -> Attachment:
        """Attach the file at ``path`` under ``name`` and record its SHA-1.

        The file is read now: if it holds at most ``inline_limit`` bytes its
        content travels with the event; otherwise the event carries a
        reference (absolute path, size, SHA-1) and handlers re-read and verify
        it when sending. See :mod:`msgframework.events.attachment`.
        Raises EventError if the event is closed, the name is taken or
        unsafe, or the path is not a readable regular file.
        """
        self._check_open(f"attach {name!r}")
        if name in self._attachments:
            raise EventError(f"event already has an attachment named {name!r}")
        att = Attachment.from_file(path, name, inline_limit=inline_limit)
        self._attachments[name] = att
        return att

    @property
    def attachments(self) -> dict[str, Attachment]:
        """The attachments by name (a copy)."""
        return dict(self._attachments)

    def get_attachments(self) -> dict[str, tuple[str, str]]:
        """e3-compatible view: ``{name: (path, sha1)}``."""
        return {n: (a.path, a.sha1) for n, a in self._attachments.items()}

    # -- formatting -------------------------------------------------------------

    def set_formatter(self, key: str, fun: Formatter) -> None:
        """Use ``fun(key, value) -> dict`` to render ``key`` in :meth:`as_dict`.

        The returned dict replaces the key in the output (it may hold other
        keys, e.g. split a user object into ``user_id`` and ``user_name``).
        Formatters are not saved in dumps: a dump holds their output.
        """
        if not callable(fun):
            raise EventError(f"formatter for {key!r} is not callable")
        self._formatters[key] = fun

    @staticmethod
    def format_date(key: str, value: datetime | float | str | None) -> dict[str, Any]:
        """Render a time as ISO 8601 UTC (``None`` stays ``None``)."""
        if value is None:
            return {key: None}
        return {key: utc_datetime(value).isoformat()}

    def as_dict(self) -> dict[str, Any]:
        """The event data as a fresh JSON-serializable dict, formatters applied.

        Raises EventError naming the key whose value cannot be serialized
        (give it a formatter with :meth:`set_formatter`).
        """
        out: dict[str, Any] = {}
        for key, value in self._data.items():
            fmt = self._formatters.get(key)
            if fmt is None:
                out[key] = value
                continue
            try:
                rendered = fmt(key, value)
            except EventError:
                raise
            except Exception as exc:
                raise EventError(f"formatter for {key!r} failed: {exc!r}") from exc
            if not isinstance(rendered, dict):
                raise EventError(f"formatter for {key!r} returned "
                                 f"{type(rendered).__name__}, not a dict")
            out.update(rendered)
        copy: dict[str, Any] = {}
        for key, value in out.items():
            try:
                copy[key] = json.loads(json.dumps(value, allow_nan=False))
            except (TypeError, ValueError) as exc:
                raise EventError(f"event value {key!r} is not JSON-serializable "
                                 f"({exc}); give it a formatter") from exc
        return copy

    def to_json_dict(self, include_content: bool = True) -> dict[str, Any]:
        """The full dump structure: format marker, data, attachments, closed flag."""
        return {
            "format": DUMP_FORMAT,
            "data": self.as_dict(),
            "attachments": {n: a.as_dict(include_content)
                            for n, a in self._attachments.items()},
            "closed": self.closed,
        }

    # -- dump / load ------------------------------------------------------------

    def dump(self, event_dir: str | os.PathLike[str]) -> str:
        """Write the event as JSON into ``event_dir``; return the file's path.

        The file is named ``<uid>-<random id>.json`` (the uid made file-safe)
        and written atomically (temporary file, fsync, rename), so a crash
        never leaves a half-written event for a later replay to choke on.
        """
        return write_json_atomic(event_dir, str(self._data["uid"]), self.to_json_dict())

    @classmethod
    def from_json_dict(cls, doc: Any, source: str = "<dict>") -> Event:
        """Rebuild an event from :meth:`to_json_dict` output; EventError if malformed."""
        if not isinstance(doc, dict) or doc.get("format") != DUMP_FORMAT:
            raise EventError(f"{source}: not a msgframework event dump "
                             f"(expected format {DUMP_FORMAT!r})")
        data, atts = doc.get("data"), doc.get("attachments", {})
        if not isinstance(data, dict) or not isinstance(atts, dict):
            raise EventError(f"{source}: 'data' and 'attachments' must be objects")
        for key in ("name", "uid"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise EventError(f"{source}: event data lacks a string {key!r}")
        event = cls.__new__(cls)
        object.__setattr__(event, "_data", {})
        object.__setattr__(event, "_attachments", {})
        object.__setattr__(event, "_formatters", {k: cls.format_date for k in _TIME_KEYS})
        object.__setattr__(event, "_closed", False)
        for key, value in data.items():
            if not isinstance(key, str) or key.startswith("_"):
                raise EventError(f"{source}: bad data key {key!r}")
            if key in _TIME_KEYS and value is not None:
                value = utc_datetime(value)
            event._data[key] = value
        for name, entry in atts.items():
            att = Attachment.from_dict(entry)
            if att.name != name:
                raise EventError(f"{source}: attachment key {name!r} != its name {att.name!r}")
            event._attachments[name] = att
        event._data.setdefault("begin_time", None)
        event._data.setdefault("end_time", None)
        if doc.get("closed"):
            object.__setattr__(event, "_closed", True)
        return event

    @classmethod
    def load(cls, json_filename: str | os.PathLike[str]) -> Event:
        """Read an event written by :meth:`dump`; EventError if unreadable or malformed."""
        path = os.fspath(json_filename)
        return cls.from_json_dict(read_json_doc(path), source=repr(path))


def write_json_atomic(directory: str | os.PathLike[str], uid: str, doc: dict[str, Any],
                      path: str | None = None) -> str:
    """Write ``doc`` as JSON to ``path`` (default: a new ``<uid>-<id>.json`` in
    ``directory``) through a temporary file, fsync and rename."""
    directory = os.fspath(directory)
    text = json.dumps(doc, indent=1, sort_keys=True)
    if path is None:
        stem = _SAFE_FILE_CHARS.sub("_", uid)[:100].lstrip(".") or "event"
        path = os.path.join(directory, f"{stem}-{unique_id()}.json")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".event-", suffix=".tmp")
    except OSError as exc:
        raise EventError(f"cannot write an event into {directory!r}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise EventError(f"cannot write an event into {directory!r}: {exc.strerror}") from exc
    return path


def read_json_doc(path: str) -> dict[str, Any]:
    """Read a JSON object from ``path``, bounded by :data:`MAX_DUMP_SIZE`."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_DUMP_SIZE + 1)
    except OSError as exc:
        raise EventError(f"cannot read event file {path!r}: {exc.strerror}") from exc
    if len(raw) > MAX_DUMP_SIZE:
        raise EventError(f"{path!r}: larger than {MAX_DUMP_SIZE} bytes, not an event dump")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventError(f"{path!r}: not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise EventError(f"{path!r}: not a msgframework event dump")
    return doc
