"""Hub: a named durable subscription with a filter and registered consumers.

Flask-Notifications' EventHub, rebuilt on the notification listener::

    hub = Hub(transport, "audit", topics=["notifications"])
    hub.filter_by(WithEventType("backup.*") & ~Expired())
    hub.register_consumer(FileConsumer("/var/log/audit.jsonl"))

    @hub.register_consumer
    def page_oncall(event):
        ...

    hub.start()

* **Durable subscription.** The hub listens with ``pool=<pool>`` (by default
  ``hub.<name>``): every driver keeps one copy of each notification per pool,
  and keeps it while the hub is stopped, so a restarted hub resumes where it
  stopped. The pool exists from the hub's first ``start()``; notifications
  sent before that are not in it. Several processes running a hub of the
  same name share the work (one copy per hub name, not per process).
* **At-least-once.** The listener acknowledges a notification after the
  consumers returned. A consumer's failure is logged with the consumer's
  name and counted in :attr:`Hub.stats`; the others still run, and the
  notification is acknowledged (re-running every consumer for one failure
  would duplicate the others' work). Consumers that need retries should
  handle them inside ``consume``.
* **Consumers run in the listener's executor** (``threading`` by default).
  ``deregister_consumer`` returns once the consumer is out of the list: no
  delivery to it starts afterwards (a delivery already running finishes).
  Unlike Flask-Notifications, deregistering really stops the deliveries.
* A filter that raises counts as "no match" and is logged, never a crash
  of the listener.

:meth:`Hub.consume` is public: it runs the filter and the consumers on an
event in the caller's thread, which is how a process feeds a hub without a
transport (and how tests drive one).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from msgframework.hubs.consumers.base import Consumer, as_consumer
from msgframework.hubs.event import HubEvent
from msgframework.hubs.filters import Always, EventFilter, as_filter
from msgframework.target import Target

__all__ = ["Hub", "HubStats", "PRIORITIES"]

LOG = logging.getLogger(__name__)

#: The priorities a hub listens to by default (every one oslo defines).
PRIORITIES = ("audit", "debug", "info", "warn", "error", "critical", "sample")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


class HubStats:
    """Counters: events received, passed the filter, consumer deliveries and failures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.matched = 0
        self.delivered = 0
        self.failed = 0
        self.filter_errors = 0

    def _add(self, **counts: int) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {"received": self.received, "matched": self.matched,
                    "delivered": self.delivered, "failed": self.failed,
                    "filter_errors": self.filter_errors}

    def __repr__(self) -> str:
        return f"<HubStats {self.as_dict()}>"


class _HubEndpoint:
    """The listener endpoint: one method per priority, each feeding the hub."""

    def __init__(self, hub: Hub, priorities: Sequence[str]) -> None:
        for priority in priorities:
            setattr(self, priority, self._method(hub, priority))

    @staticmethod
    def _method(hub: Hub, priority: str) -> Callable[..., None]:
        def handle(ctxt: Any, publisher_id: Any, event_type: str, payload: Any,
                   metadata: Any) -> None:
            hub.consume(HubEvent.from_endpoint(priority, ctxt, publisher_id, event_type,
                                               payload, metadata))
        handle.__name__ = priority
        return handle


class Hub:
    """A named durable subscription; see the module docstring.

    :param transport: a notification Transport (None: only :meth:`consume` feeds it).
    :param name: the hub's name: letters, digits, ``_ . -``; it names the pool.
    :param topics: topics (or Targets) to listen on; default ``["notifications"]``.
    :param filter: the initial filter (default :class:`Always`).
    :param priorities: priorities to subscribe to (default every priority).
    :param executor: the listener's executor (``threading``, ``blocking``, ...).
    :param pool: the pool name; default ``hub.<name>``.
    """

    def __init__(self, transport: Any, name: str, topics: Sequence[str | Target] | None = None,
                 filter: Any = None, priorities: Sequence[str] | None = None,
                 executor: str | None = None, pool: str | None = None) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"hub name {name!r} must be 1-200 letters, digits, '_', '.' "
                             "or '-', starting with a letter or digit")
        self.name = name
        self.transport = transport
        self.pool = pool or f"hub.{name}"
        self.targets = [t if isinstance(t, Target) else Target(topic=t)
                        for t in (topics or ["notifications"])]
        self.priorities = tuple(p.lower() for p in (priorities or PRIORITIES))
        unknown = set(self.priorities) - set(PRIORITIES)
        if unknown:
            raise ValueError(f"unknown priorities {sorted(unknown)}; use {list(PRIORITIES)}")
        self.executor = executor
        self._filter: EventFilter = Always()
        if filter is not None:
            self.filter_by(filter)
        self._consumers: list[Consumer] = []
        self._lock = threading.Lock()
        self._listener: Any = None
        self.stats = HubStats()

    def __repr__(self) -> str:
        return f"<Hub {self.name!r} pool={self.pool!r} consumers={len(self._consumers)}>"

    # -- filter and consumers -------------------------------------------
    @property
    def filter(self) -> EventFilter:
        return self._filter

    def filter_by(self, event_filter: Any) -> Hub:
        """Replace the hub's filter (an EventFilter or a callable); returns the hub."""
        self._filter = as_filter(event_filter)
        return self

    @property
    def consumers(self) -> list[Consumer]:
        """A snapshot of the registered consumers, in registration order."""
        with self._lock:
            return list(self._consumers)

    def register_consumer(self, consumer: Any = None, *, name: str | None = None) -> Any:
        """Add a Consumer or a function ``fn(event)``; usable as a decorator.

        ``@hub.register_consumer`` and ``@hub.register_consumer(name="x")``
        return the function unchanged, so it can still be called directly.
        Registering the same object twice is a no-op.
        """
        if consumer is None:
            return lambda fn: self.register_consumer(fn, name=name)
        wrapped = as_consumer(consumer, name=name)
        with self._lock:
            if not any(self._is(c, consumer) for c in self._consumers):
                self._consumers.append(wrapped)
        return consumer

    def deregister_consumer(self, consumer: Any) -> bool:
        """Remove a consumer (the object, the function or its name); True if it was there."""
        with self._lock:
            for i, registered in enumerate(self._consumers):
                if self._is(registered, consumer) or (
                        isinstance(consumer, str) and registered.name == consumer):
                    del self._consumers[i]
                    return True
        return False

    @staticmethod
    def _is(registered: Consumer, value: Any) -> bool:
        return registered is value or getattr(registered, "fn", None) is value

    # -- delivery -------------------------------------------------------
    def matches(self, event: HubEvent) -> bool:
        """Whether ``event`` passes the filter; a raising filter logs and means no."""
        try:
            return bool(self._filter(event))
        except Exception:
            self.stats._add(filter_errors=1)
            LOG.exception("Hub %s: filter %r failed on event %s (%s); skipping it",
                          self.name, self._filter, event.message_id, event.event_type)
            return False

    def consume(self, event: HubEvent) -> bool:
        """Filter ``event`` and deliver it to every consumer; True when it passed."""
        self.stats._add(received=1)
        if not self.matches(event):
            return False
        self.stats._add(matched=1)
        for consumer in self.consumers:
            try:
                consumer.deliver(event)
            except Exception:
                self.stats._add(failed=1)
                LOG.exception("Hub %s: consumer %s failed on event %s (%s)",
                              self.name, consumer.name, event.message_id, event.event_type)
            else:
                self.stats._add(delivered=1)
        return True

    # -- lifecycle --------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._listener is not None and bool(self._listener.running)

    def start(self) -> Hub:
        """Subscribe (creating the durable pool on first start) and start delivering."""
        if self.transport is None:
            raise ValueError(f"hub {self.name!r} has no transport to listen on")
        from msgframework.notify.listener import get_notification_listener

        with self._lock:
            if self._listener is None:
                endpoint = _HubEndpoint(self, self.priorities)
                self._listener = get_notification_listener(
                    self.transport, self.targets, [endpoint], executor=self.executor,
                    pool=self.pool)
            listener = self._listener
        listener.start()
        return self

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop receiving, then wait (up to ``timeout``) for running deliveries."""
        with self._lock:
            listener = self._listener
        if listener is None:
            return
        listener.stop(timeout=timeout)
        listener.wait(timeout=timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop, then close every consumer (files, connections)."""
        self.stop(timeout)
        for consumer in self.consumers:
            try:
                consumer.close()
            except Exception:
                LOG.exception("Hub %s: closing consumer %s failed", self.name, consumer.name)

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
