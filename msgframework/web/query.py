"""Filters and positions from a request's query string.

The page and any client choose filters in the URL, so a filtered view can
be bookmarked or shared::

    /events?event_type=backup.*&priority=error&recipient=ann&hide_expired=1

Each parameter may repeat (values of one parameter are alternatives, the
parameters together must all hold). Bad values are a 400 naming the
parameter, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgframework.hubs.buffer import EventPosition, parse_event_id
from msgframework.hubs.filters import (
    AfterDate,
    Always,
    BeforeDate,
    EventFilter,
    Expired,
    WithEventType,
    WithPriority,
    WithPublisher,
    WithRecipients,
)

__all__ = ["QueryError", "FILTER_PARAMS", "filter_from_query", "parse_position",
           "parse_last_event_id"]

#: Query parameters that select events.
FILTER_PARAMS = ("event_type", "publisher", "priority", "recipient", "after", "before",
                 "hide_expired")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


class QueryError(ValueError):
    """A query parameter has a bad value; the message names it."""


def _values(params: Any, name: str) -> list[str]:
    getlist = getattr(params, "getlist", None)
    raw: Sequence[str]
    if getlist is not None:
        raw = getlist(name)
    else:
        value = params.get(name) if isinstance(params, Mapping) else None
        raw = [] if value is None else ([value] if isinstance(value, str) else list(value))
    values: list[str] = []
    for item in raw:  # "a,b" and repeated parameters both mean alternatives
        values += [v.strip() for v in item.split(",") if v.strip()]
    return values


def filter_from_query(params: Any) -> EventFilter:
    """The conjunction of the filters the query asks for (:class:`Always` when none)."""
    parts: list[EventFilter] = []
    simple = (("event_type", WithEventType), ("publisher", WithPublisher),
              ("priority", WithPriority), ("recipient", WithRecipients))
    for name, cls in simple:
        values = _values(params, name)
        if values:
            parts.append(cls(*values))
    dates: tuple[tuple[str, type[AfterDate] | type[BeforeDate]], ...] = (
        ("after", AfterDate), ("before", BeforeDate))
    for name, date_cls in dates:
        values = _values(params, name)
        if len(values) > 1:
            raise QueryError(f"query parameter {name!r} may be given once")
        if values:
            try:
                parts.append(date_cls(values[0]))
            except ValueError as exc:
                raise QueryError(f"query parameter {name!r}: {exc}") from None
    hide = _values(params, "hide_expired")
    if hide:
        flag = hide[-1].lower()
        if flag not in _TRUE | _FALSE:
            raise QueryError(f"query parameter 'hide_expired' must be 1 or 0, got {hide[-1]!r}")
        if flag in _TRUE:
            parts.append(~Expired())
    if not parts:
        return Always()
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


def parse_position(value: str | None, what: str) -> int | None:
    """A non-negative integer from a parameter (``backlog``); None when absent or empty."""
    if value is None or not value.strip():
        return None
    try:
        position = int(value.strip())
    except ValueError:
        raise QueryError(f"{what} must be a whole number, got {value!r}") from None
    if position < 0:
        raise QueryError(f"{what} must not be negative, got {value!r}")
    return position


def parse_last_event_id(value: str | None, what: str) -> EventPosition | None:
    """An event id (``<epoch>-<seq>``, or a bare number) from a header or parameter.

    None when absent or empty; QueryError naming ``what`` when malformed.
    """
    if value is None or not value.strip():
        return None
    try:
        return parse_event_id(value)
    except ValueError:
        raise QueryError(f"{what} must be an event id (<epoch>-<number>, or a number), "
                         f"got {value!r}") from None
