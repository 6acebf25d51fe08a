"""The oslo envelope: ``{"oslo.version": "2.0", "oslo.message": "<json>"}``.

The envelope exists so the format of the inner message can evolve: a
receiver checks the version before trusting the content. Version 1.0 means
"no envelope" (the ``messaging`` notifier driver still sends that).
"""

from __future__ import annotations

from typing import Any

from msgframework.exceptions import MalformedMessage
from msgframework.wire.jsonutil import dumps, loads, loads_body

__all__ = ["ENVELOPE_VERSION", "VERSION_KEY", "MESSAGE_KEY", "serialize_msg",
           "deserialize_msg", "encode_body", "decode_body"]

ENVELOPE_VERSION = "2.0"
VERSION_KEY = "oslo.version"
MESSAGE_KEY = "oslo.message"
_MAJOR, _MINOR = 2, 0


def serialize_msg(msg: dict[str, Any]) -> dict[str, str]:
    """Wrap ``msg`` in a version 2.0 envelope (the inner message as JSON text)."""
    return {VERSION_KEY: ENVELOPE_VERSION, MESSAGE_KEY: dumps(msg)}


def _check_version(version: Any) -> None:
    """Compatible means same major and a minor no higher than ours, as oslo rules."""
    if isinstance(version, str):
        major, _, minor = version.partition(".")
        if major.isdigit() and (minor == "" or minor.isdigit()):
            if int(major) == _MAJOR and int(minor or 0) <= _MINOR:
                return
    raise MalformedMessage(
        f"unsupported envelope version {version!r}: this side understands "
        f"{ENVELOPE_VERSION}")


def deserialize_msg(obj: Any) -> Any:
    """Unwrap an envelope; anything that is not one is returned unchanged.

    A non-dict, or a dict without both envelope keys, is a bare (version
    1.0) message. An envelope of an incompatible version, or whose inner
    message is not JSON text, raises :class:`MalformedMessage`.
    """
    if not isinstance(obj, dict) or VERSION_KEY not in obj or MESSAGE_KEY not in obj:
        return obj
    version = obj[VERSION_KEY]
    if version != ENVELOPE_VERSION:
        _check_version(version)
    inner = obj[MESSAGE_KEY]
    if not isinstance(inner, (str, bytes)):
        raise MalformedMessage(
            f"envelope key {MESSAGE_KEY!r} holds {type(inner).__name__}, not JSON text")
    return loads(inner)


def encode_body(msg: dict[str, Any], version: float = 2.0) -> str:
    """The JSON text a broker carries: enveloped for 2.0, the bare dict for 1.0."""
    if version == 2.0:
        return dumps({VERSION_KEY: ENVELOPE_VERSION, MESSAGE_KEY: dumps(msg)})
    if version == 1.0:
        return dumps(msg)
    raise ValueError(f"unknown message envelope version {version!r}: use 2.0 or 1.0")


def decode_body(data: str | bytes) -> dict[str, Any]:
    """Parse a broker body (either version) into the message dict.

    Values kombu tagged in a bare body (``{"__type__": "datetime", ...}``)
    come back as the Python objects an oslo.messaging consumer would see.
    """
    obj = loads_body(data)
    if not isinstance(obj, dict):
        raise MalformedMessage(
            f"message body is a JSON {type(obj).__name__}, not an object")
    msg = deserialize_msg(obj)
    if not isinstance(msg, dict):
        raise MalformedMessage(
            f"enveloped message is a JSON {type(msg).__name__}, not an object")
    return msg
