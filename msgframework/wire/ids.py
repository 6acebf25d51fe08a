"""Message identifiers: uuid4 hex text, made without building a UUID object.

``uuid.uuid4().hex`` costs a few microseconds, mostly constructing the
UUID object; two ids go out per RPC call (request and reply), so we format
16 random bytes directly. The result is a valid version 4 UUID in hex, as
oslo.messaging sends, drawn from ``os.urandom`` (fork-safe, unpredictable).
"""

from __future__ import annotations

import os

__all__ = ["uuid4_hex"]

_urandom = os.urandom


def uuid4_hex() -> str:
    """32 lowercase hex digits of a random (version 4, RFC 4122 variant) UUID."""
    raw = bytearray(_urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()
