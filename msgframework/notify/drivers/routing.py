"""The ``routing`` notifier driver: sends each notification to the drivers a YAML file picks.

The file is ``[msgframework_notifications] routing_config``. It holds
named groups; each group maps driver names to rules::

    ops:
      log:
        accepted_priorities: [error, critical]
    billing:
      messagingv2:
        accepted_events: ["compute.instance.*", "volume.*"]
        accepted_priorities: [info]

A driver entry accepts a notification when **all** the rules it lists
match (``accepted_events``: any of the fnmatch patterns matches the event
type; ``accepted_priorities``: the priority is listed, case-insensitively);
an entry without rules accepts nothing. Entries and groups are ORed, and a
driver named in several entries gets a notification once. A notification
no entry accepts is sent nowhere and counted as ``unrouted`` in
:attr:`Notifier.stats`, not as sent.

oslo.messaging's routing driver builds its sub-drivers without arguments,
so every one fails and each notification only logs ``NoMatches``; its
option is registered on the global config only. Here the sub-drivers are
built like any notifier driver (same conf, topics and transport), the file
is read when the Notifier is built, and a missing file, bad YAML, an
unknown rule or an unknown driver name fails then with
:class:`ConfigurationError` / :class:`NotifierDriverLoadFailure`, not on the
first notification.
"""

from __future__ import annotations

import fnmatch
import logging
import re
from collections.abc import Sequence
from typing import Any

import yaml

from msgframework import opts as _opts
from msgframework.exceptions import ConfigurationError, NotifierDriverLoadFailure
from msgframework.notify.drivers.base import (
    UNROUTED,
    Driver,
    load_notifier_driver,
    send_failure,
)

__all__ = ["RoutingDriver", "RoutingRule"]

LOG = logging.getLogger(__name__)

_OPTION = f"[{_opts.NOTIFICATIONS_GROUP}] routing_config"
_RULE_KEYS = ("accepted_events", "accepted_priorities")


class RoutingRule:
    """One driver entry of the file: its event patterns and priorities (None: any)."""

    def __init__(self, driver: str, events: Sequence[str] | None,
                 priorities: Sequence[str] | None) -> None:
        self.driver = driver
        self.events = list(events) if events is not None else None
        self._events_re = (re.compile("|".join(fnmatch.translate(p) for p in events))
                           if events else None)
        self.priorities = ({p.lower() for p in priorities}
                           if priorities is not None else None)

    def accepts(self, event_type: str, priority: str) -> bool:
        if self.events is None and self.priorities is None:
            return False
        if self.events is not None and (self._events_re is None
                                        or not self._events_re.match(event_type)):
            return False
        return self.priorities is None or priority.lower() in self.priorities

    def __repr__(self) -> str:
        return f"<RoutingRule {self.driver} events={self.events} priorities={self.priorities}>"


def _string_list(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(_OPTION, f"{where} must be a list of strings")
    return value


def parse_routing(data: Any) -> list[RoutingRule]:
    """The rules of a loaded routing document; ConfigurationError names what is wrong."""
    if data is None:
        return []
    if not isinstance(data, dict):
        raise ConfigurationError(_OPTION, "the file must map group names to driver entries")
    rules: list[RoutingRule] = []
    for group, entries in data.items():
        if not isinstance(entries, dict):
            raise ConfigurationError(_OPTION, f"group {group!r} must map driver names to rules")
        for driver, spec in entries.items():
            where = f"group {group!r}, driver {driver!r}"
            if driver == "routing":
                raise ConfigurationError(_OPTION, f"{where}: the routing driver cannot "
                                                  "route to itself")
            spec = spec or {}
            if not isinstance(spec, dict):
                raise ConfigurationError(_OPTION, f"{where}: rules must be a mapping")
            unknown = set(spec) - set(_RULE_KEYS)
            if unknown:
                raise ConfigurationError(
                    _OPTION, f"{where}: unknown rule(s) {sorted(unknown)}; "
                             f"known: {', '.join(_RULE_KEYS)}")
            events = spec.get("accepted_events")
            priorities = spec.get("accepted_priorities")
            rule = RoutingRule(
                str(driver),
                None if events is None else _string_list(events, f"{where} accepted_events"),
                None if priorities is None
                else _string_list(priorities, f"{where} accepted_priorities"))
            if rule.events is None and rule.priorities is None:
                LOG.warning("Routing %s has no rules and will receive nothing", where)
            rules.append(rule)
    return rules


class RoutingDriver(Driver):
    """Dispatches notifications to sub-drivers chosen by the routing file."""

    def __init__(self, conf: Any, topics: Sequence[str] | None = None,
                 transport: Any = None) -> None:
        super().__init__(conf, topics, transport)
        _opts.register_opts(conf)
        path = conf[_opts.NOTIFICATIONS_GROUP].routing_config
        if not path:
            raise NotifierDriverLoadFailure("routing", f"{_OPTION} is not set")
        try:
            with open(path, encoding="utf-8") as stream:
                data = yaml.safe_load(stream)
        except OSError as exc:
            raise ConfigurationError(_OPTION, f"cannot read {path}: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigurationError(_OPTION, f"{path} is not valid YAML: {exc}") from exc
        self.rules = parse_routing(data)
        self.drivers: dict[str, Driver] = {}
        for rule in self.rules:
            if rule.driver not in self.drivers:
                self.drivers[rule.driver] = load_notifier_driver(
                    rule.driver, conf, self.topics, transport)

    def drivers_for(self, event_type: str, priority: str) -> list[str]:
        """Names of the sub-drivers that accept this notification, in file order."""
        names: list[str] = []
        for rule in self.rules:
            if rule.driver not in names and rule.accepts(event_type, priority):
                names.append(rule.driver)
        return names

    def notify(self, ctxt: dict[str, Any], message: dict[str, Any], priority: str,
               retry: int | None) -> str | None:
        """Send to every sub-driver whose rules accept it; :data:`UNROUTED` when none does."""
        event_type = str(message.get("event_type"))
        names = self.drivers_for(event_type, priority)
        if not names:
            LOG.debug("Notification %s (%s) matches no routing rule: not sent",
                      event_type, priority)
            return UNROUTED
        failures: list[tuple[str, BaseException]] = []
        for name in names:
            try:
                self.drivers[name].notify(ctxt, message, priority, retry)
            except (TypeError, ValueError):
                raise
            except Exception as exc:
                sub = getattr(exc, "failures", None)
                failures.extend(sub if sub else [(name, exc)])
        if failures:
            raise send_failure(event_type, failures) from failures[0][1]
        return None
