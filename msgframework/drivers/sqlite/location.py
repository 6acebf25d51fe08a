"""Where the database file is: parsing the path out of a ``sqlite://`` URL.

The rule is literal: **the path is everything after ``sqlite://``** (up to
the query), percent-decoded.

=================================  =========================================
URL                                File
=================================  =========================================
``sqlite:///var/lib/app/msgs.db``  ``/var/lib/app/msgs.db`` (absolute)
``sqlite:////var/lib/app/msgs.db`` ``/var/lib/app/msgs.db`` (absolute; the
                                   SQLAlchemy spelling means the same here)
``sqlite://msgs.db``               ``msgs.db`` in the working directory
``sqlite://data/msgs.db``          ``data/msgs.db`` in the working directory
``sqlite://``                      the default file,
                                   ``$XDG_STATE_HOME/msgframework/messages.db``
=================================  =========================================

Unlike SQLAlchemy, ``sqlite:///msgs.db`` is the absolute ``/msgs.db``:
this is the form :func:`msgframework.opts.default_transport_url` writes
(``sqlite:///`` followed by an absolute path without its leading slash), so
three slashes always mean an absolute path. Relative paths are resolved
against the working directory once, when the transport is built. Parent
directories are created.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from msgframework.exceptions import InvalidTransportURL
from msgframework.transport_url import TransportURL

__all__ = ["database_path", "default_database_path"]


def default_database_path() -> Path:
    """``$XDG_STATE_HOME/msgframework/messages.db`` (``~/.local/state`` when unset)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "msgframework" / "messages.db"


def database_path(url: TransportURL) -> Path:
    """The absolute path of the database file named by ``url``.

    :raises InvalidTransportURL: credentials in the URL, several hosts, or
        an in-memory database (which no other process could share).
    """
    safe = url.redacted()
    if len(url.hosts) > 1:
        raise InvalidTransportURL(safe, f"A sqlite URL names one file, not several hosts: {safe}")
    host = url.hosts[0] if url.hosts else None
    if host is not None and (host.username is not None or host.password is not None):
        raise InvalidTransportURL(safe, f"A sqlite URL takes no credentials: {safe}")
    text = ""
    if host is not None:
        text = host.hostname or ""
        if host.port is not None:
            text += f":{host.port}"
    if url.virtual_host is not None:
        text += "/" + url.virtual_host
    if not text:
        path = default_database_path()
    elif text in (":memory:", "/:memory:") or text.startswith("file::memory:"):
        raise InvalidTransportURL(
            safe, "An in-memory SQLite database cannot be shared between processes; "
                  "use the memory:// transport for in-process messaging")
    else:
        path = Path(re.sub(r"^/+", "/", text))
    path = Path(os.path.abspath(path))
    if path.exists() and path.is_dir():
        raise InvalidTransportURL(safe, f"The sqlite URL names a directory, not a file: {path}")
    return path
