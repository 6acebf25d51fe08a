"""Context flattening: each context key ``k`` travels as ``_context_k``.

oslo.messaging flattens rather than nesting so brokers and tools that look
at top-level keys see the request id, user and project; we keep the form
so both libraries read each other's contexts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONTEXT_PREFIX", "pack_context", "unpack_context", "context_to_dict"]

CONTEXT_PREFIX = "_context_"
_PREFIX_LEN = len(CONTEXT_PREFIX)


def context_to_dict(ctxt: Any) -> dict[str, Any]:
    """A context as a dict: dicts as they are, else ``ctxt.to_dict()``; None is empty."""
    if isinstance(ctxt, dict):
        return ctxt
    if ctxt is None:
        return {}
    to_dict = getattr(ctxt, "to_dict", None)
    if to_dict is None:
        raise TypeError(
            f"a context must be a dict or have to_dict(), not {type(ctxt).__name__}")
    result = to_dict()
    if not isinstance(result, dict):
        raise TypeError(
            f"{type(ctxt).__name__}.to_dict() returned {type(result).__name__}, not dict")
    return result


def pack_context(msg: dict[str, Any], ctxt: Any) -> None:
    """Add ``_context_<key>`` entries for every key of ``ctxt`` to ``msg`` in place."""
    for key, value in context_to_dict(ctxt).items():
        msg[CONTEXT_PREFIX + str(key)] = value


def unpack_context(msg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``msg`` into (context, message without context keys); ``msg`` is untouched."""
    ctxt: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in msg.items():
        if key.startswith(CONTEXT_PREFIX):
            ctxt[key[_PREFIX_LEN:]] = value
        else:
            rest[key] = value
    return ctxt, rest
