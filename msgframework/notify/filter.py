"""NotificationFilter: which notifications an endpoint wants, as regexes.

An endpoint sets ``filter_rule = NotificationFilter(...)``; the dispatcher
calls it only for notifications that match. Same semantics as
oslo.messaging's:

* ``publisher_id`` and ``event_type`` are regexes applied with
  ``re.match`` (anchored at the start only: end with ``$`` to anchor both);
* ``context``, ``metadata`` and ``payload`` map top-level keys to regexes;
  a missing key, or a value that is not a string, does not match;
* every criterion given must match.

Beyond oslo.messaging, filters compose: ``a & b`` (both), ``a | b``
(either), ``a ^ b`` (exactly one) and ``~a`` (not), so an endpoint can say
"compute events except deletes" without writing a lookahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["NotificationFilter"]


class _Composable:
    """The boolean algebra shared by plain and composed filters."""

    def match(self, context: Mapping[str, Any] | None, publisher_id: str | None,
              event_type: str | None, metadata: Mapping[str, Any] | None,
              payload: Any) -> bool:
        raise NotImplementedError

    def __and__(self, other: _Composable) -> _Composable:
        return _Combined("&", _check(other), lambda a, b: a and b, self, other)

    def __or__(self, other: _Composable) -> _Composable:
        return _Combined("|", _check(other), lambda a, b: a or b, self, other)

    def __xor__(self, other: _Composable) -> _Composable:
        return _Combined("^", _check(other), lambda a, b: a != b, self, other)

    def __invert__(self) -> _Composable:
        return _Not(self)


def _check(other: Any) -> bool:
    if not isinstance(other, _Composable):
        raise TypeError(f"a NotificationFilter combines with another filter, "
                        f"not {type(other).__name__}")
    return True


class _Combined(_Composable):
    def __init__(self, op: str, _ok: bool, fn: Callable[[bool, bool], bool],
                 left: _Composable, right: _Composable) -> None:
        self._op, self._fn, self._left, self._right = op, fn, left, right

    def match(self, context: Any, publisher_id: Any, event_type: Any,
              metadata: Any, payload: Any) -> bool:
        args = (context, publisher_id, event_type, metadata, payload)
        left = self._left.match(*args)
        # Short-circuit like Python's own operators.
        if self._op == "&" and not left:
            return False
        if self._op == "|" and left:
            return True
        return self._fn(left, self._right.match(*args))

    def __repr__(self) -> str:
        return f"({self._left!r} {self._op} {self._right!r})"


class _Not(_Composable):
    def __init__(self, inner: _Composable) -> None:
        self._inner = inner

    def match(self, context: Any, publisher_id: Any, event_type: Any,
              metadata: Any, payload: Any) -> bool:
        return not self._inner.match(context, publisher_id, event_type, metadata, payload)

    def __repr__(self) -> str:
        return f"~{self._inner!r}"


def _compile(value: str | re.Pattern[str] | None, what: str) -> re.Pattern[str] | None:
    if value is None or isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise TypeError(f"NotificationFilter {what} must be a regex string, "
                        f"not {type(value).__name__}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"NotificationFilter {what}: invalid regex {value!r}: {exc}") from exc


def _compile_dict(value: Mapping[str, str] | None,
                  what: str) -> dict[str, re.Pattern[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"NotificationFilter {what} must map keys to regexes, "
                        f"not {type(value).__name__}")
    return {key: _compile(regex, f"{what}[{key!r}]") for key, regex in value.items()}  # type: ignore[misc]


def _dict_matches(rules: dict[str, re.Pattern[str]], data: Any) -> bool:
    if not rules:
        return True
    if not isinstance(data, Mapping):
        to_dict = getattr(data, "to_dict", None)  # a deserialized RequestContext
        data = to_dict() if callable(to_dict) else None
        if not isinstance(data, Mapping):
            return False
    for key, regex in rules.items():
        value = data.get(key)
        if not isinstance(value, str) or not regex.match(value):
            return False
    return True


class NotificationFilter(_Composable):
    """Matches notifications by regexes; see the module docstring.

    :param context: ``{key: regex}`` on the request context.
    :param publisher_id: regex on the publisher id.
    :param event_type: regex on the event type.
    :param metadata: ``{key: regex}`` on ``message_id`` / ``timestamp``.
    :param payload: ``{key: regex}`` on the payload's top-level keys.
    :raises TypeError, ValueError: a criterion is not a valid regex.
    """

    def __init__(self, context: Mapping[str, str] | None = None,
                 publisher_id: str | None = None, event_type: str | None = None,
                 metadata: Mapping[str, str] | None = None,
                 payload: Mapping[str, str] | None = None) -> None:
        self._regex_publisher_id = _compile(publisher_id, "publisher_id")
        self._regex_event_type = _compile(event_type, "event_type")
        self._regexs_context = _compile_dict(context, "context")
        self._regexs_metadata = _compile_dict(metadata, "metadata")
        self._regexs_payload = _compile_dict(payload, "payload")

    @staticmethod
    def _value_matches(regex: re.Pattern[str] | None, value: Any) -> bool:
        if regex is None:
            return True
        return isinstance(value, str) and regex.match(value) is not None

    def match(self, context: Mapping[str, Any] | None, publisher_id: str | None,
              event_type: str | None, metadata: Mapping[str, Any] | None,
              payload: Any) -> bool:
        """True when every criterion given matches."""
        return (self._value_matches(self._regex_publisher_id, publisher_id)
                and self._value_matches(self._regex_event_type, event_type)
                and _dict_matches(self._regexs_context, context)
                and _dict_matches(self._regexs_metadata, metadata)
                and _dict_matches(self._regexs_payload, payload))

    def __repr__(self) -> str:
        parts = []
        if self._regex_publisher_id is not None:
            parts.append(f"publisher_id={self._regex_publisher_id.pattern!r}")
        if self._regex_event_type is not None:
            parts.append(f"event_type={self._regex_event_type.pattern!r}")
        for name in ("context", "metadata", "payload"):
            rules = getattr(self, f"_regexs_{name}")
            if rules:
                parts.append(f"{name}={ {k: r.pattern for k, r in rules.items()} }")
        return f"NotificationFilter({', '.join(parts)})"
