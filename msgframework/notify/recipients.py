"""Per-recipient notifications from log records, in the style of oioioi's NotificationHandler.

Application code logs as usual and tags the record with a notification type::

    log.info("submission %s judged", sub.id,
             extra={"notification": "submission_judged", "submission": sub})

A function registered for that type turns the record into notifications for
specific recipients::

    def submission_judged(record):
        send_notification(record.submission.user, "submission_judged",
                          "Your submission %(id)s was judged",   # untranslated
                          {"id": record.submission.id, "address": url, "popup": True})

    register_notification("submission_judged", submission_judged)
    logging.getLogger().addHandler(NotificationHandler(transport))

Each recipient has a durable queue of its own (topic
``<topic_prefix>.<recipient>``, priority ``info``); :class:`RecipientInbox`
reads it. The message is what oioioi's browser side expects: ``id``,
``date`` (epoch milliseconds), ``type``, ``message`` (a format string the
client translates, then interpolates with ``arguments``), ``arguments``,
and the optional ``address``, ``details`` and ``popup``.

Reliability, compared with oioioi:

* The handler never raises into the code that logged: a failing function
  or send goes through :meth:`logging.Handler.handleError` (which prints a
  traceback on stderr, or nothing with ``logging.raiseExceptions`` False)
  and is counted in :attr:`NotificationHandler.failures`.
* Sends go through the Notifier with the transport's safe defaults
  (persistent messages, publisher confirms on RabbitMQ) and a bounded retry,
  so a broker outage slows logging by at most the retry budget instead of
  hanging it.
* An unknown notification type is reported once (an error log line per
  type and handler), not on every record.
* **TTL and length limit, from the first message.** The handler sends
  with a :class:`~msgframework.drivers.base.QueuePolicy` (its ``ttl`` and
  ``max_length``), so the first notification to a recipient creates the
  recipient's queue bounded, whether or not anyone ever reads it; drivers
  declaring ``Capability.QUEUE_POLICY`` (memory, SQLite, RabbitMQ) then
  drop expired messages and the oldest beyond the limit as each one is
  stored. On RabbitMQ the bounds are queue arguments (``x-message-ttl``,
  ``x-max-length``, ``x-overflow=drop-head``), fixed when the queue is
  created: give the handler and :class:`RecipientInbox` the same limits
  (the defaults match), since a queue created with other bounds is used as
  it is, with one warning. Each message also carries ``expires`` (epoch
  milliseconds), and the inbox drops expired messages and keeps only the
  newest ``max_length`` when it drains the queue, which is all a driver
  without queue policies gets.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from msgframework.drivers.base import Capability, QueuePolicy
from msgframework.target import Target

__all__ = [
    "NotificationRegistry", "NotificationHandler", "RecipientInbox",
    "DEFAULT_REGISTRY", "DEFAULT_TOPIC_PREFIX", "register_notification",
    "send_notification", "recipient_key", "recipient_topic",
]

LOG = logging.getLogger(__name__)

DEFAULT_TOPIC_PREFIX = "notifications.recipient"
DEFAULT_TTL = 7 * 24 * 3600.0
DEFAULT_MAX_LENGTH = 100
_RECIPIENT = re.compile(r"^[\w@+=:.\-]{1,200}$")
_OPTIONAL_KEYS = ("address", "details", "popup")

NotificationFunction = Callable[[logging.LogRecord], Any]


class NotificationRegistry:
    """Maps notification types to the functions that handle their records."""

    def __init__(self) -> None:
        self._functions: dict[str, NotificationFunction] = {}
        self._lock = threading.Lock()

    def register(self, notification_type: str, fn: NotificationFunction) -> None:
        """Register ``fn`` for ``notification_type``; a second registration warns and wins."""
        if not isinstance(notification_type, str) or not notification_type:
            raise ValueError("a notification type must be a non-empty string")
        if not callable(fn):
            raise TypeError(f"the function for {notification_type!r} is not callable")
        with self._lock:
            previous = self._functions.get(notification_type)
            self._functions[notification_type] = fn
        if previous is not None and previous is not fn:
            warnings.warn(f"notification type {notification_type!r} was already registered "
                          f"(to {getattr(previous, '__qualname__', previous)!r}); replacing it",
                          RuntimeWarning, stacklevel=3)

    def unregister(self, notification_type: str) -> bool:
        with self._lock:
            return self._functions.pop(notification_type, None) is not None

    def get(self, notification_type: str) -> NotificationFunction | None:
        with self._lock:
            return self._functions.get(notification_type)

    def types(self) -> list[str]:
        with self._lock:
            return sorted(self._functions)


#: The registry handlers use unless given their own.
DEFAULT_REGISTRY = NotificationRegistry()

_current_handler: contextvars.ContextVar[NotificationHandler | None] = contextvars.ContextVar(
    "msgframework_notification_handler", default=None)


def register_notification(notification_type: str, fn: NotificationFunction,
                          registry: NotificationRegistry | None = None) -> None:
    """Register ``fn(record)`` for records logged with ``extra={"notification": type}``."""
    (registry or DEFAULT_REGISTRY).register(notification_type, fn)


def send_notification(recipient: Any, notification_type: str, message: str,
                      arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Send through the handler that is handling the current record.

    Meant for registered notification functions (which run inside
    :meth:`NotificationHandler.emit`); elsewhere call
    :meth:`NotificationHandler.send_notification` on a handler.
    """
    handler = _current_handler.get()
    if handler is None:
        raise RuntimeError("send_notification() outside a notification function: call "
                           "NotificationHandler.send_notification() on a handler instead")
    return handler.send_notification(recipient, notification_type, message, arguments)


def recipient_key(recipient: Any) -> str:
    """The string naming a recipient's queue: ``recipient.pk`` when it has one, else str().

    Only letters, digits and ``_ @ + = : . -`` are accepted: ``*`` and ``#``
    would be wildcards in an AMQP binding and could leak one recipient's
    notifications to another.
    """
    key = str(getattr(recipient, "pk", recipient))
    if not _RECIPIENT.match(key):
        raise ValueError(f"recipient {key!r} cannot name a queue: use 1-200 letters, digits "
                         "or '_@+=:.-'")
    return key


def recipient_topic(recipient: Any, topic_prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    """The topic a recipient's notifications are sent to."""
    return f"{topic_prefix}.{recipient_key(recipient)}"


def _has_policies(transport: Any) -> bool:
    """Whether the transport's driver bounds queues when messages are stored."""
    driver = getattr(transport, "driver", None)
    return Capability.QUEUE_POLICY in getattr(driver, "capabilities", ())


def _now_ms() -> int:
    return int(time.time() * 1000)


class NotificationHandler(logging.Handler):
    """A logging handler that turns typed records into per-recipient notifications.

    :param transport: a notification Transport, a transport URL, or None for
        the default notification transport (created on first send).
    :param registry: where notification functions are looked up
        (default :data:`DEFAULT_REGISTRY`).
    :param topic_prefix: recipients' topics are ``<topic_prefix>.<recipient>``.
    :param ttl: seconds a notification stays worth showing (None: forever);
        stamped into each message as ``expires`` and, as the queue's message
        TTL, dropped by the transport after that.
    :param max_length: most notifications a recipient's queue keeps
        unread; a newer one drops the oldest (None: no limit).
    :param publisher_id: the notifications' publisher id.
    :param retry: send retries before giving up (bounded: logging must not hang).
    :param load_modules: called once before the first record is handled
        (oioioi imports every app's ``notifications`` module lazily). Records
        of other threads wait until it has returned, so none is looked up in
        a half-filled registry; records it logs itself are handled right
        after it returns. If it raises, that is reported once (as a failure
        of the record that triggered it) and records go on.
    """

    def __init__(self, transport: Any = None, *, registry: NotificationRegistry | None = None,
                 topic_prefix: str = DEFAULT_TOPIC_PREFIX, ttl: float | None = DEFAULT_TTL,
                 max_length: int | None = DEFAULT_MAX_LENGTH,
                 publisher_id: str = "notifications", retry: int = 3,
                 load_modules: Callable[[], Any] | None = None,
                 level: int = logging.NOTSET) -> None:
        super().__init__(level)
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds or None")
        #: The bounds each recipient's queue is created with (checks max_length).
        self.queue_policy = QueuePolicy(message_ttl=ttl, max_length=max_length)
        self._transport = transport
        self._owns_transport = False
        self.registry = registry or DEFAULT_REGISTRY
        self.topic_prefix = topic_prefix
        self.ttl = ttl
        self.publisher_id = publisher_id
        self.retry = retry
        self._load_modules = load_modules
        # Set once load_modules() has *returned*: until then every record
        # waits on _load_lock, so none sees a half-filled registry.
        self._loaded = threading.Event()
        if load_modules is None:
            self._loaded.set()
        self._load_lock = threading.Lock()
        self._loader: int | None = None  # the thread running load_modules()
        self._deferred: list[logging.LogRecord] = []
        self._reported: set[str] = set()
        self._notifiers: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._send_lock = threading.Lock()
        self.sent = 0
        self.failures = 0

    # -- registration (oioioi names) ------------------------------------
    def register_notification(self, notification_type: str, fn: NotificationFunction) -> None:
        """Register ``fn`` in this handler's registry (warns when replacing)."""
        self.registry.register(notification_type, fn)

    # -- logging.Handler --------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        notification_type = getattr(record, "notification", None)
        if notification_type is None:
            return
        if not self._loaded.is_set():
            if self._loader == threading.get_ident():
                # Logged by load_modules() itself (a module logging at import):
                # handled once the loading is done, with the full registry.
                self._deferred.append(record)
                return
            self._load(record)
        self._dispatch(record, notification_type)

    def _load(self, record: logging.LogRecord) -> None:
        """Run load_modules() once; concurrent records wait until it has returned."""
        deferred: list[logging.LogRecord] = []
        with self._load_lock:
            if self._loaded.is_set():
                return
            self._loader = threading.get_ident()
            try:
                assert self._load_modules is not None
                self._load_modules()
            except Exception:
                self.failures += 1
                self.handleError(record)  # reported once; records go on without it
            finally:
                self._loader = None
                self._loaded.set()
                deferred, self._deferred = self._deferred, []
        for early in deferred:
            self._dispatch(early, getattr(early, "notification", None))

    def _dispatch(self, record: logging.LogRecord, notification_type: Any) -> None:
        try:
            fn = self.registry.get(str(notification_type))
            if fn is None:
                self._report_unknown(str(notification_type))
                return
            token = _current_handler.set(self)
            try:
                fn(record)
            finally:
                _current_handler.reset(token)
        except Exception:
            self.failures += 1
            self.handleError(record)

    def _report_unknown(self, notification_type: str) -> None:
        with self._send_lock:
            if notification_type in self._reported:
                return
            self._reported.add(notification_type)
        LOG.error("No function is registered for notification type %r; records of this "
                  "type are ignored (registered: %s)", notification_type,
                  ", ".join(self.registry.types()) or "none")

    # -- sending --------------------------------------------------------
    def build_message(self, recipient: Any, notification_type: str, message: str,
                      arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The notification dict for one recipient (what is sent as the payload)."""
        if not isinstance(message, str):
            raise TypeError(f"the notification message must be a string, "
                            f"not {type(message).__name__}")
        args = dict(arguments or {})
        now = _now_ms()
        body: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "date": now,
            "type": notification_type,
            "message": message,
            "recipient": recipient_key(recipient),
        }
        for key in _OPTIONAL_KEYS:
            if key in args:
                value = args.pop(key)
                body[key] = bool(value) if key == "popup" else value
        body["arguments"] = args
        if self.ttl is not None:
            body["expires"] = now + int(self.ttl * 1000)
        return body

    def send_notification(self, recipient: Any, notification_type: str, message: str,
                          arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one notification to ``recipient``'s queue; return the message sent.

        ``arguments`` interpolate ``message`` on the client; its keys
        ``address`` (a link), ``details`` (a short text) and ``popup``
        (open the notification in the UI) are moved to the top level.

        :raises MessageDeliveryFailure: the transport did not take it.
        """
        body = self.build_message(recipient, notification_type, message, arguments)
        notifier = self._notifier(body["recipient"])
        notifier.info({}, notification_type, body)
        self.sent += 1
        return body

    def _notifier(self, key: str) -> Any:
        from msgframework.notify.notifier import Notifier

        with self._send_lock:
            notifier = self._notifiers.get(key)
            if notifier is not None:
                self._notifiers.move_to_end(key)
                return notifier
            transport = self.transport
            notifier = Notifier(transport, self.publisher_id, driver="messagingv2",
                                retry=self.retry, topics=[f"{self.topic_prefix}.{key}"],
                                raise_on_send_failure=True,
                                queue_policy=self.queue_policy if _has_policies(transport)
                                else None)
            self._notifiers[key] = notifier
            if len(self._notifiers) > 256:
                self._notifiers.popitem(last=False)
            return notifier

    @property
    def transport(self) -> Any:
        """The transport, created on first use when the handler was given a URL or None."""
        if self._transport is None or isinstance(self._transport, str):
            from oslo_config import cfg

            from msgframework.transport import get_notification_transport

            self._transport = get_notification_transport(cfg.ConfigOpts(), self._transport)
            self._owns_transport = True
        return self._transport

    def close(self) -> None:
        try:
            if self._owns_transport and self._transport is not None:
                self._transport.cleanup()
        finally:
            super().close()


class RecipientInbox:
    """Reads one recipient's durable queue, enforcing the TTL and the length limit.

    :param transport: the notification Transport the handler sends on.
    :param recipient: the recipient (an object with ``pk``, or a string).
    :param max_length: keep only the newest this many (as RabbitMQ's
        ``x-max-length`` drop-head); None for no limit.
    :param ttl: also drop messages older than this many seconds, whatever
        their ``expires`` says; None to trust ``expires`` only.

    Both limits are asked of the transport as a queue policy when the inbox
    subscribes (its first :meth:`fetch`), as the handler asks when it sends,
    so drivers with queue policies enforce them as messages are stored
    (:attr:`limits_on_store` is then True); they are applied again when the
    queue is drained. The defaults are the handler's: on RabbitMQ, where
    the first declaration fixes a queue's bounds, both sides must agree.
    """

    def __init__(self, transport: Any, recipient: Any, *,
                 topic_prefix: str = DEFAULT_TOPIC_PREFIX,
                 max_length: int | None = DEFAULT_MAX_LENGTH,
                 ttl: float | None = DEFAULT_TTL) -> None:
        if max_length is not None and max_length < 1:
            raise ValueError("max_length must be a positive integer or None")
        self.transport = transport
        self.recipient = recipient_key(recipient)
        self.topic = f"{topic_prefix}.{self.recipient}"
        self.max_length = max_length
        self.ttl = ttl
        self._policy = QueuePolicy(message_ttl=ttl, max_length=max_length)  # checks ttl
        self.dropped_expired = 0
        self.dropped_overflow = 0
        #: Whether the transport enforces the limits when messages are stored.
        self.limits_on_store = False
        self._listener: Any = None

    def _subscription(self) -> Any:
        if self._listener is None:
            targets = [(Target(topic=self.topic), "info")]
            policy = self._policy
            if policy and _has_policies(self.transport):
                self._listener = self.transport._listen_for_notifications(
                    targets, queue_policy=policy)
                self.limits_on_store = True
            else:  # enforced when drained only
                self._listener = self.transport._listen_for_notifications(targets)
        return self._listener

    def _expired(self, body: Any, now_ms: int) -> bool:
        if not isinstance(body, Mapping):
            return False
        expires = body.get("expires")
        if isinstance(expires, (int, float)) and expires <= now_ms:
            return True
        date = body.get("date")
        return (self.ttl is not None and isinstance(date, (int, float))
                and date + self.ttl * 1000 <= now_ms)

    def fetch(self, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Drain the queue: wait up to ``timeout`` for a first message, take the rest.

        Returns the live notifications, oldest first; every message taken is
        acknowledged, including the dropped ones. "The rest" is what has
        reached this process: on a broker, messages still on their way to
        the inbox's consumer come with the next fetch.
        """
        listener = self._subscription()
        kept: collections.deque[dict[str, Any]] = collections.deque()
        wait = timeout
        while True:
            batch = listener.poll(timeout=wait, batch_size=100, batch_timeout=0)
            if not batch:
                break
            wait = 0.0
            now = _now_ms()
            for incoming in batch:
                body = incoming.message.get("payload")
                if self._expired(body, now):
                    self.dropped_expired += 1
                elif isinstance(body, dict):
                    kept.append(body)
                    if self.max_length is not None and len(kept) > self.max_length:
                        kept.popleft()
                        self.dropped_overflow += 1
                incoming.acknowledge()
        return list(kept)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener.cleanup()
            self._listener = None
