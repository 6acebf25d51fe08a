"""The oioioi-style handler: typed log records become per-recipient notifications."""

from __future__ import annotations

import logging
import threading
import uuid

import pytest

from msgframework.notify.notifier import Notifier
from msgframework.notify.recipients import (
    NotificationHandler,
    NotificationRegistry,
    RecipientInbox,
    recipient_key,
    recipient_topic,
    register_notification,
    send_notification,
)

WAIT = 10.0


class User:
    def __init__(self, pk):
        self.pk = pk


class RecordingHandler(NotificationHandler):
    """Keeps the records handleError was given, instead of printing to stderr."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.errors = []

    def handleError(self, record):  # noqa: N802 - logging's name
        self.errors.append(record)


@pytest.fixture
def registry():
    return NotificationRegistry()


@pytest.fixture
def logger():
    log = logging.getLogger(f"test.recipients.{uuid.uuid4().hex}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for h in list(log.handlers):
        log.removeHandler(h)


@pytest.fixture
def inboxes(transport):
    """Open inboxes (subscribed before anything is sent); closed at teardown."""
    opened = []

    def open_inboxes(*users, **kwargs):
        new = [RecipientInbox(transport, u, **kwargs) for u in users]
        for inbox in new:
            inbox.fetch()
        opened.extend(new)
        return new

    yield open_inboxes
    for inbox in opened:
        inbox.close()


def test_records_become_notifications_for_each_recipient(transport, registry, logger, inboxes):
    handler = RecordingHandler(transport, registry=registry, ttl=60)
    logger.addHandler(handler)
    ann, bob = inboxes("1", "2")

    def judged(record):
        for user in record.users:
            send_notification(user, "submission_judged", "Submission %(id)s judged",
                              {"id": record.submission, "address": "http://x/s/7",
                               "details": "OK", "popup": 1})

    register_notification("submission_judged", judged, registry=registry)
    logger.info("judged", extra={"notification": "submission_judged",
                                 "users": [User(1), User(2)], "submission": 7})
    logger.info("ordinary record, no notification")

    [a] = ann.fetch(WAIT)
    [b] = bob.fetch(WAIT)
    assert a["recipient"] == "1" and b["recipient"] == "2"
    assert a["id"] != b["id"]
    assert a["type"] == "submission_judged"
    assert a["message"] == "Submission %(id)s judged"  # untranslated, client interpolates
    assert a["arguments"] == {"id": 7}
    assert (a["address"], a["details"], a["popup"]) == ("http://x/s/7", "OK", True)
    assert a["expires"] - a["date"] == 60_000
    assert handler.errors == [] and handler.sent == 2


def test_unknown_type_is_reported_once(transport, registry, logger, caplog):
    handler = RecordingHandler(transport, registry=registry)
    logger.addHandler(handler)
    with caplog.at_level(logging.ERROR, logger="msgframework.notify.recipients"):
        for _ in range(3):
            logger.info("x", extra={"notification": "nobody_knows"})
    reports = [r for r in caplog.records if "nobody_knows" in r.getMessage()]
    assert len(reports) == 1
    assert handler.errors == []


def test_registering_twice_warns(registry):
    registry.register("t", lambda record: None)
    with pytest.warns(RuntimeWarning, match="already registered"):
        registry.register("t", lambda record: None)


def test_failures_never_reach_the_caller(transport, registry, logger):
    handler = RecordingHandler(transport, registry=registry)
    logger.addHandler(handler)

    def broken(record):
        raise RuntimeError("bug in a notification function")

    def unencodable(record):
        send_notification("1", "t", "m", {"value": object()})

    handler.register_notification("broken", broken)
    handler.register_notification("unencodable", unencodable)
    logger.info("a", extra={"notification": "broken"})  # must not raise
    logger.info("b", extra={"notification": "unencodable"})
    assert [r.getMessage() for r in handler.errors] == ["a", "b"]
    assert handler.failures == 2


def test_load_modules_runs_once_before_the_first_record(transport, registry, logger):
    calls = []

    def load():
        calls.append(1)
        registry.register("late", lambda record: calls.append("late"))

    handler = RecordingHandler(transport, registry=registry, load_modules=load)
    logger.addHandler(handler)
    logger.info("x", extra={"notification": "late"})
    logger.info("x", extra={"notification": "late"})
    assert calls == [1, "late", "late"]


def test_inbox_enforces_ttl_and_length(transport, registry, inboxes):
    handler = NotificationHandler(transport, registry=registry, ttl=None)
    [inbox] = inboxes("ann", max_length=3)
    for i in range(5):
        handler.send_notification("ann", "t", f"n{i}")
    # An already expired message, as another sender could have queued it:
    Notifier(transport, "old", driver="messagingv2", topics=[recipient_topic("ann")]).info(
        {}, "t", {"id": "old", "date": 1, "expires": 2, "message": "stale"})
    got = inbox.fetch(WAIT)
    assert [m["message"] for m in got] == ["n3", "n4"]  # the queue kept n3, n4, stale
    assert inbox.dropped_expired == 1
    # Both drivers enforce the length when storing: the inbox never saw n0..n2.
    assert inbox.limits_on_store and inbox.dropped_overflow == 0
    assert inbox.fetch(0) == []  # everything was acknowledged


def test_an_unread_inbox_queue_stays_bounded(transport, registry, inboxes):
    """Nobody reads for a while: the queue holds max_length, not every notification."""
    handler = NotificationHandler(transport, registry=registry)
    [inbox] = inboxes("bob", max_length=10)  # subscribed once, then left unread
    for i in range(200):
        handler.send_notification("bob", "t", f"n{i}")
    # A second reader of the same queue sees what the transport kept.
    other = RecipientInbox(transport, "bob", max_length=None)
    try:
        got = other.fetch(WAIT)
    finally:
        other.close()
    assert [m["message"] for m in got] == [f"n{i}" for i in range(190, 200)]
    assert other.dropped_overflow == 0 and inbox.fetch(0) == []


def test_a_queue_nobody_subscribed_to_is_bounded_from_the_first_send(transport, registry):
    handler = NotificationHandler(transport, registry=registry, max_length=5)
    for i in range(20):  # no inbox exists yet: the first send creates the queue bounded
        handler.send_notification("carl", "t", f"n{i}")
    inbox = RecipientInbox(transport, "carl", max_length=None)  # trims nothing itself
    try:
        got = inbox.fetch(WAIT)
    finally:
        inbox.close()
    assert [m["message"] for m in got] == [f"n{i}" for i in range(15, 20)]
    assert inbox.dropped_overflow == 0


def test_handler_limits_are_checked_at_once(transport):
    with pytest.raises(ValueError, match="max_length"):
        NotificationHandler(transport, max_length=0)


def test_inbox_limits_are_checked_at_once(transport):
    with pytest.raises(ValueError, match="message_ttl"):
        RecipientInbox(transport, "ann", ttl=0)
    with pytest.raises(ValueError, match="max_length"):
        RecipientInbox(transport, "ann", max_length=0)


def test_send_notification_outside_a_function_is_a_clear_error():
    with pytest.raises(RuntimeError, match="outside a notification function"):
        send_notification("1", "t", "m")


@pytest.mark.parametrize("bad", ["", "a b", "x*", "all.#", "a/b", "x" * 201])
def test_recipient_names_that_could_leak_are_refused(bad):
    with pytest.raises(ValueError, match="cannot name a queue"):
        recipient_key(bad)


def test_recipient_key_uses_pk():
    assert recipient_key(User(42)) == "42"
    assert recipient_topic("ann@example.org") == "notifications.recipient.ann@example.org"


class ObservedRecord(logging.LogRecord):
    """A record that tells when a handler starts handling it (reads its type)."""

    def __init__(self, notification_type, entered):
        super().__init__("test", logging.INFO, __file__, 0, "x", None, None)
        self._type = notification_type
        self._entered = entered

    @property
    def notification(self):
        self._entered.set()
        return self._type


def test_records_racing_the_first_load_wait_for_it(transport, registry, caplog):
    """A record arriving while load_modules() runs must not see the empty registry."""
    loading, release = threading.Event(), threading.Event()
    handled = []

    def load():
        loading.set()
        assert release.wait(WAIT), "the test never released the loading"
        registry.register("late", lambda record: handled.append(threading.current_thread()))

    handler = RecordingHandler(transport, registry=registry, load_modules=load)
    first_entered, second_entered = threading.Event(), threading.Event()
    second_done = threading.Event()
    first = threading.Thread(target=handler.emit, args=(ObservedRecord("late", first_entered),))

    def second_emit():
        handler.emit(ObservedRecord("late", second_entered))
        second_done.set()

    second = threading.Thread(target=second_emit)
    with caplog.at_level(logging.ERROR, logger="msgframework.notify.recipients"):
        first.start()
        assert loading.wait(WAIT)  # the first record is inside load_modules()
        second.start()
        assert second_entered.wait(WAIT)  # the second one is being handled meanwhile
        finished_during_load = second_done.wait(0.3)  # it must wait for the loading
        release.set()
        first.join(WAIT)
        second.join(WAIT)
    assert not first.is_alive() and not second.is_alive()
    assert not finished_during_load, "a record was handled before load_modules() returned"
    assert len(handled) == 2  # both records reached the function, none was dropped
    assert not [r for r in caplog.records if "late" in r.getMessage()]  # no "unknown" report
    assert handler.errors == [] and handler.failures == 0


def test_records_logged_by_load_modules_itself_are_handled_after_it(transport, registry,
                                                                    logger):
    """Re-entrant logging (logging holds the handler's RLock) neither deadlocks nor drops."""
    handled = []

    def load():
        logger.info("from an imported module", extra={"notification": "early"})
        registry.register("early", lambda record: handled.append(record.getMessage()))

    handler = RecordingHandler(transport, registry=registry, load_modules=load)
    logger.addHandler(handler)
    worker = threading.Thread(target=logger.info, args=("x",),
                              kwargs={"extra": {"notification": "early"}})
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive(), "logging from load_modules() deadlocked"
    assert handled == ["from an imported module", "x"]
    assert handler.errors == []


def test_a_failing_load_is_reported_once_and_records_go_on(transport, registry, logger):
    calls = []

    def load():
        calls.append("load")
        registry.register("t", lambda record: calls.append("t"))
        raise ImportError("one app's notifications module is broken")

    handler = RecordingHandler(transport, registry=registry, load_modules=load)
    logger.addHandler(handler)
    logger.info("a", extra={"notification": "t"})
    logger.info("b", extra={"notification": "t"})
    assert calls == ["load", "t", "t"]
    assert [r.getMessage() for r in handler.errors] == ["a"] and handler.failures == 1
