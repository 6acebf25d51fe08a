"""The contract of an event handler, and typed decoding of its configuration.

A handler is a plugin in the ``msgframework.events.handlers`` entry-point
namespace. It sends an event somewhere and **raises** when it cannot: the
exception text becomes the reason reported by
:meth:`~msgframework.events.manager.EventManager.send_event`. (Returning
``False``, as e3 handlers do, is accepted too, but gives no reason.)

Configuration travels between processes as strings (see
:mod:`msgframework.events.envconfig`). A handler declares its options once in
``config_fields`` (config key -> :class:`ConfigField`), and the default
:meth:`EventHandler.decode_config` / :meth:`EventHandler.encode_config`
convert both ways, rejecting unknown keys and bad values with a message that
names the handler and the key.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from msgframework.exceptions import EventError

if TYPE_CHECKING:
    from msgframework.events.event import Event

__all__ = ["ConfigField", "EventHandler", "attachments_payload", "parse_bool"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(text: str) -> bool:
    """``true/yes/on/1`` or ``false/no/off/0/''`` (any case); ValueError otherwise."""
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"expected a boolean (true/false), got {text!r}")


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ConfigField:
    """One configuration option: the ``__init__`` parameter it feeds and its type.

    ``attr`` defaults to the config key; it differs when the key is not a
    Python identifier (``from`` -> ``sender``). The handler instance must keep
    the value in an attribute of the same name for :meth:`encode_config`.
    ``secret`` marks values never shown in reprs.
    """

    type: Callable[[str], Any] = str
    attr: str | None = None
    secret: bool = False


class EventHandler(abc.ABC):
    """Interface of an event handler; subclasses implement :meth:`send_event`."""

    #: Config key -> field; used by decode_config / encode_config.
    config_fields: ClassVar[Mapping[str, ConfigField]] = {}

    @abc.abstractmethod
    def send_event(self, event: Event) -> bool | None:
        """Send ``event``; raise with a reason on failure (or return False)."""

    def close(self) -> None:
        """Release resources (connections); the default has none."""

    @classmethod
    def decode_config(cls, config: Mapping[str, str]) -> dict[str, Any]:
        """Turn config strings into ``__init__`` keyword arguments, typed."""
        kwargs: dict[str, Any] = {}
        name = getattr(cls, "plugin_name", cls.__name__)
        for key, text in config.items():
            field = cls.config_fields.get(key)
            if field is None:
                known = ", ".join(sorted(cls.config_fields)) or "none"
                raise EventError(f"event handler {name!r}: unknown option {key!r} "
                                 f"(known: {known})")
            conv = parse_bool if field.type is bool else field.type
            try:
                kwargs[field.attr or key] = conv(text)
            except (TypeError, ValueError) as exc:
                raise EventError(f"event handler {name!r}: bad value for {key!r}: {exc}") from exc
        return kwargs

    def encode_config(self) -> dict[str, str]:
        """The current configuration as strings (``None`` values are left out)."""
        out: dict[str, str] = {}
        for key, field in self.config_fields.items():
            value = getattr(self, field.attr or key, None)
            if value is not None:
                out[key] = _render(value)
        return out

    def __repr__(self) -> str:
        shown = []
        for key, field in self.config_fields.items():
            value = getattr(self, field.attr or key, None)
            if value is not None:
                shown.append(f"{key}={'***' if field.secret else _render(value)!r}")
        return f"<{type(self).__name__} {' '.join(shown)}>"


def attachments_payload(event: Event, max_inline: int | None = None) -> dict[str, Any]:
    """Attachments as JSON: inline ones with base64 content, large ones by reference.

    ``max_inline`` lowers the inline limit for a given destination: an inline
    attachment bigger than it is sent by reference (path + sha1) instead.
    """
    out: dict[str, Any] = {}
    for name, att in event.attachments.items():
        include = att.inline and (max_inline is None or att.size <= max_inline)
        entry = att.as_dict(include_content=include)
        entry["inline"] = include
        out[name] = entry
    return out

