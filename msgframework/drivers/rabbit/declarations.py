"""Exchanges and queues: oslo.messaging's topology, and declaring it safely.

Names and flags are oslo.messaging's (research section 9.5), so our
services and oslo ones share queues without a 406:

==================  ==========================  ===========================  ===============
What                Exchange (type)             Queue                        Binding key
==================  ==========================  ===========================  ===============
RPC topic           ``<exchange>`` (topic)      ``<topic>``                  ``<topic>``
RPC server          ``<exchange>`` (topic)      ``<topic>.<server>``         same as queue
RPC fanout          ``<topic>_fanout`` (fanout) ``<topic>_fanout_<hex>``     ``<topic>``
RPC reply           default ``''``              ``reply_<hex>``              the queue name
Notification        ``<exchange>`` (topic)      ``<topic>.<priority>``       same as queue
Notification pool   ``<exchange>`` (topic)      ``<pool>``                   ``<topic>.<priority>``
Dead letters        ``<exchange>.dlx`` (topic)  ``<exchange>.dlq``           ``#``
==================  ==========================  ===========================  ===============

``<exchange>`` is the target's exchange or the control exchange. Fanout
and reply queues expire (``x-expires``) after ``rabbit_transient_queues_ttl``
unused; the dead-letter exchange and queue are ours (oslo has none) and
always durable.

A queue policy (:class:`~msgframework.drivers.base.QueuePolicy`) asked for
by a notification listener or sender becomes arguments of the queue it
declares (``x-message-ttl``, ``x-max-length``, ``x-overflow=drop-head``);
RabbitMQ fixes them when the queue is created.

A queue or exchange that already exists with other arguments (declared by
another library, an older configuration, or another queue policy) makes the
broker answer 406 PRECONDITION_FAILED: we then check it exists (passive
declare), use it as it is, and warn once per name instead of failing or
looping.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from typing import Any

from msgframework.drivers.base import QueuePolicy
from msgframework.drivers.rabbit.errors import is_precondition_failed
from msgframework.drivers.rabbit.settings import RabbitSettings

__all__ = ["ExchangeSpec", "QueueSpec", "Topology", "declare", "declare_exchange"]

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ExchangeSpec:
    name: str
    type: str = "topic"
    durable: bool = False
    auto_delete: bool = False


@dataclasses.dataclass(frozen=True)
class QueueSpec:
    """A queue, the exchange it is bound to and how."""

    name: str
    exchange: ExchangeSpec
    routing_key: str
    durable: bool = False
    auto_delete: bool = False
    arguments: dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)


DEFAULT_EXCHANGE = ExchangeSpec("", "direct")


class Topology:
    """Builds the specs of every entity from the settings (section 9.5 of the research)."""

    def __init__(self, settings: RabbitSettings, control_exchange: str) -> None:
        self._s = settings
        self.control_exchange = control_exchange

    # -- arguments -------------------------------------------------------
    def _shared_args(self) -> dict[str, Any]:
        s = self._s
        args: dict[str, Any] = {}
        if s.ha_queues:
            args["x-ha-policy"] = "all"
        if s.quorum_queue:
            args.update(self._quorum_args())
        return args

    def _quorum_args(self) -> dict[str, Any]:
        s = self._s
        args: dict[str, Any] = {"x-queue-type": "quorum"}
        if s.quorum_delivery_limit:
            args["x-delivery-limit"] = s.quorum_delivery_limit
        if s.quorum_max_memory_length:
            args["x-max-in-memory-length"] = s.quorum_max_memory_length
        if s.quorum_max_memory_bytes:
            args["x-max-in-memory-bytes"] = s.quorum_max_memory_bytes
        return args

    def _transient_args(self) -> dict[str, Any]:
        s = self._s
        args: dict[str, Any] = {}
        if s.ha_queues:
            args["x-ha-policy"] = "all"
        if s.transient_quorum_queue:
            args.update(self._quorum_args())
        if s.transient_queues_ttl > 0:
            args["x-expires"] = s.transient_queues_ttl * 1000
        return args

    # -- exchanges -------------------------------------------------------
    def exchange(self, name: str | None) -> ExchangeSpec:
        """The control exchange (or a target's own exchange)."""
        return ExchangeSpec(name or self.control_exchange, "topic",
                            self._s.durable, self._s.auto_delete)

    def fanout_exchange(self, topic: str) -> ExchangeSpec:
        return ExchangeSpec(f"{topic}_fanout", "fanout",
                            self._s.transient_quorum_queue, True)

    def dead_letter_exchange(self, exchange: str | None) -> ExchangeSpec:
        name = self._s.dead_letter_exchange or f"{exchange or self.control_exchange}.dlx"
        return ExchangeSpec(name, "topic", True, False)

    # -- queues ------------------------------------------------------------
    def _shared_queue(self, name: str, exchange: str | None, key: str) -> QueueSpec:
        s = self._s
        # a quorum queue cannot be auto-delete: the broker refuses it (406)
        return QueueSpec(name, self.exchange(exchange), key, s.durable,
                         s.auto_delete and not s.quorum_queue, self._shared_args())

    def rpc_topic(self, exchange: str | None, topic: str) -> QueueSpec:
        return self._shared_queue(topic, exchange, topic)

    def rpc_server(self, exchange: str | None, topic: str, server: str) -> QueueSpec:
        name = f"{topic}.{server}"
        return self._shared_queue(name, exchange, name)

    def rpc_fanout(self, topic: str) -> QueueSpec:
        return QueueSpec(f"{topic}_fanout_{uuid.uuid4().hex}", self.fanout_exchange(topic),
                         topic, self._s.transient_quorum_queue, False, self._transient_args())

    def reply(self) -> QueueSpec:
        name = f"reply_{uuid.uuid4().hex}"
        return QueueSpec(name, DEFAULT_EXCHANGE, name, self._s.transient_quorum_queue,
                         False, self._transient_args())

    def notification(self, exchange: str | None, topic: str, pool: str | None = None,
                     policy: QueuePolicy | None = None) -> QueueSpec:
        """``topic`` is ``<topic>.<priority>``; a pool's queue is named by the pool.

        A ``policy`` becomes queue arguments: ``x-message-ttl`` (ms),
        ``x-max-length`` with ``x-overflow=drop-head``.
        """
        spec = self._shared_queue(pool or topic, exchange, topic)
        if not policy:
            return spec
        args = dict(spec.arguments)
        if policy.message_ttl is not None:
            args["x-message-ttl"] = max(1, round(policy.message_ttl * 1000))
        if policy.max_length is not None:
            args["x-max-length"] = policy.max_length
            args["x-overflow"] = "drop-head"
        return dataclasses.replace(spec, arguments=args)

    def dead_letter_queue(self, exchange: str | None) -> QueueSpec:
        dlx = self.dead_letter_exchange(exchange)
        base = dlx.name[:-4] if dlx.name.endswith(".dlx") else dlx.name
        return QueueSpec(f"{base}.dlq", dlx, "#", True, False, {})


class _WarnOnce:
    """Remember which names we already warned about (process-wide, thread-safe)."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, kind: str, name: str, exc: BaseException) -> None:
        with self._lock:
            if (kind, name) in self._seen:
                return
            self._seen.add((kind, name))
        LOG.warning("The %s %r already exists with other arguments than ours (%s); "
                    "using it as it is", kind, name, exc)


_warn_once = _WarnOnce()


class _Channel:
    """A throw-away channel for declarations: a 406 closes it, so we open another."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.channel = conn.channel()

    def renew(self) -> Any:
        self.close()
        self.channel = self._conn.channel()
        return self.channel

    def close(self) -> None:
        try:
            self.channel.close()
        except Exception:
            LOG.debug("Closing a declaration channel failed", exc_info=True)


def _exchange(chan: _Channel, spec: ExchangeSpec) -> None:
    if not spec.name:
        return  # the default exchange always exists and cannot be declared
    try:
        chan.channel.exchange_declare(exchange=spec.name, type=spec.type,
                                      durable=spec.durable, auto_delete=spec.auto_delete)
    except Exception as exc:
        if not is_precondition_failed(exc):
            raise
        chan.renew().exchange_declare(exchange=spec.name, type=spec.type, passive=True)
        _warn_once("exchange", spec.name, exc)


def declare_exchange(conn: Any, spec: ExchangeSpec) -> None:
    """Declare one exchange on a connection (used by publishers before sending)."""
    chan = _Channel(conn)
    try:
        _exchange(chan, spec)
    finally:
        chan.close()


def declare(conn: Any, specs: list[QueueSpec]) -> None:
    """Declare exchanges, queues and bindings of ``specs`` on ``conn``.

    Raises kombu/py-amqp errors other than 406 (the caller translates them);
    a 406 on a queue or an exchange means "use the existing one".
    """
    chan = _Channel(conn)
    try:
        for spec in specs:
            _exchange(chan, spec.exchange)
            try:
                chan.channel.queue_declare(queue=spec.name, durable=spec.durable,
                                           auto_delete=spec.auto_delete,
                                           arguments=dict(spec.arguments) or None)
            except Exception as exc:
                if not is_precondition_failed(exc):
                    raise
                chan.renew().queue_declare(queue=spec.name, passive=True)
                _warn_once("queue", spec.name, exc)
            if spec.exchange.name:
                chan.channel.queue_bind(queue=spec.name, exchange=spec.exchange.name,
                                        routing_key=spec.routing_key)
    finally:
        chan.close()
