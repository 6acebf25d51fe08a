"""The consumer interface: what a hub calls for every event that passes its filter.

A consumer is an object with ``consume(event)`` and two optional hooks,
``before_consume(event)`` and ``after_consume(event)`` (Flask-Notifications'
idea: e.g. persist in ``after_consume`` that the event was handled). The
hook order for one event is before -> consume -> after; when
``before_consume`` raises, neither ``consume`` nor ``after_consume`` runs,
and ``after_consume`` runs only when ``consume`` returned normally. The hub
catches and logs what a consumer raises, so one failing consumer never
keeps the others from their delivery.

Consumers run in the hub's listener executor (a thread pool by default),
so a consumer may be called from several threads at once: the built-in
ones lock around shared state.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

from msgframework.hubs.event import HubEvent

__all__ = ["Consumer", "FunctionConsumer", "as_consumer"]


class Consumer(abc.ABC):
    """Base class of hub consumers; subclasses implement :meth:`consume`."""

    #: The name a hub knows the consumer by (deregister_consumer(name) works).
    name: str = ""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.name or type(self).__name__

    def before_consume(self, event: HubEvent) -> None:
        """Called before :meth:`consume`; raising skips this event for this consumer."""

    @abc.abstractmethod
    def consume(self, event: HubEvent) -> None:
        """Handle one event; raise to report a failure (the hub logs it)."""

    def after_consume(self, event: HubEvent) -> None:
        """Called after :meth:`consume` returned normally."""

    def close(self) -> None:
        """Release files or connections; the hub calls it when it is closed."""

    def deliver(self, event: HubEvent) -> None:
        """Run the hooks and :meth:`consume` in order; what the hub calls."""
        self.before_consume(event)
        self.consume(event)
        self.after_consume(event)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class FunctionConsumer(Consumer):
    """A plain function ``fn(event)`` as a consumer (what ``@hub.register_consumer`` makes)."""

    def __init__(self, fn: Callable[[HubEvent], Any], name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"a consumer must be callable, got {type(fn).__name__!r}")
        super().__init__(name or getattr(fn, "__qualname__", None) or repr(fn))
        self.fn = fn

    def consume(self, event: HubEvent) -> None:
        self.fn(event)


def as_consumer(value: Any, name: str | None = None) -> Consumer:
    """``value`` as a Consumer: consumers as they are, callables wrapped."""
    if isinstance(value, Consumer):
        if name:
            value.name = name
        return value
    return FunctionConsumer(value, name=name)
