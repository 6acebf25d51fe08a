"""The filter algebra: each predicate, the operators, and oslo's NotificationFilter inside it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from msgframework.hubs import (
    AfterDate,
    Always,
    BeforeDate,
    Expired,
    HubEvent,
    Matches,
    Never,
    WithEventType,
    WithId,
    WithPriority,
    WithPublisher,
    WithRecipients,
    WithSender,
)

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ev(event_type="compute.instance.create", publisher="compute.host1", priority="info",
       payload=None, timestamp=NOON, message_id="m1"):
    return HubEvent(event_type=event_type, payload=payload if payload is not None else {},
                    publisher_id=publisher, priority=priority, message_id=message_id,
                    timestamp=timestamp)


def test_event_type_exact_and_wildcard():
    assert WithEventType("compute.instance.create")(ev())
    assert WithEventType("compute.*")(ev())
    assert not WithEventType("compute.instance")(ev())
    assert WithEventType("backup.done", "compute.*")(ev())


def test_publisher_and_sender_alias():
    assert WithPublisher("compute.host1")(ev())
    assert WithSender("compute.*")(ev())
    assert not WithPublisher("network.*")(ev())
    assert not WithPublisher("x")(ev(publisher=None))


def test_priority_is_case_insensitive_and_warning_means_warn():
    assert WithPriority("INFO")(ev())
    assert WithPriority("warning")(ev(priority="warn"))
    assert not WithPriority("error")(ev())


def test_id():
    assert WithId("m1", "m2")(ev())
    assert not WithId("m2")(ev())


def test_recipients_is_membership_not_equality():
    event = ev(payload={"recipients": ["ann", "bob"]})
    assert WithRecipients("ann")(event)
    assert WithRecipients("zoe", "bob")(event)
    assert not WithRecipients("zoe")(event)
    assert WithRecipients("ann", "bob", require_all=True)(event)
    assert not WithRecipients("ann", "zoe", require_all=True)(event)
    assert WithRecipients("ann")(ev(payload={"recipients": "ann"}))
    assert not WithRecipients("ann")(ev(payload="not a mapping"))


def test_dates():
    assert BeforeDate(NOON + dt.timedelta(seconds=1))(ev())
    assert not BeforeDate(NOON)(ev())
    assert AfterDate(NOON)(ev())
    assert AfterDate("2024-05-01T11:00:00Z")(ev())
    assert not AfterDate(NOON + dt.timedelta(seconds=1))(ev())
    # an event without a timestamp is neither before nor after anything
    assert not BeforeDate(NOON)(ev(timestamp=None))
    assert not AfterDate(NOON)(ev(timestamp=None))


def test_bad_date_is_a_clear_error():
    with pytest.raises(ValueError, match="AfterDate"):
        AfterDate("yesterday")


def test_expired_without_expiry_is_false_not_a_type_error():
    clock = lambda: NOON  # noqa: E731
    assert not Expired(clock)(ev())
    assert Expired(clock)(ev(payload={"expires_at": "2024-05-01T11:59:59Z"}))
    assert not Expired(clock)(ev(payload={"expires_at": "2024-05-01T12:00:01Z"}))
    assert Expired(clock)(ev(payload={"expires_at": NOON.timestamp()}))


def test_operators():
    yes, no = Always(), Never()
    e = ev()
    assert (yes & yes)(e) and not (yes & no)(e)
    assert (yes | no)(e) and not (no | no)(e)
    assert (yes ^ no)(e) and not (yes ^ yes)(e) and not (no ^ no)(e)
    assert (~no)(e) and not (~yes)(e)


def test_plain_callables_join_the_algebra():
    e = ev(payload={"size": 3})
    f = WithEventType("compute.*") & (lambda event: event.payload["size"] > 2)
    assert f(e)
    g = (lambda event: False) | WithPublisher("compute.*")
    assert g(e)
    with pytest.raises(TypeError, match="cannot combine"):
        WithEventType("x") & 3


def test_empty_values_are_rejected():
    with pytest.raises(ValueError, match="at least one"):
        WithEventType()
    with pytest.raises(ValueError, match="non-empty"):
        WithPublisher("")


def test_flask_notifications_example():
    start = NOON
    f = WithEventType("test") & ~BeforeDate(start)
    assert f(ev(event_type="test", timestamp=NOON + dt.timedelta(minutes=1)))
    assert not f(ev(event_type="test", timestamp=NOON - dt.timedelta(minutes=1)))
    assert not f(ev(event_type="system", timestamp=NOON + dt.timedelta(minutes=1)))


def test_oslo_notification_filter_inside_the_algebra():
    from msgframework.notify.filter import NotificationFilter

    regex = Matches(NotificationFilter(event_type=r"^compute\.", payload={"state": "^active$"}))
    assert regex(ev(payload={"state": "active"}))
    assert not regex(ev(payload={"state": "error"}))
    assert (regex | WithPriority("error"))(ev(priority="error", payload={}))
    with pytest.raises(TypeError, match="match"):
        Matches(object())


_leaves = st.sampled_from([Always(), Never()])
_trees = st.recursive(_leaves, lambda inner: st.one_of(
    st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
    st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
    st.tuples(inner, inner).map(lambda p: p[0] ^ p[1]),
    inner.map(lambda f: ~f)), max_leaves=8)


def _truth(f):
    """Evaluate the tree with Python's own boolean operators, independently of matches()."""
    from msgframework.hubs.filters import AndFilter, Not, OrFilter, XorFilter

    if isinstance(f, Always):
        return True
    if isinstance(f, Never):
        return False
    if isinstance(f, Not):
        return not _truth(f.inner)
    ops = {AndFilter: lambda a, b: a and b, OrFilter: lambda a, b: a or b,
           XorFilter: lambda a, b: a != b}
    return ops[type(f)](_truth(f.left), _truth(f.right))


@given(_trees)
def test_algebra_agrees_with_boolean_logic(f):
    assert f(ev()) is _truth(f)
