r"""The environment-variable grammar that shares event handler configuration.

A parent process configures its :class:`~msgframework.events.manager.EventManager`
and exports it (``handler_config_as_env``); child processes rebuild the same
handlers from the variable (``load_handlers_from_env``). The default variable
is :data:`DEFAULT_ENV_VAR` (``MSGFRAMEWORK_EVENT_HANDLERS``).

Grammar::

    value   := <empty or only whitespace>            (no handlers)
             | handler ("|" handler)*
    handler := name [":" [option ("," option)*]]
    option  := key "=" text
    name    := 1+ of [A-Za-z0-9_.-]
    key     := escaped text, not empty

Escaping: a backslash makes the next character literal. ``\|``, ``\,`` and
``\\`` are required inside keys and values (``|`` and ``,`` separate, ``\``
escapes); ``\=`` is required in a key, ``\:`` in nothing (only the first
unescaped ``:`` ends the name and only the first unescaped ``=`` ends a key,
so ``url=rabbit://u:p@h/?a=b`` needs no escaping). :func:`render` escapes
all five special characters ``| , = : \`` so its output never depends on
these rules. A backslash before any other character, or at the end, is an
error. Handler names must be unique; so must keys within a handler.

Examples::

    logging
    logging:level=DEBUG|file:directory=/var/log/events
    smtp:host=mail.example.org,to=ops@example.org\, dev@example.org
    notify:url=rabbit://u:p@broker:5672/,topic=events

Values are strings; each handler's ``decode_config`` converts them to the
types it needs. The variable may hold secrets (an SMTP or broker password),
so it is never logged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from msgframework.exceptions import EventError

__all__ = ["DEFAULT_ENV_VAR", "HandlerSpec", "parse", "render", "escape", "unescape"]

#: The variable read and written by default.
DEFAULT_ENV_VAR = "MSGFRAMEWORK_EVENT_HANDLERS"

#: One handler: its entry-point name and its option strings.
HandlerSpec = tuple[str, dict[str, str]]

_SPECIAL = "|,=:\\"
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def escape(text: str) -> str:
    """Backslash-escape every special character of the grammar in ``text``."""
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)


def unescape(text: str, where: str = "value") -> str:
    """Undo :func:`escape`; EventError on a dangling or unknown escape."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            if i + 1 >= len(text):
                raise EventError(f"event handler config: {where} ends with a lone backslash")
            nxt = text[i + 1]
            if nxt not in _SPECIAL:
                raise EventError(f"event handler config: unknown escape '\\{nxt}' in {where} "
                                 f"(only {_SPECIAL!r} can be escaped)")
            out.append(nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _split(text: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split on unescaped ``sep``, keeping escape sequences (unescape later)."""
    parts: list[str] = []
    start = i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == sep and maxsplit != 0:
            parts.append(text[start:i])
            start = i + 1
            maxsplit -= 1
        i += 1
    parts.append(text[start:])
    return parts


def parse(value: str | None) -> list[HandlerSpec]:
    """Parse a variable's value into ``[(name, {key: value})]``, in order.

    ``None``, empty or whitespace-only means no handlers. Raises EventError
    naming the problem (never echoing the whole value, which may hold secrets).
    """
    if value is None or not value.strip():
        return []
    specs: list[HandlerSpec] = []
    seen: set[str] = set()
    for index, chunk in enumerate(_split(value, "|"), start=1):
        head, *rest = _split(chunk, ":", maxsplit=1)
        name = unescape(head, f"handler #{index} name")
        if not _NAME_RE.match(name):
            raise EventError(f"event handler config: handler #{index} has an invalid name "
                             f"{name!r} (expected letters, digits, '_', '.', '-')")
        if name in seen:
            raise EventError(f"event handler config: handler {name!r} appears twice")
        seen.add(name)
        options: dict[str, str] = {}
        if rest and rest[0]:
            for opt in _split(rest[0], ","):
                key_raw, *val = _split(opt, "=", maxsplit=1)
                if not val:
                    raise EventError(f"event handler config: option of handler {name!r} "
                                     f"lacks '=' (got key {unescape(key_raw, 'key')!r})")
                key = unescape(key_raw, f"a key of handler {name!r}")
                if not key:
                    raise EventError(f"event handler config: empty key in handler {name!r}")
                if key in options:
                    raise EventError(f"event handler config: key {key!r} appears twice "
                                     f"in handler {name!r}")
                options[key] = unescape(val[0], f"option {key!r} of handler {name!r}")
        specs.append((name, options))
    return specs


def render(specs: Sequence[HandlerSpec] | Mapping[str, Mapping[str, str]]) -> str:
    """Render handler specs so that :func:`parse` returns them unchanged.

    Raises EventError for names outside the grammar, empty keys, non-string
    values, or NUL characters (an environment variable cannot hold them).
    """
    items = list(specs.items()) if isinstance(specs, Mapping) else list(specs)
    chunks: list[str] = []
    seen: set[str] = set()
    for name, options in items:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise EventError(f"event handler config: invalid handler name {name!r}")
        if name in seen:
            raise EventError(f"event handler config: handler {name!r} appears twice")
        seen.add(name)
        parts: list[str] = []
        for key, val in options.items():
            if not isinstance(key, str) or not key:
                raise EventError(f"event handler config: handler {name!r} has an empty key")
            if not isinstance(val, str):
                raise EventError(f"event handler config: option {key!r} of handler {name!r} "
                                 f"must be a string, got {type(val).__name__}")
            if "\x00" in key or "\x00" in val:
                raise EventError(f"event handler config: option {key!r} of handler {name!r} "
                                 "contains NUL, which an environment variable cannot hold")
            parts.append(f"{escape(key)}={escape(val)}")
        chunks.append(f"{name}:{','.join(parts)}" if parts else name)
    return "|".join(chunks)
