"""Publishing: one connection with pipelined publisher confirms.

Every message goes out on a channel in confirm mode, and every message ends
in exactly one of two ways: the broker confirms it (``basic.ack``), or its
:class:`Confirmation` fails with a typed error:

* :class:`ConfirmTimeout` when no confirm came within ``confirm_timeout``
  (the message may or may not be stored, so it is not sent again);
* :class:`MessageUndeliverable` when a ``mandatory`` message could not be
  routed to any queue (the broker returned it), or its exchange is gone;
* :class:`MessageDeliveryFailure` when the connection failed more often
  than the message's ``retry`` allows, or the transport shut down first.

What changes from one synchronous confirm per publish is *who waits*.
Writing a message does not wait for its confirm: confirms are read by the
connection's own I/O thread, which completes each message's
:class:`Confirmation` (several at once when the broker acks with
``multiple``). A caller that needs the outcome waits on it
(``publish(wait=True)``, the default); a caller that does not (an RPC call
waits for the reply instead, pipelined notifications and casts) goes on at
once, and the outcome reaches it later (see ``detached`` below). So many
messages can be in flight on one channel, from one thread or many, and the
rate is no longer bounded by one broker round trip per message.

Who writes: on plain TCP the calling thread writes its frames itself,
under a lock that also assigns the channel's delivery tags in order; the
I/O thread only reads (``select`` on the socket, then blocking reads, so it
never changes the socket's timeout under a writer). TLS connections are
not safe for a read and a write at once from two threads, so there the
I/O thread does all the writing too and callers hand messages to it.

Connection loss: messages written but not confirmed are written again on
the next connection (the broker may then hold two copies: consumers must
tolerate duplicates, which at-least-once delivery implies anyway).
Messages that could not be written yet wait for the reconnection. Each
failed pass over the hosts counts as one attempt against a waiting
message's ``retry``, and so does each loss of a connection the message was
in flight on, so ``retry=0`` fails fast while the broker is down and
``retry=None`` waits for it. Two failures are forgiven, because they are
the connection's, not the message's: the first loss a message sees while
in flight (it may have been written into a socket that was already dead),
and the first failed pass right after a working connection was lost (a
reconnection racing the failure).

The connection is heartbeated by its I/O thread, so no application work
can starve it.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import kombu
from kombu.compression import compress

from msgframework.drivers.rabbit.connection import Backoff, BrokerConnection, HostList
from msgframework.drivers.rabbit.declarations import (
    ExchangeSpec,
    QueueSpec,
    declare,
    declare_exchange,
)
from msgframework.drivers.rabbit.errors import is_connection_error, is_not_found, translate
from msgframework.drivers.rabbit.frames import BufferedReads, encode_publish, read_one_frame
from msgframework.drivers.rabbit.settings import RabbitSettings
from msgframework.exceptions import (
    BrokerUnavailable,
    ConfirmTimeout,
    EarlierSendFailed,
    MessageDeliveryFailure,
    MessageUndeliverable,
    MessagingException,
)

__all__ = ["Publisher", "Confirmation", "CONTENT_TYPE", "PERSISTENT"]

LOG = logging.getLogger(__name__)

CONTENT_TYPE = "application/json"
PERSISTENT = 2
_READ_BURST = 512  # frames read before the I/O thread looks at its other duties
_FAILURES_KEPT = 100


class Confirmation:
    """The outcome of one publish: confirmed, or failed with :attr:`error`."""

    __slots__ = ("exchange", "routing_key", "body", "headers", "properties", "mandatory",
                 "declare_queue", "retry", "attempts", "forgiven", "deadline", "returned",
                 "done", "error", "detached", "on_failure", "_waiter")

    def __init__(self, exchange: ExchangeSpec, routing_key: str, body: bytes,
                 headers: dict[str, Any], properties: dict[str, Any], mandatory: bool,
                 declare_queue: QueueSpec | None, retry: int | None, detached: str | None,
                 on_failure: Callable[[BaseException], None] | None) -> None:
        self.exchange = exchange
        self.routing_key = routing_key
        self.body = body
        self.headers = headers
        self.properties = properties
        self.mandatory = mandatory
        self.declare_queue = declare_queue
        self.retry = retry
        self.attempts = 0
        self.forgiven = False
        self.deadline = 0.0
        self.returned: BaseException | None = None
        self.done = False
        self.error: BaseException | None = None
        self.detached = detached
        self.on_failure = on_failure
        self._waiter: Any = None

    def describe(self) -> str:
        return f"exchange {self.exchange.name!r}, routing key {self.routing_key!r}"

    def over_budget(self) -> bool:
        return self.retry is not None and self.retry >= 0 and self.attempts > self.retry


class Publisher:
    """Publishes with confirms over one pipelined connection (thread-safe)."""

    def __init__(self, hosts: HostList, settings: RabbitSettings,
                 closing: threading.Event) -> None:
        self._s = settings
        self._closing = closing
        self._bconn = BrokerConnection(hosts, settings, "send", closing, confirm_publish=False)
        self._memory = self._bconn.is_memory
        self._direct = not self._memory and not settings.ssl
        self._backoff = Backoff(settings)
        self._closed = False
        self._producer: kombu.Producer | None = None  # kombu's memory transport only
        self._reset()
        # A forked child starts afresh: the parent's thread, socket, locks
        # (maybe held at the fork) and messages in flight are not its own.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))

    def _reset(self) -> None:
        # One lock for the state below and for writing to the channel, so that
        # delivery tags are assigned in the order the frames go out.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # a message settled
        self._inflight: dict[int, Confirmation] = {}     # by delivery tag, in order
        self._backlog: collections.deque[Confirmation] = collections.deque()
        self._channel: Any = None
        self._next_tag = 1
        self._healthy = False
        self._just_lost = False  # a working connection failed; no pass failed since
        self._declared: set[Any] = set()
        self._detached_pending: collections.Counter[str] = collections.Counter()
        self._failures: dict[str, list[Confirmation]] = collections.defaultdict(list)
        self._thread: threading.Thread | None = None
        self._sleep_until = 0.0  # when the I/O thread's current wait ends
        self._reads: BufferedReads | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def __repr__(self) -> str:
        return f"<Publisher {self._bconn.describe()} in flight={len(self._inflight)}>"

    # -- the API ---------------------------------------------------------------
    def publish(self, exchange: ExchangeSpec, routing_key: str, body: str, *,
                mandatory: bool = False, expiration: float | None = None,
                retry: int | None = None, headers: dict[str, Any] | None = None,
                declare_queue: QueueSpec | None = None, wait: bool = True,
                detached: str | None = None,
                on_failure: Callable[[BaseException], None] | None = None) -> Confirmation:
        """Publish ``body`` (JSON text) persistently.

        ``retry``: None/-1 forever, 0 once, N up to N more attempts after a
        connection failure. ``declare_queue`` is declared (once per
        connection) before publishing, so a notification is kept even when
        nobody listens yet.

        ``wait`` (default): return once the broker confirmed the message,
        or raise. Otherwise return its :class:`Confirmation` at once;
        ``on_failure`` is called (in the I/O thread) if it fails.

        ``detached`` (with ``wait=False``) names a kind of fire-and-forget
        traffic (``"notification"``, ``"cast"``): at most
        ``confirm_window`` messages of that kind await their confirm at
        once (this call blocks while the window is full), and a failure is
        logged when it happens, then raised as :class:`EarlierSendFailed`
        by the next ``detached`` publish of the same kind (after that
        publish's own message went out) or by :meth:`flush`: never silent.
        """
        props: dict[str, Any] = {"delivery_mode": PERSISTENT}
        if expiration is not None:
            props["expiration"] = str(int(expiration * 1000))
        headers = dict(headers or {})
        data = body.encode("utf-8")
        if self._s.compression:
            data, headers["compression"] = compress(data, self._s.compression)
        rec = Confirmation(exchange, routing_key, data, headers, props, mandatory,
                           declare_queue, retry, detached if not wait else None, on_failure)
        if self._memory:
            self._publish_memory(rec)
        else:
            self._submit(rec)
        if wait:
            self.wait(rec)
        elif detached is not None:
            self.raise_failures(detached)
        return rec

    def wait(self, rec: Confirmation, timeout: float | None = None) -> None:
        """Block until ``rec`` is settled; raise its error if it failed."""
        with self._lock:
            if not rec.done:
                waiter = threading.Lock()
                waiter.acquire()
                rec._waiter = waiter
            else:
                waiter = None
        if waiter is not None:
            # The I/O thread enforces confirm_timeout; this bound is a safety net.
            bound = timeout if timeout is not None else (
                self._s.confirm_timeout + self._s.connect_timeout + 5.0
                if rec.retry is not None and rec.retry >= 0 else None)
            if not waiter.acquire(timeout=-1 if bound is None else bound):
                raise ConfirmTimeout(f"no outcome for the message to {rec.describe()} "
                                     f"within {bound:.1f}s; it may or may not be stored")
        if rec.error is not None:
            raise rec.error

    def raise_failures(self, kind: str) -> None:
        """Raise (once) the failures of earlier ``detached`` publishes of ``kind``."""
        with self._lock:
            failed = self._failures.pop(kind, None)
        if failed:
            first = failed[0].error
            assert first is not None
            raise EarlierSendFailed(
                f"{len(failed)} {kind}(s) sent without waiting for the broker's confirm "
                f"failed (first: {failed[0].describe()}: {first})",
                [(rec.routing_key, rec.error) for rec in failed if rec.error]) from first

    def flush(self, timeout: float | None = None, kind: str | None = None) -> bool:
        """Wait until every ``detached`` message (of ``kind``, or all) is settled.

        Raises the failures among them; returns False if ``timeout`` passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while (self._detached_pending[kind] if kind else
                   sum(self._detached_pending.values())):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
            kinds = [kind] if kind else list(self._failures)
        for name in kinds:
            self.raise_failures(name)
        return True

    def close(self) -> None:
        """Settle what is in flight (bounded by ``confirm_timeout``), then disconnect."""
        try:
            self.flush(self._s.confirm_timeout)
        except MessagingException:
            pass  # flush raised what failed; it was logged when it failed
        with self._lock:
            self._closed = True
            leftovers = list(self._inflight.values()) + list(self._backlog)
            self._inflight.clear()
            self._backlog.clear()
            for rec in leftovers:
                self._fail(rec, MessageDeliveryFailure(
                    f"the transport shut down before the broker confirmed the message to "
                    f"{rec.describe()}"))
        self._wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self._s.connect_timeout + 2.0)
        if self._memory:
            with self._lock:
                self._bconn.close(graceful=True)
        for sock in (self._wake_r, self._wake_w):
            sock.close()

    # -- submitting (any thread) -----------------------------------------------
    def _submit(self, rec: Confirmation) -> None:
        wake = False
        with self._lock:
            self._start()
            if self._closed or self._closing.is_set():
                raise MessageDeliveryFailure(
                    f"cannot publish to {rec.describe()}: the transport is shut down")
            if rec.detached is not None:
                window = self._s.confirm_window
                while self._detached_pending[rec.detached] >= window and not self._closed:
                    self._changed.wait(1.0)
                self._detached_pending[rec.detached] += 1
            if (self._direct and self._healthy and not self._backlog
                    and self._is_declared(rec)):
                self._write(rec)
            else:
                self._backlog.append(rec)
                wake = True
        if wake:
            self._wake()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="msgframework-rabbit-publisher")
            self._thread.start()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # -- writing (lock held) ---------------------------------------------------
    def _is_declared(self, rec: Confirmation) -> bool:
        return ((not rec.exchange.name or rec.exchange in self._declared)
                and (rec.declare_queue is None or rec.declare_queue in self._declared))

    def _write(self, rec: Confirmation) -> None:
        """Write one message on the healthy channel; on a broken connection requeue it."""
        tag = self._next_tag
        channel = self._channel
        try:
            data = encode_publish(channel.channel_id, channel.connection.frame_max,
                                  rec.exchange.name, rec.routing_key, rec.mandatory, rec.body,
                                  CONTENT_TYPE, "utf-8", rec.headers, PERSISTENT,
                                  rec.properties.get("expiration"))
        except ValueError as exc:  # a name too long for AMQP
            self._fail(rec, MessageDeliveryFailure(f"cannot publish to {rec.describe()}: {exc}"))
            return
        except AttributeError as exc:  # the channel lost its connection
            self._backlog.appendleft(rec)
            self._broken(exc)
            return
        try:
            # Our own frames (frames.py), written as one chunk: not py-amqp's
            # basic_publish(), which reads the socket first (to see
            # connection.blocked), and that must stay the I/O thread's job.
            channel.connection.transport.write(data)
            channel.connection.bytes_sent += 1  # py-amqp's heartbeat bookkeeping
        except Exception as exc:
            if is_connection_error(exc):
                self._backlog.appendleft(rec)
                self._broken(exc)
                return
            self._fail(rec, translate(exc, f"publishing to {rec.describe()}",
                                      self._bconn.describe()))
            return
        self._next_tag = tag + 1
        rec.deadline = time.monotonic() + self._s.confirm_timeout
        self._inflight[tag] = rec
        if rec.deadline < self._sleep_until:
            self._wake()  # the I/O thread would check this confirm's deadline too late

    def _broken(self, exc: BaseException) -> None:
        """The connection failed: what was in flight goes back to the backlog."""
        if not self._healthy:
            return
        self._healthy = False
        self._just_lost = True
        inflight = list(self._inflight.values())
        self._inflight.clear()
        for rec in reversed(inflight):
            if rec.forgiven:
                rec.attempts += 1
            rec.forgiven = True
            rec.returned = None
            if rec.over_budget():
                self._fail(rec, MessageDeliveryFailure(
                    f"cannot publish to {rec.describe()} after {rec.attempts} attempt(s): "
                    f"{exc}"), cause=exc)
            else:
                self._backlog.appendleft(rec)
        LOG.warning("Send connection to %s lost (%s); %d message(s) will be sent again",
                    self._bconn.describe(), exc, len(self._backlog))
        self._wake()

    # -- settling (lock held) --------------------------------------------------
    def _settle(self, rec: Confirmation) -> None:
        rec.done = True
        if rec.detached is not None:
            self._detached_pending[rec.detached] -= 1
        waiter, rec._waiter = rec._waiter, None
        if waiter is not None:
            waiter.release()
        self._changed.notify_all()

    def _fail(self, rec: Confirmation, error: BaseException,
              cause: BaseException | None = None) -> None:
        if rec.done:
            return
        if cause is not None and cause is not error and error.__cause__ is None:
            error.__cause__ = cause
        rec.error = error
        if rec.detached is not None:
            LOG.error("A %s sent without waiting was not delivered (%s): %s",
                      rec.detached, rec.describe(), error)
            kept = self._failures[rec.detached]
            if len(kept) < _FAILURES_KEPT:
                kept.append(rec)
        self._settle(rec)
        if rec.on_failure is not None:
            try:
                rec.on_failure(error)
            except Exception:
                LOG.exception("A publish failure callback failed")

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        with self._lock:
            for rec in self._pop(delivery_tag, multiple):
                if rec.returned is not None:
                    self._fail(rec, MessageUndeliverable(
                        rec.returned, rec.exchange.name, rec.routing_key, rec.body))
                else:
                    self._settle(rec)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        with self._lock:
            for rec in self._pop(delivery_tag, multiple):
                rec.attempts += 1  # refused, not stored: sending again cannot duplicate it
                if rec.over_budget():
                    self._fail(rec, MessageDeliveryFailure(
                        f"the broker refused the message to {rec.describe()} "
                        f"{rec.attempts} time(s)"))
                else:
                    LOG.warning("The broker refused the message to %s; sending it again",
                                rec.describe())
                    self._backlog.append(rec)
        self._wake()

    def _on_return(self, exc: Any, exchange: str, routing_key: str, message: Any) -> None:
        # A return precedes the message's ack: mark the oldest matching one.
        with self._lock:
            for rec in self._inflight.values():
                if (rec.mandatory and rec.returned is None and rec.exchange.name == exchange
                        and rec.routing_key == routing_key):
                    rec.returned = exc
                    return

    def _pop(self, delivery_tag: int, multiple: bool) -> list[Confirmation]:
        if not multiple:
            rec = self._inflight.pop(delivery_tag, None)
            return [rec] if rec is not None else []
        popped = []
        for tag in list(self._inflight):
            if tag > delivery_tag:
                break
            popped.append(self._inflight.pop(tag))
        return popped

    def _expire(self) -> float | None:
        """Fail messages past their confirm deadline; seconds until the next one.

        A missing confirm makes the connection suspect (a silent network, a
        stuck broker): it is dropped, and what else was in flight goes out
        again on a new one.
        """
        now = time.monotonic()
        with self._lock:
            expired = False
            while self._inflight:
                tag, rec = next(iter(self._inflight.items()))
                if rec.deadline > now:
                    break
                del self._inflight[tag]
                expired = True
                self._fail(rec, ConfirmTimeout(
                    f"broker did not confirm the message to {rec.describe()} within "
                    f"{self._s.confirm_timeout}s; it may or may not be stored"))
            if expired:
                error = ConfirmTimeout(f"confirms stopped on {self._bconn.describe()}")
                self._broken(error)
                self._bconn.lost(error)
                return None
            if self._inflight:
                return next(iter(self._inflight.values())).deadline - now
        return None

    # -- the I/O thread --------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stopping():
            try:
                if not self._healthy:
                    self._connect()
                    failures = 0
                self._write_backlog()
                self._read(self._expire())
                with self._lock:
                    self._bconn.heartbeat_check()
            except BrokerUnavailable as exc:  # a whole pass over the hosts failed
                failures += 1
                self._count_failed_pass(exc)
                if failures == 1 or failures % 10 == 0:
                    LOG.error("Cannot connect to send (%s); %d message(s) waiting", exc,
                              len(self._backlog))
                self._closing.wait(self._backoff.delay(failures))
            except Exception as exc:
                if is_connection_error(exc):
                    with self._lock:
                        self._broken(exc)
                        self._bconn.lost(exc)
                else:
                    LOG.exception("The publisher's I/O thread failed; reconnecting")
                    with self._lock:
                        self._broken(exc)
                        self._bconn.close()
                    self._closing.wait(self._s.reconnect_delay or 0.1)
        with self._lock:
            self._bconn.close(graceful=True)

    def _stopping(self) -> bool:
        with self._lock:
            return ((self._closed or self._closing.is_set())
                    and not self._inflight and not self._backlog)

    def _connect(self) -> None:
        conn = self._bconn.ensure_connected(0)  # one pass; _run backs off between passes
        channel = conn.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._reads = BufferedReads(conn.connection) if self._direct else None
        with self._lock:
            self._channel = channel
            self._next_tag = 1
            self._declared.clear()
            self._healthy = True
            self._just_lost = False

    def _count_failed_pass(self, exc: BaseException) -> None:
        """A whole pass over the hosts failed: one attempt for every waiting message."""
        with self._lock:
            if self._just_lost and not self._closing.is_set():
                self._just_lost = False
                return
            keep: collections.deque[Confirmation] = collections.deque()
            for rec in self._backlog:
                rec.attempts += 1
                if rec.over_budget() or self._closing.is_set():
                    self._fail(rec, MessageDeliveryFailure(
                        f"cannot publish to {rec.describe()}: {exc}"), cause=exc)
                else:
                    keep.append(rec)
            self._backlog = keep

    def _write_backlog(self) -> None:
        while True:
            with self._lock:
                if not self._backlog or not self._healthy:
                    return
                rec = self._backlog[0]
                if not self._is_declared(rec):
                    try:
                        self._declare_for(rec)
                    except Exception as exc:
                        if is_connection_error(exc):
                            raise
                        self._backlog.popleft()
                        self._fail_declare(rec, exc)
                        continue
                self._backlog.popleft()
                self._write(rec)

    def _declare_for(self, rec: Confirmation) -> None:
        conn = self._bconn.conn
        if rec.exchange.name and rec.exchange not in self._declared:
            declare_exchange(conn, rec.exchange)
            self._declared.add(rec.exchange)
        if rec.declare_queue is not None and rec.declare_queue not in self._declared:
            declare(conn, [rec.declare_queue])
            self._declared.add(rec.declare_queue)

    def _fail_declare(self, rec: Confirmation, exc: BaseException) -> None:
        if is_not_found(exc):
            error: BaseException = MessageUndeliverable(exc, rec.exchange.name,
                                                        rec.routing_key, rec.body)
        else:
            error = translate(exc, f"declaring for {rec.describe()}", self._bconn.describe())
        self._fail(rec, error, cause=exc)

    def _read(self, until_deadline: float | None) -> None:
        """Read what the broker sent (confirms, returns, heartbeats); bounded wait."""
        timeout = self._s.heartbeat_interval
        if until_deadline is not None:
            timeout = min(timeout, until_deadline + 0.001)
        with self._lock:
            if self._backlog and self._healthy:
                timeout = 0.0
        conn = self._bconn.conn
        sock = self._bconn.sock()
        if conn is None or sock is None:
            return
        reads = self._reads
        if reads is not None and reads.pending():
            timeout = 0.0  # bytes already read from the socket wait to be parsed
        if not self._direct and getattr(sock, "pending", lambda: 0)():
            timeout = 0.0  # TLS holds decrypted bytes that select() cannot see
        self._sleep_until = time.monotonic() + timeout
        readable, _, _ = select.select([sock, self._wake_r], [], [], timeout)
        self._sleep_until = 0.0
        if self._wake_r in readable:
            with contextlib.suppress(OSError):
                while self._wake_r.recv(512):
                    pass
        if sock not in readable and not (reads is not None and reads.pending()) and not (
                not self._direct and sock.pending()):
            return
        amqp_conn = conn.connection
        for _ in range(_READ_BURST):
            try:
                if self._direct:
                    # One frame, blocking: the socket's timeout is never changed
                    # under a writer. Not drain_events(), which reads on until a
                    # whole method arrived, blocking through heartbeat frames.
                    read_one_frame(amqp_conn)
                else:  # TLS: this thread is the only user of the socket
                    amqp_conn.blocking_read(0.001)
            except TimeoutError:
                return
            if reads is not None and reads.pending():
                continue
            more, _, _ = select.select([sock], [], [], 0)
            if not more and not (not self._direct and sock.pending()):
                return

    # -- kombu's in-memory transport (tests) -----------------------------------
    def _publish_memory(self, rec: Confirmation) -> None:
        """Synchronous: the in-memory transport stores at once and never confirms."""
        with self._lock:
            if self._closed or self._closing.is_set():
                raise MessageDeliveryFailure(
                    f"cannot publish to {rec.describe()}: the transport is shut down")
            if rec.detached is not None:
                self._detached_pending[rec.detached] += 1  # settled below, at once
            try:
                conn = self._bconn.ensure_connected(rec.retry)
                if self._producer is None:
                    self._producer = kombu.Producer(conn.channel(), auto_declare=False)
                if not self._is_declared(rec):
                    self._declare_for(rec)
                if rec.mandatory and not _memory_routable(
                        self._producer.channel, rec.exchange.name, rec.routing_key):
                    raise MessageUndeliverable(None, rec.exchange.name, rec.routing_key,
                                               rec.body)
                expiration = rec.properties.get("expiration")
                self._producer.publish(
                    rec.body, routing_key=rec.routing_key, exchange=rec.exchange.name,
                    content_type=CONTENT_TYPE, content_encoding="utf-8",
                    headers=rec.headers, retry=False, delivery_mode=PERSISTENT,
                    expiration=int(expiration) / 1000.0 if expiration else None)
            except MessagingException as exc:
                self._fail(rec, exc)
            except Exception as exc:
                self._fail(rec, translate(exc, f"publishing to {rec.describe()}",
                                          self._bconn.describe()), cause=exc)
            else:
                self._settle(rec)


def _reset_in_child(ref: weakref.ref[Publisher]) -> None:
    publisher = ref()
    if publisher is not None:
        publisher._reset()  # the connection itself reconnects: BrokerConnection sees the pid


def _memory_routable(channel: Any, exchange: str, routing_key: str) -> bool:
    """Emulate ``mandatory`` on kombu's in-memory transport, which never returns."""
    if not exchange:
        return bool(channel._has_queue(routing_key))
    try:
        return bool(channel._lookup(exchange, routing_key))
    except Exception:
        return False
