"""The filter algebra: predicates over :class:`HubEvent` that compose with ``& | ^ ~``.

::

    from msgframework.hubs.filters import WithEventType, AfterDate, Expired

    f = WithEventType("backup.*") & AfterDate(start) & ~Expired()

A filter is a plain callable ``filter(event) -> bool``; any other callable
taking a HubEvent joins the algebra through :class:`Where` (the operators do
the wrapping, so ``WithEventType("x") & (lambda e: ...)`` works).

Differences from Flask-Notifications, on purpose: ``WithRecipients`` tests
membership (the event is for *any* of the given recipients, or for *all* of
them with ``require_all``), not set equality; ``Expired`` is False for an
event that has no expiry instead of comparing None with a date; names and
publishers accept ``fnmatch`` wildcards (``compute.*``); and
:class:`Matches` brings oslo's regex ``NotificationFilter`` into the algebra.
"""

from __future__ import annotations

import abc
import datetime as _dt
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from typing import Any

from msgframework.hubs.event import HubEvent, parse_time

__all__ = [
    "EventFilter", "Always", "Never", "Where", "Not", "AndFilter", "OrFilter", "XorFilter",
    "WithEventType", "WithPublisher", "WithSender", "WithPriority", "WithId",
    "WithRecipients", "BeforeDate", "AfterDate", "Expired", "Matches", "as_filter",
]


class EventFilter(abc.ABC):
    """A predicate over hub events, composable with ``&``, ``|``, ``^`` and ``~``."""

    @abc.abstractmethod
    def matches(self, event: HubEvent) -> bool:
        """True when ``event`` passes."""

    def __call__(self, event: HubEvent) -> bool:
        return self.matches(event)

    def __and__(self, other: Any) -> EventFilter:
        return AndFilter(self, as_filter(other))

    def __rand__(self, other: Any) -> EventFilter:
        return AndFilter(as_filter(other), self)

    def __or__(self, other: Any) -> EventFilter:
        return OrFilter(self, as_filter(other))

    def __ror__(self, other: Any) -> EventFilter:
        return OrFilter(as_filter(other), self)

    def __xor__(self, other: Any) -> EventFilter:
        return XorFilter(self, as_filter(other))

    def __rxor__(self, other: Any) -> EventFilter:
        return XorFilter(as_filter(other), self)

    def __invert__(self) -> EventFilter:
        return Not(self)


def as_filter(value: Any) -> EventFilter:
    """``value`` as an EventFilter: filters as they are, callables through :class:`Where`."""
    if isinstance(value, EventFilter):
        return value
    if callable(value):
        return Where(value)
    raise TypeError(f"cannot combine a filter with {type(value).__name__!r}: "
                    "expected an EventFilter or a callable taking a HubEvent")


class Always(EventFilter):
    """Every event passes (a hub's default filter)."""

    def matches(self, event: HubEvent) -> bool:
        return True

    def __repr__(self) -> str:
        return "Always()"


class Never(EventFilter):
    """No event passes."""

    def matches(self, event: HubEvent) -> bool:
        return False

    def __repr__(self) -> str:
        return "Never()"


class Where(EventFilter):
    """Any callable ``fn(event) -> bool`` as a filter."""

    def __init__(self, fn: Callable[[HubEvent], Any]) -> None:
        if not callable(fn):
            raise TypeError("Where() needs a callable")
        self.fn = fn

    def matches(self, event: HubEvent) -> bool:
        return bool(self.fn(event))

    def __repr__(self) -> str:
        return f"Where({getattr(self.fn, '__qualname__', self.fn)!r})"


class Not(EventFilter):
    """The negation of a filter (also ``~f``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = as_filter(inner)

    def matches(self, event: HubEvent) -> bool:
        return not self.inner.matches(event)

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


class _Binary(EventFilter):
    symbol = "?"

    def __init__(self, left: Any, right: Any) -> None:
        self.left = as_filter(left)
        self.right = as_filter(right)

    def __repr__(self) -> str:
        return f"({self.left!r} {self.symbol} {self.right!r})"


class AndFilter(_Binary):
    """Both pass (``a & b``); the right side is not evaluated when the left fails."""

    symbol = "&"

    def matches(self, event: HubEvent) -> bool:
        return self.left.matches(event) and self.right.matches(event)


class OrFilter(_Binary):
    """Either passes (``a | b``)."""

    symbol = "|"

    def matches(self, event: HubEvent) -> bool:
        return self.left.matches(event) or self.right.matches(event)


class XorFilter(_Binary):
    """Exactly one passes (``a ^ b``)."""

    symbol = "^"

    def matches(self, event: HubEvent) -> bool:
        return self.left.matches(event) != self.right.matches(event)


def _names(values: Iterable[Any], what: str) -> tuple[str, ...]:
    names = tuple(values)
    if not names:
        raise ValueError(f"{what} needs at least one value")
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{what} values must be non-empty strings, got {name!r}")
    return names


def _any_match(value: str | None, patterns: tuple[str, ...]) -> bool:
    if value is None:
        return False
    return any(fnmatchcase(value, p) for p in patterns)


class WithEventType(EventFilter):
    """The event type is one of ``types`` (``fnmatch`` wildcards allowed: ``compute.*``)."""

    def __init__(self, *types: str) -> None:
        self.types = _names(types, "WithEventType")

    def matches(self, event: HubEvent) -> bool:
        return _any_match(event.event_type, self.types)

    def __repr__(self) -> str:
        return f"WithEventType{self.types!r}"


class WithPublisher(EventFilter):
    """The publisher id is one of ``publishers`` (wildcards allowed)."""

    def __init__(self, *publishers: str) -> None:
        self.publishers = _names(publishers, "WithPublisher")

    def matches(self, event: HubEvent) -> bool:
        return _any_match(event.publisher_id, self.publishers)

    def __repr__(self) -> str:
        return f"WithPublisher{self.publishers!r}"


#: Flask-Notifications' name for the publisher filter.
WithSender = WithPublisher


class WithPriority(EventFilter):
    """The priority is one of ``priorities`` (case-insensitive; ``warning`` means ``warn``)."""

    def __init__(self, *priorities: str) -> None:
        names = _names(priorities, "WithPriority")
        self.priorities = frozenset("warn" if p.lower() == "warning" else p.lower()
                                    for p in names)

    def matches(self, event: HubEvent) -> bool:
        priority = event.priority.lower()
        return ("warn" if priority == "warning" else priority) in self.priorities

    def __repr__(self) -> str:
        return f"WithPriority{tuple(sorted(self.priorities))!r}"


class WithId(EventFilter):
    """The message id is one of ``ids``."""

    def __init__(self, *ids: str) -> None:
        self.ids = frozenset(_names(ids, "WithId"))

    def matches(self, event: HubEvent) -> bool:
        return event.message_id in self.ids


class WithRecipients(EventFilter):
    """The event is addressed to any of ``recipients`` (all of them with ``require_all``).

    Membership, not equality: an event for ``["ann", "bob"]`` passes
    ``WithRecipients("ann")``.
    """

    def __init__(self, *recipients: str, require_all: bool = False) -> None:
        self.recipients = frozenset(_names(recipients, "WithRecipients"))
        self.require_all = require_all

    def matches(self, event: HubEvent) -> bool:
        present = set(event.recipients)
        if self.require_all:
            return self.recipients <= present
        return not self.recipients.isdisjoint(present)

    def __repr__(self) -> str:
        mode = ", require_all=True" if self.require_all else ""
        return f"WithRecipients({', '.join(map(repr, sorted(self.recipients)))}{mode})"


def _when(value: Any, what: str) -> _dt.datetime:
    when = parse_time(value)
    if when is None:
        raise ValueError(f"{what} needs a datetime, epoch seconds or an ISO 8601 string, "
                         f"got {value!r}")
    return when


class BeforeDate(EventFilter):
    """Sent strictly before ``when``; an event without a timestamp does not pass."""

    def __init__(self, when: Any) -> None:
        self.when = _when(when, "BeforeDate")

    def matches(self, event: HubEvent) -> bool:
        return event.timestamp is not None and event.timestamp < self.when

    def __repr__(self) -> str:
        return f"BeforeDate({self.when.isoformat()!r})"


class AfterDate(EventFilter):
    """Sent at or after ``when``; an event without a timestamp does not pass."""

    def __init__(self, when: Any) -> None:
        self.when = _when(when, "AfterDate")

    def matches(self, event: HubEvent) -> bool:
        return event.timestamp is not None and event.timestamp >= self.when

    def __repr__(self) -> str:
        return f"AfterDate({self.when.isoformat()!r})"


class Expired(EventFilter):
    """The payload's ``expires_at`` has passed; an event that never expires does not pass.

    :param clock: returns "now" as an aware datetime (tests pass a fixed one).
    """

    def __init__(self, clock: Callable[[], _dt.datetime] | None = None) -> None:
        self.clock = clock or (lambda: _dt.datetime.now(_dt.timezone.utc))

    def matches(self, event: HubEvent) -> bool:
        expires = event.expires_at
        return expires is not None and expires <= self.clock()

    def __repr__(self) -> str:
        return "Expired()"


class Matches(EventFilter):
    """oslo's regex :class:`~msgframework.notify.filter.NotificationFilter` as a filter.

    Any object with ``match(context, publisher_id, event_type, metadata,
    payload)`` works, so a filter written for an endpoint's ``filter_rule``
    can be reused in a hub unchanged.
    """

    def __init__(self, notification_filter: Any) -> None:
        if not callable(getattr(notification_filter, "match", None)):
            raise TypeError("Matches() needs an object with a match() method, "
                            "such as NotificationFilter")
        self.notification_filter = notification_filter

    def matches(self, event: HubEvent) -> bool:
        return bool(self.notification_filter.match(
            dict(event.ctxt), event.publisher_id, event.event_type, dict(event.metadata),
            event.payload))

    def __repr__(self) -> str:
        return f"Matches({self.notification_filter!r})"
