"""RPC requests and replies as dicts ready for :func:`envelope.encode_body`.

The RPC layer builds the message (``method``, ``args``, ``namespace``,
``version``); the driver adds the routing keys here, and the receiving
driver takes them off again with :func:`parse_request`, so neither the
dispatcher nor the endpoints ever see ``_msg_id`` and friends.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from msgframework.drivers.common import Reply
from msgframework.exceptions import MalformedMessage
from msgframework.wire.context import pack_context, unpack_context
from msgframework.wire.ids import uuid4_hex

__all__ = ["RPCRequest", "build_request", "parse_request", "build_reply",
           "build_heartbeat", "parse_reply"]



@dataclasses.dataclass(slots=True)
class RPCRequest:
    """A received request: what the dispatcher needs and where to reply.

    ``message`` holds ``method``, ``args`` and, when sent, ``namespace`` and
    ``version``; ``msg_id`` and ``reply_q`` are None for a cast;
    ``client_timeout`` is the caller's call_monitor_timeout.
    """

    ctxt: dict[str, Any]
    message: dict[str, Any]
    msg_id: str | None = None
    reply_q: str | None = None
    client_timeout: float | None = None
    unique_id: str | None = None

    @property
    def method(self) -> str:
        return self.message["method"]

    @property
    def args(self) -> dict[str, Any]:
        return self.message.get("args") or {}

    @property
    def namespace(self) -> str | None:
        return self.message.get("namespace")

    @property
    def version(self) -> str | None:
        return self.message.get("version")


def build_request(ctxt: Any, message: dict[str, Any], *, msg_id: str | None = None,
                  reply_q: str | None = None,
                  call_monitor_timeout: float | None = None) -> dict[str, Any]:
    """The request dict for a cast (no ``msg_id``) or a call; ``message`` is not modified."""
    msg = dict(message)
    if msg_id is not None:
        msg["_msg_id"] = msg_id
        msg["_reply_q"] = reply_q
        msg["_timeout"] = call_monitor_timeout
    msg["_unique_id"] = uuid4_hex()
    pack_context(msg, ctxt)
    return msg


def _optional_str(msg: dict[str, Any], key: str) -> None:
    value = msg.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedMessage(
            f"RPC request key {key!r} must be a string, got {type(value).__name__}")


def parse_request(raw: dict[str, Any]) -> RPCRequest:
    """Split a received request into context, message and reply routing.

    Raises :class:`MalformedMessage` naming the key when ``method`` is
    missing or not a string, ``args`` is not an object, or ``namespace``,
    ``version``, ``_msg_id`` or ``_reply_q`` are not strings.
    """
    if not isinstance(raw, dict):
        raise MalformedMessage(f"RPC request is a {type(raw).__name__}, not an object")
    ctxt, msg = unpack_context(raw)
    method = msg.get("method")
    if not isinstance(method, str):
        if method is None:
            raise MalformedMessage("RPC request has no 'method' key")
        raise MalformedMessage(
            f"RPC request 'method' must be a string, got {type(method).__name__}")
    args = msg.get("args")
    if args is None:
        msg["args"] = {}
    elif not isinstance(args, dict):
        raise MalformedMessage(
            f"RPC request 'args' must be an object, got {type(args).__name__}")
    _optional_str(msg, "namespace")
    _optional_str(msg, "version")
    msg_id = msg.pop("_msg_id", None)
    reply_q = msg.pop("_reply_q", None)
    timeout = msg.pop("_timeout", None)
    unique_id = msg.pop("_unique_id", None)
    if msg_id is not None and not isinstance(msg_id, str):
        raise MalformedMessage(f"RPC request '_msg_id' must be a string, got {msg_id!r:.50}")
    if reply_q is not None and not isinstance(reply_q, str):
        raise MalformedMessage(f"RPC request '_reply_q' must be a string, got {reply_q!r:.50}")
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, (int, float))):
        raise MalformedMessage(f"RPC request '_timeout' must be a number, got {timeout!r:.50}")
    return RPCRequest(ctxt, msg, msg_id, reply_q, timeout, unique_id)


def build_reply(msg_id: str | None, result: Any = None, failure: str | None = None,
                ending: bool = True) -> dict[str, Any]:
    """A reply; ``failure`` is the text of ``failures.serialize_remote_exception``."""
    return {"result": result, "failure": failure, "ending": ending,
            "_msg_id": msg_id, "_unique_id": uuid4_hex()}


def build_heartbeat(msg_id: str | None) -> dict[str, Any]:
    """A call-monitor heartbeat: a reply with no result and ``ending`` false."""
    return build_reply(msg_id, None, None, ending=False)


def parse_reply(raw: dict[str, Any]) -> tuple[str | None, Reply]:
    """(msg_id, Reply) of a received reply; MalformedMessage when it cannot be one."""
    if not isinstance(raw, dict):
        raise MalformedMessage(f"RPC reply is a {type(raw).__name__}, not an object")
    failure = raw.get("failure")
    if failure is not None and not isinstance(failure, str):
        raise MalformedMessage(
            f"RPC reply 'failure' must be JSON text, got {type(failure).__name__}")
    msg_id = raw.get("_msg_id")
    if msg_id is not None and not isinstance(msg_id, str):
        raise MalformedMessage(f"RPC reply '_msg_id' must be a string, got {msg_id!r:.50}")
    unique_id = raw.get("_unique_id")
    if unique_id is not None and not isinstance(unique_id, str):
        unique_id = str(unique_id)
    return msg_id, Reply(raw.get("result"), failure or None, bool(raw.get("ending", False)),
                         unique_id)
