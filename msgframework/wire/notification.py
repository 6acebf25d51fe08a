"""Notification messages as dicts ready for :func:`envelope.encode_body`.

The Notifier builds the message (``message_id``, ``publisher_id``,
``event_type``, ``priority``, ``payload``, ``timestamp``); drivers add the
duplicate-detection id and the flattened context here.
"""

from __future__ import annotations

from typing import Any

from msgframework.exceptions import MalformedMessage
from msgframework.wire.context import pack_context, unpack_context
from msgframework.wire.ids import uuid4_hex

__all__ = ["build_notification", "parse_notification", "REQUIRED_KEYS"]

REQUIRED_KEYS = ("event_type", "priority")


def build_notification(ctxt: Any, message: dict[str, Any]) -> dict[str, Any]:
    """The notification dict to send; ``message`` is not modified."""
    msg = dict(message)
    msg["_unique_id"] = uuid4_hex()
    pack_context(msg, ctxt)
    return msg


def parse_notification(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(context, message) of a received notification, without ``_unique_id``.

    Raises :class:`MalformedMessage` when ``event_type`` or ``priority`` is
    missing or not a string: the dispatcher cannot route it.
    """
    if not isinstance(raw, dict):
        raise MalformedMessage(f"notification is a {type(raw).__name__}, not an object")
    ctxt, msg = unpack_context(raw)
    for key in REQUIRED_KEYS:
        value = msg.get(key)
        if not isinstance(value, str):
            if value is None:
                raise MalformedMessage(f"notification has no {key!r} key")
            raise MalformedMessage(
                f"notification {key!r} must be a string, got {type(value).__name__}")
    msg.pop("_unique_id", None)
    return ctxt, msg
