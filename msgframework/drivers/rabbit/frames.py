"""AMQP 0-9-1 frames on the hot path: ``basic.publish`` and ``basic.ack`` encoded in a
single pass, ``basic.deliver`` assembled without py-amqp's method dispatch.

Publishing is the hot path of every send, and py-amqp builds these frames
through a general method/property serializer that costs several times
more than the bytes need. This module writes the same bytes directly for
the properties msgframework sends (content type and encoding, headers,
delivery mode, expiration); a test checks them byte for byte against
py-amqp's own ``frame_writer`` for many messages. Header tables still go
through py-amqp's serializer, so every AMQP field type stays supported.

Layout (AMQP 0-9-1, section 4.2): a method frame (class 60 ``basic``,
method 40 ``publish``), a content header frame (body size, property flags,
properties in flag order), then the body split into frames of at most
``frame_max - 8`` bytes. Each frame is ``type(1) channel(2) size(4)
payload frame-end(0xCE)``.

Deliveries (:class:`DeliveryFrames`) are the same three frames the other
way: py-amqp would parse them into a ``Message`` through its generic frame
handler and argument decoder, then kombu into another ``Message``; here the
method's five fields are unpacked directly, the properties with py-amqp's
own decoder, and one kombu message is built by the caller. Every other
frame still goes to py-amqp.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from typing import Any

from amqp.exceptions import UnexpectedFrame
from amqp.serialization import decode_properties_basic
from amqp.serialization import dumps as amqp_dumps

__all__ = ["encode_publish", "encode_ack", "read_one_frame", "BufferedReads",
           "DeliveryFrames"]

_FRAME_METHOD, _FRAME_HEADER, _FRAME_BODY = 1, 2, 3
_FRAME_END = b"\xce"
_BASIC, _PUBLISH = 60, 40

# property flag bits, in the order properties follow the flags
_CONTENT_TYPE = 1 << 15
_CONTENT_ENCODING = 1 << 14
_HEADERS = 1 << 13
_DELIVERY_MODE = 1 << 12
_EXPIRATION = 1 << 8

_frame_head = struct.Struct(">BHI").pack
_method_head = struct.Struct(">HHHB").pack   # class, method, reserved ticket, exchange len
_header_head = struct.Struct(">HHQH").pack   # class, weight, body size, flags
_byte = struct.Struct(">B").pack
_EMPTY_TABLE = b"\x00\x00\x00\x00"  # a field table of no entries: its 32-bit length, 0


def _shortstr(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {text[:40]!r}...")
    return _byte(len(data)) + data


def encode_publish(channel: int, frame_max: int, exchange: str, routing_key: str,
                   mandatory: bool, body: bytes, content_type: str, content_encoding: str,
                   headers: dict[str, Any] | None, delivery_mode: int,
                   expiration: str | None = None) -> bytes:
    """The bytes of one ``basic.publish`` with its content, ready for the socket."""
    ex = exchange.encode("utf-8")
    if len(ex) > 255:
        raise ValueError(f"exchange name longer than 255 bytes: {exchange[:40]!r}...")
    method = b"".join((_method_head(_BASIC, _PUBLISH, 0, len(ex)), ex, _shortstr(routing_key),
                       _byte(1 if mandatory else 0)))
    flags = _CONTENT_TYPE | _CONTENT_ENCODING | _HEADERS | _DELIVERY_MODE
    props = [_shortstr(content_type), _shortstr(content_encoding),
             amqp_dumps("F", (headers,)) if headers else _EMPTY_TABLE, _byte(delivery_mode)]
    if expiration is not None:
        flags |= _EXPIRATION
        props.append(_shortstr(expiration))
    header = _header_head(_BASIC, 0, len(body), flags) + b"".join(props)
    parts = [_frame_head(_FRAME_METHOD, channel, len(method)), method, _FRAME_END,
             _frame_head(_FRAME_HEADER, channel, len(header)), header, _FRAME_END]
    chunk = frame_max - 8
    for start in range(0, len(body), chunk):
        piece = body[start:start + chunk]
        parts += (_frame_head(_FRAME_BODY, channel, len(piece)), piece, _FRAME_END)
    return b"".join(parts)


_ack = struct.Struct(">BHIHHQB").pack


def encode_ack(channel: int, delivery_tag: int) -> bytes:
    """The bytes of one ``basic.ack`` (``multiple`` off) for ``delivery_tag``."""
    return _ack(_FRAME_METHOD, channel, 13, _BASIC, 80, delivery_tag, 0) + _FRAME_END


def read_one_frame(amqp_conn: Any) -> None:
    """Read and dispatch one frame, blocking, without touching the socket's timeout.

    What py-amqp's ``blocking_read(None)`` does, minus its per-frame context
    manager: for owner threads that ``select()`` first and read only what
    is there, while other threads may be writing on the same socket.
    """
    amqp_conn.on_inbound_frame(amqp_conn.transport.read_frame())


class BufferedReads:
    """Socket reads in large chunks for py-amqp's frame reader (plain TCP only).

    py-amqp reads each frame with three ``recv`` calls (header, payload,
    frame end), so a message of three frames costs nine system calls. This
    replaces the transport's ``_read`` (the method its TCP and TLS
    transports each define to "read exactly n bytes") with one that
    receives whatever the socket holds, up to 64 KiB, and serves frames
    from that. Only the connection's owner thread reads, so no lock is
    needed; :meth:`pending` tells it that bytes are buffered, which
    ``select()`` cannot see.
    """

    __slots__ = ("_transport", "_sock", "_buf", "_pos")

    def __init__(self, amqp_conn: Any) -> None:
        transport = amqp_conn.transport
        self._transport = transport
        self._sock = transport.sock
        self._buf = bytearray()
        self._pos = 0
        transport._read = self.read

    def pending(self) -> int:
        return len(self._buf) - self._pos

    def read(self, n: int, initial: bool = False,
             _retry: tuple[int, ...] = (errno.EAGAIN, errno.EINTR)) -> bytes:
        buf, pos = self._buf, self._pos
        back = self._transport._read_buffer
        if back:
            # py-amqp gives back the start of a frame whose read timed out (a
            # caller's wait with a timeout): it comes first again.
            buf[pos:pos] = back
            self._transport._read_buffer = b""
        while len(buf) - pos < n:
            if pos:
                del buf[:pos]
                pos = self._pos = 0
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                if exc.errno in _retry:
                    # As py-amqp: nothing there at the start of a frame under a
                    # zero timeout (its connection.blocked peek) is a timeout.
                    if initial and getattr(self._transport, "raise_on_initial_eintr", True):
                        raise TimeoutError() from None
                    continue
                raise
            if not chunk:
                raise OSError("Server unexpectedly closed connection")
            buf += chunk
        self._pos = pos + n
        return bytes(buf[pos:pos + n])


#: ``basic.deliver`` (class 60, method 60) at the start of a method frame.
_DELIVER_SIG = b"\x00\x3c\x00\x3c"
_FRAME_HEARTBEAT = 8
_body_size = struct.Struct(">Q").unpack_from
_tag_and_flag = struct.Struct(">QB").unpack_from

#: ``deliver(channel, consumer_tag, delivery_tag, redelivered, exchange,
#: routing_key, properties, body)``: True when it took the message, False to
#: let py-amqp handle it (a consumer tag the caller does not know).
DeliverCallback = Callable[[int, str, int, bool, str, str, dict[str, Any], bytes], bool]


def _shortstr_at(buf: bytes, offset: int) -> tuple[str, int]:
    end = offset + 1 + buf[offset]
    return buf[offset + 1:end].decode("utf-8", "surrogatepass"), end


class DeliveryFrames:
    """Reads one frame at a time, assembling ``basic.deliver`` messages itself.

    For a connection's owner thread, in place of :func:`read_one_frame`.
    A delivery's method, content header and body frames are collected per
    channel (frames of other channels, heartbeats included, may come in
    between) and handed to ``deliver`` when complete. Everything else, and a
    delivery ``deliver`` declines, goes to py-amqp as it would have.
    """

    __slots__ = ("_conn", "_read_frame", "_on_frame", "_deliver", "_partial")

    def __init__(self, amqp_conn: Any, deliver: DeliverCallback) -> None:
        self._conn = amqp_conn
        self._read_frame = amqp_conn.transport.read_frame
        self._on_frame = amqp_conn.on_inbound_frame
        self._deliver = deliver
        #: channel -> [method payload, header payload, body chunks, size, received]
        self._partial: dict[int, list[Any]] = {}

    def read_one(self) -> None:
        """Read one frame (blocking) and act on it."""
        frame = self._read_frame()
        frame_type, channel, payload = frame
        partial = self._partial.get(channel) if self._partial else None
        if partial is None:
            if frame_type == _FRAME_METHOD and payload[:4] == _DELIVER_SIG:
                self._conn.bytes_recv += 1  # py-amqp's heartbeat bookkeeping
                self._partial[channel] = [payload, None, [], 0, 0]
            else:
                self._on_frame(frame)
            return
        if frame_type == _FRAME_HEARTBEAT:
            self._on_frame(frame)
            return
        self._conn.bytes_recv += 1
        if frame_type == _FRAME_HEADER and partial[1] is None:
            partial[1] = payload
            partial[3] = _body_size(payload, 4)[0]
            if partial[3] == 0:
                self._complete(channel, partial)
        elif frame_type == _FRAME_BODY and partial[1] is not None:
            partial[2].append(payload)
            partial[4] += len(payload)
            if partial[4] >= partial[3]:
                self._complete(channel, partial)
        else:
            del self._partial[channel]
            raise UnexpectedFrame(f"Received frame {frame_type} on channel {channel} "
                                  "in the middle of a delivery")

    def _complete(self, channel: int, partial: list[Any]) -> None:
        del self._partial[channel]
        method, header, chunks = partial[0], partial[1], partial[2]
        consumer_tag, offset = _shortstr_at(method, 4)
        delivery_tag, bits = _tag_and_flag(method, offset)
        exchange, offset = _shortstr_at(method, offset + 9)
        routing_key, _ = _shortstr_at(method, offset)
        properties, _ = decode_properties_basic(header, 12)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if self._deliver(channel, consumer_tag, delivery_tag, bool(bits & 1), exchange,
                         routing_key, properties, body):
            return
        on_frame = self._on_frame  # declined: py-amqp handles it (and warns, rejects)
        on_frame((_FRAME_METHOD, channel, method))
        on_frame((_FRAME_HEADER, channel, header))
        for chunk in chunks:
            on_frame((_FRAME_BODY, channel, chunk))
