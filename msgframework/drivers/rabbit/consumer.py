"""The consumer thread: one dedicated connection per listener (and for replies).

kombu and py-amqp are not thread-safe, so this thread is the only one that
touches its connection. It

* declares the listener's queues (again after every reconnection) and
  consumes them with ``basic_qos(prefetch)``;
* hands each delivery to a callback (the listener queues it for ``poll``);
* runs the settle operations (republish-then-ack) that other threads
  submit, woken at once through a pipe instead of at the next poll tick;
  a plain acknowledgement is written by the settling thread itself
  (:meth:`ConsumerThread.ack`), under the connection's write lock, so
  acknowledging costs no thread hand-off. While more deliveries wait to be
  handled, acknowledgements are gathered and written together (at most
  ``ACK_BATCH`` or ``ACK_DELAY`` seconds old), one write instead of one
  per message; a crash in that window redelivers them (at-least-once).
  That needs a socket that can be read and written from two threads at
  once: on plain TCP this thread reads with ``select`` and blocking reads
  of 64 KiB chunks (never changing the socket's timeout under a writer);
  TLS and kombu's memory transport keep every operation in this thread;
* sends and checks AMQP heartbeats itself, so no application work (a slow
  endpoint, a blocked poll) can starve them;
* reconnects with backoff and failover when the connection drops, and
  resubscribes. Settle operations of deliveries from a lost connection are
  dropped: the broker already gave those messages back to the queue.
"""

from __future__ import annotations

import collections
import functools
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import kombu
from kombu.message import Message as KombuMessage

from msgframework.drivers.rabbit.connection import MEMORY_POLL_INTERVAL, BrokerConnection, HostList
from msgframework.drivers.rabbit.declarations import (
    ExchangeSpec,
    QueueSpec,
    declare,
    declare_exchange,
)
from msgframework.drivers.rabbit.errors import is_connection_error, translate
from msgframework.drivers.rabbit.frames import (
    BufferedReads,
    DeliveryFrames,
    encode_ack,
)
from msgframework.drivers.rabbit.publisher import CONTENT_TYPE, PERSISTENT
from msgframework.drivers.rabbit.settings import RabbitSettings

__all__ = ["ConsumerThread"]

LOG = logging.getLogger(__name__)

Operation = Callable[[], None]

#: Most acknowledgements gathered before they are written.
ACK_BATCH = 32
#: Longest an acknowledgement waits to be written with others.
ACK_DELAY = 0.005


class ConsumerThread:
    """Owns one listen connection; see the module docstring.

    :param on_message: called in this thread with ``(kombu_message, generation,
        queue_spec)``; it must not block.
    :param owned: queues private to this consumer (fanout, reply), deleted at stop.
    :param no_ack: the broker forgets a message once sent (AMQP ``no-ack``):
        for replies, which are at-most-once anyway, so no acknowledgement is
        written on the way to the caller.
    """

    def __init__(self, hosts: HostList, settings: RabbitSettings, closing: threading.Event,
                 specs: list[QueueSpec], on_message: Callable[[Any, int, QueueSpec], None],
                 purpose: str = "listen", owned: list[str] | None = None,
                 no_ack: bool = False) -> None:
        self._no_ack = no_ack
        self._s = settings
        self._specs = list(specs)
        self._owned = list(owned or [])
        self._on_message = on_message
        self._purpose = purpose
        self._stop = threading.Event()
        self._driver_closing = closing
        self.bconn = BrokerConnection(hosts, settings, purpose, self._stop)
        self._direct = not self.bconn.is_memory and not settings.ssl
        # Held for every write on the connection and while it is replaced.
        self._write_lock = threading.RLock()
        self._acks = bytearray()  # ack frames not written yet (write lock held)
        self._acks_n = 0
        self._acks_since = 0.0
        self._acks_generation = -1
        self._reads: BufferedReads | None = None  # this connection's reads, in big chunks
        self._frames: DeliveryFrames | None = None  # and its frames, deliveries assembled here
        self._reads_generation = -1
        #: consumer tag -> (queue spec, channel) of this connection's consumers,
        #: for deliveries assembled by DeliveryFrames (plain TCP only)
        self._by_tag: dict[str, tuple[QueueSpec, Any]] = {}
        self._ops: collections.deque[tuple[int | None, Operation, threading.Event]] = (
            collections.deque())
        self._ops_lock = threading.Lock()
        # a socket pair, not os.pipe(): a closed socket object can never write
        # into a file descriptor number the OS has since reused
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._consuming = False
        self._prefetch = 0
        self._consumers: list[kombu.Consumer] = []
        self._producer: kombu.Producer | None = None
        self._producer_gen = -1
        self._declared_extra: set[Any] = set()
        self._thread: threading.Thread | None = None
        self.subscribed = threading.Event()  # set while consuming on a live connection

    # -- called from other threads -------------------------------------------
    def open(self, retry: int | None = 0) -> None:
        """Connect and declare the queues now (caller's thread), then start the thread.

        Declaring before returning makes ``listen()`` keep every message sent
        after it returns. Raises a msgframework exception when that fails.
        """
        try:
            self.bconn.ensure_connected(retry)
            declare(self.bconn.conn, self._specs)
        except Exception as exc:
            self.bconn.close()
            error = translate(exc, f"declaring {', '.join(s.name for s in self._specs)}",
                              self.bconn.describe())
            if error is exc:  # already ours, its cause chained: never chain it to itself
                raise
            raise error from exc
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"msgframework-rabbit-{self._purpose}")
        self._thread.start()

    def consume(self, prefetch: int) -> None:
        """Start (or restart with a new prefetch) delivering messages."""
        def start() -> None:
            self._prefetch = prefetch
            self._consuming = True
            self._subscribe()
        self.submit(start)

    def submit(self, op: Operation, generation: int | None = None,
               wait: float | None = None) -> bool:
        """Run ``op`` in the consumer thread; with ``generation``, only on that connection.

        With ``wait`` (seconds), block until the thread has run or dropped
        the operation; True when it did so in time. Never waits when called
        from the consumer thread itself.
        """
        done = threading.Event()
        with self._ops_lock:
            self._ops.append((generation, op, done))
        self._wake()
        if wait is None or threading.current_thread() is self._thread:
            return False
        if self._thread is None or not self._thread.is_alive():
            return False
        return done.wait(wait)

    def ack(self, raw: Any, generation: int, gather: bool = False) -> bool:
        """Acknowledge ``raw`` from the calling thread; False where that cannot be done.

        With ``gather`` the acknowledgement may wait (``ACK_BATCH``,
        ``ACK_DELAY``) to be written with others. False means this
        connection cannot be written from another thread (TLS, memory
        transport): settle through :meth:`submit` then. An acknowledgement
        for a delivery of a lost connection is dropped (the broker
        redelivers that message).
        """
        if not self._direct:
            return False
        frame = encode_ack(raw.channel.channel_id, raw.delivery_tag)
        with self._write_lock:
            if generation != self.bconn.generation or not self.bconn.connected:
                LOG.debug("Dropping an ack of a lost connection (the broker redelivers it)")
                return True
            if self._acks_generation != generation:
                self._acks.clear()
                self._acks_n = 0
                self._acks_generation = generation
            if not self._acks_n:
                self._acks_since = time.monotonic()
            self._acks += frame
            self._acks_n += 1
            if not gather or self._acks_n >= ACK_BATCH:
                self._flush_acks()
            elif self._acks_n == 1:
                self._wake()  # so this thread writes it within ACK_DELAY at the latest
        return True

    def _flush_acks(self, older_than: float = 0.0) -> None:
        """Write the gathered acknowledgements (write lock held)."""
        if not self._acks_n or time.monotonic() - self._acks_since < older_than:
            return
        data, self._acks = bytes(self._acks), bytearray()
        self._acks_n = 0
        if self._acks_generation != self.bconn.generation or not self.bconn.connected:
            return
        try:
            amqp_conn = self.bconn.conn.connection  # type: ignore[union-attr]
            amqp_conn.transport.write(data)
            amqp_conn.bytes_sent += 1  # py-amqp's heartbeat bookkeeping
        except Exception as exc:
            if not is_connection_error(exc) and not isinstance(exc, AttributeError):
                raise
            LOG.debug("Acknowledging failed on a broken connection: %s", exc)
            self._wake()  # this thread notices the loss and reconnects

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass  # the buffer is full (already awake) or the thread has finished

    def stop(self, timeout: float = 5.0) -> None:
        """Stop consuming, close the connection, join the thread."""
        self._stop.set()
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- the thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stopping():
                try:
                    self._step()
                except Exception as exc:
                    self.subscribed.clear()
                    with self._write_lock:
                        self._consumers = []
                        self._producer = None
                        if is_connection_error(exc):
                            self.bconn.lost(exc)
                        else:
                            LOG.exception("Consumer %s failed; reconnecting", self._purpose)
                            self.bconn.close()
                    if is_connection_error(exc):
                        self._drop_settles()
                    else:
                        self._stop.wait(self._s.reconnect_delay or 0.1)
        finally:
            self.subscribed.clear()
            self._finish()

    def _stopping(self) -> bool:
        return self._stop.is_set() or self._driver_closing.is_set()

    def _step(self) -> None:
        if not self.bconn.connected:
            with self._write_lock:
                self._consumers = []
                self.bconn.ensure_connected(None)  # forever; stop() interrupts the backoff
                declare(self.bconn.conn, self._specs)
                self._declared_extra.clear()
                if self._consuming:
                    self._subscribe()
        self._run_ops()
        self._drain()
        with self._write_lock:
            self._flush_acks(older_than=ACK_DELAY)
            self.bconn.heartbeat_check()

    def _subscribe(self) -> None:
        self._cancel_consumers()
        assert self.bconn.conn is not None
        channel = self.bconn.conn.channel()
        prefetch = _effective_prefetch(self._prefetch, self._s.qos_prefetch_count)
        if prefetch:
            channel.basic_qos(0, prefetch, _global_qos_allowed(self._specs))
        arguments = ({"x-cancel-on-ha-failover": True}
                     if self._s.enable_cancel_on_failover else None)
        seen: set[str] = set()
        for spec in self._specs:
            if spec.name in seen:
                continue  # a pool queue bound several times is consumed once
            seen.add(spec.name)
            consumer = kombu.Consumer(
                channel, queues=[kombu.Queue(spec.name, no_declare=True,
                                             consumer_arguments=arguments)],
                on_message=functools.partial(self._deliver, spec),
                on_decode_error=functools.partial(self._deliver_undecodable, spec),
                auto_declare=False, no_ack=self._no_ack)
            consumer.consume()
            self._consumers.append(consumer)
            for tag in getattr(consumer, "_active_tags", {}).values():
                self._by_tag[str(tag)] = (spec, channel)
        self.subscribed.set()

    def _cancel_consumers(self) -> None:
        self._by_tag = {}
        consumers, self._consumers = self._consumers, []
        for consumer in consumers:
            try:
                consumer.cancel()
            except Exception:
                LOG.debug("Cancelling consumer failed", exc_info=True)

    def pause(self) -> None:
        """Stop deliveries (basic.cancel); unsettled messages can still be settled."""
        def cancel() -> None:
            self._consuming = False
            self._cancel_consumers()
            self.subscribed.clear()
        self.submit(cancel)

    def _deliver(self, spec: QueueSpec, message: Any) -> None:
        self._on_message(message, self.bconn.generation, spec)

    def _deliver_frames(self, channel_id: int, consumer_tag: str, delivery_tag: int,
                        redelivered: bool, exchange: str, routing_key: str,
                        properties: dict[str, Any], body: bytes) -> bool:
        """A delivery assembled by DeliveryFrames: the kombu message kombu would
        have built, to the same callbacks; False for a tag we did not consume with."""
        known = self._by_tag.get(consumer_tag)
        if known is None or known[1].channel_id != channel_id:
            return False
        spec, channel = known
        if channel.is_closing:  # as py-amqp: ignored; the broker gives it back
            return True
        payload: bytes | str = body
        encoding = properties.get("content_encoding")
        if encoding and channel.auto_decode:  # as py-amqp: text when it decodes
            try:
                payload = body.decode(encoding)
            except Exception:
                pass
        message = KombuMessage(
            body=payload, delivery_tag=delivery_tag, channel=channel,
            content_type=properties.get("content_type"),
            content_encoding=properties.get("content_encoding"),
            delivery_info={"consumer_tag": consumer_tag, "delivery_tag": delivery_tag,
                           "redelivered": redelivered, "exchange": exchange,
                           "routing_key": routing_key},
            properties=properties, headers=properties.get("application_headers") or {})
        if message.errors:  # kombu could not unwrap it (say, a bad compression header)
            error = message.errors[0][1]
            self._deliver_undecodable(spec, message, error if isinstance(error, Exception)
                                      else ValueError(str(error)))
        else:
            self._on_message(message, self.bconn.generation, spec)
        return True

    def _deliver_undecodable(self, spec: QueueSpec, message: Any, exc: Exception) -> None:
        """kombu could not even unwrap the body (a bad ``compression`` header).

        Delivered like any message, with the error kept in ``message.errors``,
        so the callback settles it (dead-letters it) instead of the exception
        escaping into this thread, which would reconnect and get the same
        message back for ever.
        """
        errors = getattr(message, "errors", None)
        if isinstance(errors, list) and not errors:
            errors.append((type(exc), exc, exc.__traceback__))
        self._on_message(message, self.bconn.generation, spec)

    def _run_ops(self) -> None:
        while True:
            with self._ops_lock:
                if not self._ops:
                    return
                generation, op, done = self._ops.popleft()
            try:
                if generation is not None and generation != self.bconn.generation:
                    LOG.debug("Dropping a settle operation of a lost connection "
                              "(the broker redelivers that message)")
                    continue
                with self._write_lock:
                    try:
                        op()
                    except Exception as exc:
                        if is_connection_error(exc) or generation is None:
                            raise
                        # The broker refused one settle (say, no permission on the
                        # dead-letter exchange): its channel is gone, not the
                        # connection. The message stays unacknowledged, and the
                        # broker gives it back after a reconnection; failing the
                        # whole consumer would reconnect, get it again and loop.
                        self._producer = None
                        LOG.error("A message on %s could not be settled (%s); it stays "
                                  "unacknowledged until this listener reconnects",
                                  self._purpose, exc)
            finally:
                done.set()

    def _drop_settles(self) -> None:
        """After a loss: settles of the old connection's deliveries can never run.

        Dropping them now (rather than after the reconnection) frees their
        callers at once; the broker redelivers those messages.
        """
        with self._ops_lock:
            keep = collections.deque(item for item in self._ops if item[0] is None)
            dropped = [item for item in self._ops if item[0] is not None]
            self._ops = keep
        for _, _, done in dropped:
            done.set()

    def _release_waiters(self) -> None:
        """Wake every thread still waiting on an operation that will not run now."""
        with self._ops_lock:
            ops, self._ops = self._ops, collections.deque()
        for _, _, done in ops:
            done.set()

    def _drain(self) -> None:
        """Dispatch what arrived, then sleep until traffic, a wake-up or a heartbeat is due."""
        conn = self.bconn.conn
        assert conn is not None
        if self.bconn.is_memory:
            try:
                conn.drain_events(timeout=MEMORY_POLL_INTERVAL)
            except TimeoutError:
                pass
            self._clear_wake()
            return
        sock = self.bconn.sock()
        if self._direct and sock is not None:
            # One blocking frame read per readable select(): the socket's timeout
            # is never touched, so threads writing acks are unaffected. Not
            # drain_events(), which keeps reading until a whole method arrived
            # and would block through the broker's heartbeat frames.
            amqp_conn = conn.connection
            if self._reads_generation != self.bconn.generation:
                self._reads = BufferedReads(amqp_conn)
                self._frames = DeliveryFrames(amqp_conn, self._deliver_frames)
                self._reads_generation = self.bconn.generation
            reads, frames = self._reads, self._frames
            assert reads is not None and frames is not None
            while reads.pending() or select.select([sock], [], [], 0)[0]:
                try:
                    frames.read_one()
                except TimeoutError:
                    break
                if self._has_ops():
                    return
        else:
            while True:  # first everything already readable, without blocking
                try:
                    conn.drain_events(timeout=0.0001)
                except TimeoutError:
                    break
                if self._has_ops():
                    return
        if sock is not None and getattr(sock, "pending", lambda: 0)():
            return  # TLS has decrypted bytes buffered: select() would not see them
        if self._has_ops() or self._stopping():
            return
        fds = [self._wake_r] + ([sock] if sock is not None else [])
        timeout = self._s.heartbeat_interval
        if self._acks_n:
            timeout = min(timeout, max(0.0, self._acks_since + ACK_DELAY - time.monotonic()))
        readable, _, _ = select.select(fds, [], [], timeout)
        if self._wake_r in readable:
            self._clear_wake()

    def _has_ops(self) -> bool:
        with self._ops_lock:
            return bool(self._ops)

    def _clear_wake(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except OSError:
            pass

    def _finish(self) -> None:
        """Flush pending settles, cancel, delete the queues we own, close."""
        if self.bconn.connected:
            try:
                self._run_ops()
                with self._write_lock:
                    self._flush_acks()
                    self._cancel_consumers()
                    if self._owned:
                        assert self.bconn.conn is not None
                        channel = self.bconn.conn.channel()
                        for name in self._owned:
                            channel.queue_delete(queue=name)
                        channel.close()
            except Exception:
                LOG.debug("Consumer %s shutdown incomplete", self._purpose, exc_info=True)
        with self._write_lock:
            self.bconn.close(graceful=True)
        self._release_waiters()
        self._wake_r.close()
        self._wake_w.close()

    # -- helpers for settle operations (consumer thread only) -------------------
    def republish(self, message: Any, exchange: ExchangeSpec, routing_key: str,
                  headers: dict[str, Any], declare_queue: QueueSpec | None = None,
                  rename: dict[str, str] | None = None) -> None:
        """Publish a copy of ``message`` with extra headers, confirmed, on this connection.

        ``rename`` moves original headers to other names (a dead letter keeps
        its ``compression`` as information only, so a reader is not made to
        unwrap a body that could not be unwrapped).
        """
        conn = self.bconn.conn
        assert conn is not None
        if self._producer is None or self._producer_gen != self.bconn.generation:
            self._producer = kombu.Producer(conn.channel(), auto_declare=False)
            self._producer_gen = self.bconn.generation
            self._declared_extra.clear()
        if exchange.name and exchange not in self._declared_extra:
            declare_exchange(conn, exchange)
            self._declared_extra.add(exchange)
        if declare_queue is not None and declare_queue not in self._declared_extra:
            declare(conn, [declare_queue])
            self._declared_extra.add(declare_queue)
        props = getattr(message, "properties", {}) or {}
        merged = dict(getattr(message, "headers", None) or {})
        for old, new in (rename or {}).items():
            if old in merged:
                merged[new] = merged.pop(old)
        merged.update(headers)
        extra: dict[str, Any] = {}
        if props.get("expiration"):
            extra["expiration"] = int(props["expiration"]) / 1000.0
        self._producer.publish(
            message.body, exchange=exchange.name, routing_key=routing_key,
            content_type=message.content_type or CONTENT_TYPE,
            content_encoding=message.content_encoding or "utf-8",
            delivery_mode=PERSISTENT, headers=merged, retry=False,
            confirm_timeout=self._s.confirm_timeout, timeout=self._s.confirm_timeout,
            **extra)


def _global_qos_allowed(specs: list[QueueSpec]) -> bool:
    """Whether one prefetch bound may cover all the listener's queues (AMQP global QoS).

    Classic queues accept a global bound: the listener holds at most
    ``prefetch`` unsettled deliveries however many queues it consumes.
    Quorum and stream queues refuse it (``540 NOT_IMPLEMENTED ... does not
    support global qos`` at ``basic.consume``), so a channel consuming any of
    them takes a per-consumer bound instead: each queue at most ``prefetch``.
    """
    return all(spec.arguments.get("x-queue-type", "classic") == "classic" for spec in specs)


def _effective_prefetch(server: int, option: int) -> int:
    """The smaller non-zero bound of the server's and the option's; 0 is no bound."""
    bounds = [b for b in (server, option) if b and b > 0]
    return min(bounds) if bounds else 0
