"""Serializers turn application objects into wire-safe primitives and back.

The RPC client and the Notifier call ``serialize_*`` before sending; the
dispatchers call ``deserialize_*`` on receipt. Contexts become plain dicts on
the wire, whatever object the application uses.
"""

from __future__ import annotations

import abc
import datetime
import decimal
import enum
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["Serializer", "NoOpSerializer", "JsonPayloadSerializer",
           "RequestContextSerializer", "to_primitive"]


class Serializer(abc.ABC):
    """Base class for serializers of entities (arguments, results, payloads) and contexts."""

    @abc.abstractmethod
    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """Turn ``entity`` into something JSON can encode."""

    @abc.abstractmethod
    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        """Rebuild an entity from its primitive form."""

    @abc.abstractmethod
    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        """Turn a request context into a dict."""

    @abc.abstractmethod
    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        """Rebuild a request context from its dict."""


class NoOpSerializer(Serializer):
    """Passes everything through unchanged: the default everywhere."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return entity

    def serialize_context(self, ctxt: Any) -> Any:
        return ctxt

    def deserialize_context(self, ctxt: Any) -> Any:
        return ctxt


def to_primitive(value: Any, _depth: int = 0) -> Any:
    """Convert common Python types to JSON-safe primitives.

    datetimes become ISO 8601 strings (as oslo's jsonutils does), sets and
    tuples lists, objects with ``to_dict()`` or ``__dict__`` dicts. Deep
    recursion is cut at 10 levels, returning ``repr`` text, so cyclic
    objects cannot hang a send.
    """
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if _depth > 10:
        return repr(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_primitive(value.value, _depth + 1)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): to_primitive(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_primitive(v, _depth + 1) for v in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_primitive(to_dict(), _depth + 1)
    if hasattr(value, "__dict__"):
        return to_primitive(vars(value), _depth + 1)
    return str(value)


class JsonPayloadSerializer(NoOpSerializer):
    """Converts entities to JSON-safe primitives (datetimes, sets, objects...)."""

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return to_primitive(entity)


class RequestContextSerializer(Serializer):
    """Serializes contexts with ``to_dict()`` and rebuilds them with ``from_dict()``.

    Works with any context class offering both, oslo.context's
    ``RequestContext`` included. Entities go through ``base`` (a NoOp
    serializer when None).

    :param base: serializer for entities.
    :param context_class: class whose ``from_dict`` rebuilds contexts; None
        means oslo.context's RequestContext when installed, else plain dicts.
    """

    def __init__(self, base: Serializer | None = None, context_class: Any = None) -> None:
        self._base = base or NoOpSerializer()
        if context_class is None:
            try:
                from oslo_context.context import (
                    RequestContext as context_class,  # noqa: N813
                )
            except ImportError:  # oslo.context is optional
                pass
        self._context_class = context_class

    def serialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt: Any, entity: Any) -> Any:
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt: Any) -> dict[str, Any]:
        if ctxt is None:
            return {}
        if isinstance(ctxt, Mapping):
            return dict(ctxt)
        to_dict = getattr(ctxt, "to_dict", None)
        if not callable(to_dict):
            raise TypeError(f"context {type(ctxt).__name__} has no to_dict() method")
        return dict(to_dict())

    def deserialize_context(self, ctxt: dict[str, Any]) -> Any:
        if self._context_class is None:
            return ctxt
        return self._context_class.from_dict(ctxt)
