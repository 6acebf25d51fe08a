"""JSON as oslo.messaging puts it on the wire, done fast.

The encoder and decoder are built once: ``json.dumps`` with non-default
arguments would construct a new encoder on every call, and the memory
driver encodes every message it carries.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import json.encoder
import json.scanner
import uuid
from collections.abc import Callable
from typing import Any

from msgframework.exceptions import MalformedMessage

__all__ = ["dumps", "loads", "loads_body"]

# oslo_utils.timeutils.PERFECT_TIME_FORMAT: always with microseconds, no offset.
_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_DATE_FORMAT = "%Y-%m-%d"


def _default(value: Any) -> Any:
    """Encode what oslo's jsonutils encodes implicitly; refuse the rest.

    Only dates are converted: anything else must be turned into primitives
    by a Serializer, so a send never silently ships ``str(obj)``.
    """
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.strftime(_DATETIME_FORMAT)
    if isinstance(value, datetime.date):
        return value.strftime(_DATE_FORMAT)
    raise TypeError(
        f"Object of type {type(value).__module__}.{type(value).__qualname__} "
        f"is not JSON serializable: {value!r:.100}"
    )


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_default)
_DECODER = json.JSONDecoder()
_decode = _DECODER.decode


def _make_c_encoder() -> Callable[[Any], str] | None:
    """The C encoder built once, or None where this Python's signature differs.

    ``JSONEncoder.encode`` builds a C encoder on every call; building it once
    halves the cost for small messages. Without the circular-reference
    marker dict (shared markers would be racy across threads) a cycle ends
    in RecursionError, which :func:`dumps` reports as ValueError.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder = make(None, _default, json.encoder.encode_basestring_ascii, None,
                       ":", ",", False, False, True)
        probe = {"a": [1, 2.5, None, True, "é"], "b": {}}
        if "".join(encoder(probe, 0)) != _ENCODER.encode(probe):
            return None
    except TypeError:
        return None
    return lambda obj: "".join(encoder(obj, 0))


_encode = _make_c_encoder() or _ENCODER.encode
_scan_once = json.scanner.make_scanner(_DECODER)  # type: ignore[attr-defined,arg-type]


def dumps(obj: Any) -> str:
    """Compact JSON text of ``obj``; TypeError names a type JSON cannot encode."""
    try:
        return _encode(obj)
    except RecursionError as exc:
        raise ValueError("Circular reference detected (or nesting too deep)") from exc


def _fast_decode(text: str) -> Any:
    """``JSONDecoder.decode`` minus its two regex passes for the usual clean text."""
    try:
        obj, end = _scan_once(text, 0)
    except StopIteration:           # leading whitespace or bad text: the slow path
        return _decode(text)        # decodes it or raises a precise JSONDecodeError
    if end != len(text) and not text[end:].isspace():
        return _decode(text)        # raises "Extra data"
    return obj


# kombu's JSON serializer (5.3+) tags what JSON cannot hold as
# {"__type__": name, "__value__": text}; its consumers untag them. A body
# oslo.messaging publishes *bare* (the "messaging" notifier, envelope 1.0)
# goes through that serializer, so a datetime in its payload arrives tagged.
_KOMBU_TYPES: dict[str, Callable[[Any], Any]] = {
    "datetime": datetime.datetime.fromisoformat,
    "date": lambda v: datetime.datetime.fromisoformat(v).date(),
    "time": datetime.time.fromisoformat,
    "decimal": decimal.Decimal,
    "uuid": lambda v: uuid.UUID(**v),
    "bytes": lambda v: v.encode("utf-8"),
    "base64": lambda v: base64.b64decode(v.encode("utf-8")),
}


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 2 and "__type__" in obj and "__value__" in obj:
        convert = _KOMBU_TYPES.get(obj["__type__"])
        if convert is not None:
            try:
                return convert(obj["__value__"])
            except (TypeError, ValueError, AttributeError):
                return obj
    return obj


_TAGGED_DECODER = json.JSONDecoder(object_hook=_untag)


def loads_body(text: str | bytes) -> Any:
    """:func:`loads` for a whole broker body: also untags kombu's typed values.

    Only the outer body can carry kombu's tags (the enveloped inner message
    is oslo's own JSON), and the hook runs only when the text has a tag.
    """
    if isinstance(text, str) and '"__type__"' not in text:
        return loads(text)
    if isinstance(text, (bytes, bytearray)) and b'"__type__"' not in text:
        return loads(text)
    return loads(text, _TAGGED_DECODER.decode)


def loads(text: str | bytes, _decoder: Callable[[str], Any] = _fast_decode) -> Any:
    """Parse JSON text (bytes must be UTF-8); MalformedMessage says what is wrong."""
    if not isinstance(text, str):
        if not isinstance(text, (bytes, bytearray, memoryview)):
            raise MalformedMessage(
                f"expected JSON text, got {type(text).__name__}")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"message body is not valid UTF-8: {exc}") from exc
    try:
        return _decoder(text)
    except json.JSONDecodeError as exc:
        raise MalformedMessage(f"message body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedMessage("message body is JSON nested too deeply") from exc
