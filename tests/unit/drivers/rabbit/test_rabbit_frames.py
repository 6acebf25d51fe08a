"""Our basic.publish frames are byte for byte the ones py-amqp writes."""

from __future__ import annotations

from typing import Any

import amqp
import pytest
from amqp import spec
from amqp.method_framing import frame_writer
from amqp.serialization import dumps
from hypothesis import given, settings
from hypothesis import strategies as st

from msgframework.drivers.rabbit.frames import encode_ack, encode_publish


class _Conn:
    def __init__(self, frame_max: int) -> None:
        self.frame_max = frame_max
        self.bytes_sent = 0


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: Any) -> None:
        self.data += bytes(chunk)


def _py_amqp(channel: int, frame_max: int, exchange: str, routing_key: str,
             mandatory: bool, body: bytes, headers: dict[str, Any],
             expiration: str | None) -> bytes:
    sink = _Sink()
    props: dict[str, Any] = {"content_type": "application/json", "content_encoding": "utf-8",
                             "application_headers": headers, "delivery_mode": 2}
    if expiration is not None:
        props["expiration"] = expiration
    frame_writer(_Conn(frame_max), sink)(
        1, channel, spec.Basic.Publish,
        dumps("Bssbb", (0, exchange, routing_key, mandatory, False)), amqp.Message(body, **props))
    return bytes(sink.data)


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
header_values = st.one_of(st.text(max_size=20), st.integers(-2**31, 2**31 - 1), st.booleans(),
                          st.none())


@settings(max_examples=200, deadline=None)
@given(channel=st.integers(1, 2047), frame_max=st.sampled_from([4096, 131072]),
       exchange=names, routing_key=names, mandatory=st.booleans(),
       body=st.binary(max_size=10000),
       headers=st.dictionaries(st.text(min_size=1, max_size=10), header_values, max_size=4),
       expiration=st.one_of(st.none(), st.integers(0, 10**7).map(str)))
def test_frames_match_py_amqp(channel: int, frame_max: int, exchange: str, routing_key: str,
                              mandatory: bool, body: bytes, headers: dict[str, Any],
                              expiration: str | None) -> None:
    ours = encode_publish(channel, frame_max, exchange, routing_key, mandatory, body,
                          "application/json", "utf-8", headers, 2, expiration)
    assert ours == _py_amqp(channel, frame_max, exchange, routing_key, mandatory, body,
                            headers, expiration)


def test_names_longer_than_a_short_string_are_refused() -> None:
    with pytest.raises(ValueError, match="255"):
        encode_publish(1, 4096, "x" * 256, "k", False, b"", "a", "b", None, 2)
    with pytest.raises(ValueError, match="255"):
        encode_publish(1, 4096, "x", "é" * 200, False, b"", "a", "b", None, 2)


@given(channel=st.integers(1, 2047), tag=st.integers(1, 2**64 - 1))
def test_ack_frame_matches_py_amqp(channel: int, tag: int) -> None:
    sink = _Sink()
    frame_writer(_Conn(4096), sink)(1, channel, spec.Basic.Ack, dumps("Lb", (tag, False)), None)
    assert encode_ack(channel, tag) == bytes(sink.data)


class _Transport:
    """What BufferedReads needs of a py-amqp transport."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self._read_buffer = b""
        self.raise_on_initial_eintr = True

    def _read(self, n: int, initial: bool = False) -> bytes:  # replaced
        raise AssertionError("the original _read must not be used")


class _AmqpConn:
    def __init__(self, sock: Any) -> None:
        self.transport = _Transport(sock)


def test_buffered_reads_serve_exact_sizes_from_big_chunks() -> None:
    import socket

    from msgframework.drivers.rabbit.frames import BufferedReads

    ours, theirs = socket.socketpair()
    try:
        conn = _AmqpConn(ours)
        reads = BufferedReads(conn)
        theirs.sendall(b"abcdefghij")
        assert conn.transport._read(3) == b"abc"  # one recv took all ten bytes
        assert reads.pending() == 7
        # py-amqp gives back the start of a frame whose read timed out: it comes first
        conn.transport._read_buffer = b"XY"
        assert conn.transport._read(4) == b"XYde"
        theirs.sendall(b"klm")
        assert conn.transport._read(8) == b"fghijklm"
        assert reads.pending() == 0
        # nothing there at the start of a frame under a zero timeout: a timeout
        ours.settimeout(0)
        with pytest.raises(TimeoutError):
            conn.transport._read(7, True)
        ours.settimeout(None)
        theirs.close()
        with pytest.raises(OSError, match="closed"):
            conn.transport._read(1)
    finally:
        ours.close()
        theirs.close()


# -- deliveries ------------------------------------------------------------------

def _frames(data: bytes) -> list[tuple[int, int, bytes]]:
    """Split written bytes into (type, channel, payload) as py-amqp's read_frame returns."""
    import struct

    frames, pos = [], 0
    while pos < len(data):
        frame_type, channel, size = struct.unpack_from(">BHI", data, pos)
        frames.append((frame_type, channel, data[pos + 7:pos + 7 + size]))
        assert data[pos + 7 + size] == 0xCE
        pos += 8 + size
    return frames


def _deliver_frames(channel: int, frame_max: int, consumer_tag: str, delivery_tag: int,
                    redelivered: bool, exchange: str, routing_key: str, body: bytes,
                    props: dict[str, Any]) -> list[tuple[int, int, bytes]]:
    sink = _Sink()
    frame_writer(_Conn(frame_max), sink)(
        1, channel, spec.Basic.Deliver,
        dumps("sLbss", (consumer_tag, delivery_tag, redelivered, exchange, routing_key)),
        amqp.Message(body, **props))
    return _frames(bytes(sink.data))


class _FrameSource:
    """A py-amqp connection whose frames come from a list; py-amqp's own handler
    records what reaches it."""

    def __init__(self, frames: list[tuple[int, int, bytes]]) -> None:
        from amqp.method_framing import frame_handler

        self.bytes_recv = 0
        self._frames = list(frames)
        self.transport = type("T", (), {"read_frame": lambda _self: self._frames.pop(0)})()
        self.methods: list[tuple[int, tuple[int, int], Any]] = []
        self.on_inbound_frame = frame_handler(
            self, lambda ch, sig, buf, msg: self.methods.append((ch, sig, msg)))

    def left(self) -> int:
        return len(self._frames)


short = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(channel=st.integers(1, 2047), frame_max=st.sampled_from([4096, 131072]),
       consumer_tag=short, delivery_tag=st.integers(1, 2**64 - 1), redelivered=st.booleans(),
       exchange=short, routing_key=short, body=st.binary(max_size=10000),
       headers=st.dictionaries(st.text(min_size=1, max_size=10), header_values, max_size=4),
       extra=st.fixed_dictionaries({}, optional={
           "expiration": st.integers(0, 10**7).map(str), "priority": st.integers(0, 9),
           "correlation_id": short, "reply_to": short, "message_id": short,
           "type": short, "app_id": short}))
def test_delivery_frames_match_py_amqp(channel: int, frame_max: int, consumer_tag: str,
                                       delivery_tag: int, redelivered: bool, exchange: str,
                                       routing_key: str, body: bytes, headers: dict[str, Any],
                                       extra: dict[str, Any]) -> None:
    from msgframework.drivers.rabbit.frames import DeliveryFrames

    props = {"content_type": "application/json", "content_encoding": "utf-8",
             "application_headers": headers, "delivery_mode": 2, **extra}
    frames = _deliver_frames(channel, frame_max, consumer_tag, delivery_tag, redelivered,
                             exchange, routing_key, body, props)
    # py-amqp's reading of the same frames
    theirs = _FrameSource(frames)
    while theirs.left():
        theirs.on_inbound_frame(theirs.transport.read_frame())
    [(_, _, msg)] = theirs.methods

    got: list[tuple[Any, ...]] = []
    source = _FrameSource(frames)
    reader = DeliveryFrames(source, lambda *args: got.append(args) or True)
    while source.left():
        reader.read_one()
    # (py-amqp leaves a body-less message's body at '', we give b'')
    assert got == [(channel, consumer_tag, delivery_tag, redelivered, exchange, routing_key,
                    msg.properties, msg.body or b"")]
    assert source.methods == []  # py-amqp saw none of it
    assert source.bytes_recv == len(frames)  # heartbeat bookkeeping as py-amqp's


def test_frames_between_a_deliverys_frames_and_other_methods_go_to_py_amqp() -> None:
    from msgframework.drivers.rabbit.frames import DeliveryFrames

    body = b"x" * 10000  # three body frames at frame_max 4096
    frames = _deliver_frames(1, 4096, "tag", 7, False, "ex", "rk", body,
                             {"content_type": "application/json"})
    heartbeat = (8, 0, b"")
    confirm = _frames(encode_ack(2, 99))[0]  # a method of another channel
    mixed = [frames[0], heartbeat, frames[1], confirm, *frames[2:]]
    got: list[tuple[Any, ...]] = []
    source = _FrameSource(mixed)
    reader = DeliveryFrames(source, lambda *args: got.append(args) or True)
    while source.left():
        reader.read_one()
    assert [(ch, sig) for ch, sig, _ in source.methods] == [(2, spec.Basic.Ack)]
    assert len(got) == 1 and got[0][7] == body


def test_a_declined_delivery_is_handed_to_py_amqp_whole() -> None:
    from msgframework.drivers.rabbit.frames import DeliveryFrames

    frames = _deliver_frames(3, 4096, "unknown", 5, True, "ex", "rk", b"{}",
                             {"content_type": "application/json"})
    source = _FrameSource(frames)
    reader = DeliveryFrames(source, lambda *args: False)
    while source.left():
        reader.read_one()
    [(channel, sig, msg)] = source.methods
    assert (channel, sig, msg.body) == (3, spec.Basic.Deliver, b"{}")


def test_a_frame_out_of_place_in_a_delivery_is_a_protocol_error() -> None:
    from amqp.exceptions import UnexpectedFrame

    from msgframework.drivers.rabbit.frames import DeliveryFrames

    frames = _deliver_frames(1, 4096, "tag", 1, False, "ex", "rk", b"{}", {})
    source = _FrameSource([frames[0], frames[2]])  # the body before its content header
    reader = DeliveryFrames(source, lambda *args: True)
    reader.read_one()
    with pytest.raises(UnexpectedFrame, match="middle of a delivery"):
        reader.read_one()
