"""Files carried by an event: inline when small, by reference when large.

Why two modes: an event is often dumped to disk while offline and sent
later, by which time a log file may have been rotated or rewritten. A small
file is therefore read once, when it is attached, and its bytes travel with
the event (``content``); what a handler sends is exactly what was attached.
A large file would bloat dumps, e-mails and notification payloads, so it is
carried *by reference*: its absolute path, size and SHA-1 digest. A handler
that needs the bytes calls :meth:`Attachment.read`, which refuses a file whose
digest no longer matches, so a changed file is reported instead of being sent
as if it were the original.

Safety rules, checked at attach time:

* the path must name a regular file (not a directory, FIFO or device, which
  could block the reader or be endless);
* the attachment name must be a plain file name (no ``/``, ``\\``, ``..``,
  NUL, at most 200 characters) because handlers use it as a file name;
* inline content is bounded by ``inline_limit`` (default
  :data:`DEFAULT_INLINE_LIMIT`, at most :data:`MAX_INLINE_LIMIT`); bigger files
  are carried by reference, whatever their size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from msgframework.exceptions import EventError

__all__ = ["Attachment", "DEFAULT_INLINE_LIMIT", "MAX_INLINE_LIMIT", "check_attachment_name"]

#: Files up to this many bytes travel inline with the event.
DEFAULT_INLINE_LIMIT = 64 * 1024
#: The largest ``inline_limit`` accepted: keeps dumps and payloads bounded.
MAX_INLINE_LIMIT = 16 * 1024 * 1024

_CHUNK = 1024 * 1024
_NAME_RE = re.compile(r"^[^/\\\x00]{1,200}$")


def check_attachment_name(name: str) -> str:
    """Return ``name`` if it is usable as a plain file name, else raise EventError."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", ".."):
        raise EventError(
            f"invalid attachment name {name!r}: must be 1-200 characters, "
            "without '/', '\\' or NUL, and not '.' or '..'")
    return name


@dataclass(frozen=True)
class Attachment:
    """One attached file: where it came from, its digest, and maybe its bytes.

    ``content`` is the file's bytes when it was small enough to travel inline,
    ``None`` when it travels by reference (``path`` + ``sha1`` + ``size``).
    """

    name: str
    path: str
    sha1: str
    size: int
    content: bytes | None = None

    @property
    def inline(self) -> bool:
        """True when the bytes travel with the event."""
        return self.content is not None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], name: str,
                  inline_limit: int = DEFAULT_INLINE_LIMIT) -> Attachment:
        """Read ``path`` once: digest it, and keep its bytes if it is small."""
        check_attachment_name(name)
        if not 0 <= inline_limit <= MAX_INLINE_LIMIT:
            raise EventError(
                f"inline_limit must be between 0 and {MAX_INLINE_LIMIT}, got {inline_limit}")
        abspath = os.path.abspath(os.fspath(path))
        try:
            # O_NONBLOCK so that opening a FIFO does not hang before we can reject it.
            fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except OSError as exc:
            raise EventError(f"cannot attach {abspath!r}: {exc.strerror}") from exc
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise EventError(f"cannot attach {abspath!r}: not a regular file")
        with os.fdopen(fd, "rb") as fh:
            digest = hashlib.sha1(usedforsecurity=False)
            kept: list[bytes] | None = [] if st.st_size <= inline_limit else None
            size = 0
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if kept is not None:
                    if size > inline_limit:  # the file grew while we read it
                        kept = None
                    else:
                        kept.append(chunk)
        content = b"".join(kept) if kept is not None else None
        return cls(name=name, path=abspath, sha1=digest.hexdigest(), size=size, content=content)

    def read(self, max_size: int | None = None) -> bytes:
        """The attached bytes; for a reference, re-read and check the digest.

        Raises EventError if the referenced file is missing, bigger than
        ``max_size`` or no longer matches the recorded digest.
        """
        if self.content is not None:
            return self.content
        if max_size is not None and self.size > max_size:
            raise EventError(f"attachment {self.name!r} is {self.size} bytes, "
                             f"above the limit of {max_size}")
        try:
            with open(self.path, "rb") as fh:
                data = fh.read(self.size + 1)
        except OSError as exc:
            raise EventError(
                f"attachment {self.name!r}: cannot read {self.path!r}: {exc.strerror}") from exc
        if len(data) != self.size or hashlib.sha1(
                data, usedforsecurity=False).hexdigest() != self.sha1:
            raise EventError(f"attachment {self.name!r}: {self.path!r} changed since it was "
                             f"attached (sha1 {self.sha1} expected)")
        return data

    def as_dict(self, include_content: bool = True) -> dict[str, Any]:
        """JSON-ready form; inline bytes as base64 under ``content_b64``."""
        out: dict[str, Any] = {"name": self.name, "path": self.path, "sha1": self.sha1,
                               "size": self.size, "inline": self.inline}
        if include_content and self.content is not None:
            out["content_b64"] = base64.b64encode(self.content).decode("ascii")
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Attachment:
        """Rebuild an attachment from :meth:`as_dict` output (a loaded dump)."""
        if not isinstance(data, dict):
            raise EventError(f"attachment entry must be an object, got {type(data).__name__}")
        try:
            name, path, sha1, size = data["name"], data["path"], data["sha1"], data["size"]
        except KeyError as exc:
            raise EventError(f"attachment entry lacks {exc.args[0]!r}") from None
        check_attachment_name(name)
        if not (isinstance(path, str) and isinstance(sha1, str)
                and re.fullmatch(r"[0-9a-f]{40}", sha1)
                and isinstance(size, int) and size >= 0):
            raise EventError(f"attachment {name!r}: bad path, sha1 or size")
        content = None
        if data.get("content_b64") is not None:
            try:
                content = base64.b64decode(data["content_b64"], validate=True)
            except (binascii.Error, TypeError, ValueError) as exc:
                raise EventError(f"attachment {name!r}: content is not valid base64") from exc
            if len(content) != size or hashlib.sha1(
                    content, usedforsecurity=False).hexdigest() != sha1:
                raise EventError(f"attachment {name!r}: inline content does not match its sha1")
        return cls(name=name, path=path, sha1=sha1, size=size, content=content)
