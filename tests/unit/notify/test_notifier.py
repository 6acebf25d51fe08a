"""The Notifier: priorities, prepare, topics, drivers, contexts, failures, bad input."""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Sequence
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.drivers.base import BaseDriver, Listener, QueuePolicy
from msgframework.exceptions import (
    BrokerUnavailable,
    MessageDeliveryFailure,
    NotifierDriverLoadFailure,
    UnsupportedFeature,
)
from msgframework.notify.drivers import test as test_driver
from msgframework.notify.notifier import Notifier
from msgframework.opts import register_opts
from msgframework.serializer import JsonPayloadSerializer
from msgframework.target import Target
from msgframework.transport import NotificationTransport, get_notification_transport
from msgframework.transport_url import TransportURL

METHODS = [("audit", "AUDIT"), ("debug", "DEBUG"), ("info", "INFO"), ("warn", "WARN"),
           ("warning", "WARN"), ("error", "ERROR"), ("critical", "CRITICAL"),
           ("sample", "SAMPLE")]


@pytest.mark.parametrize(("method", "priority"), METHODS)
def test_each_method_sends_its_priority(conf: cfg.ConfigOpts, method: str,
                                        priority: str) -> None:
    notifier = Notifier(None, "compute.host1", driver="test", conf=conf)
    getattr(notifier, method)({"request_id": "req-1"}, "compute.start", {"a": 1})
    [(ctxt, message, sent_priority, retry)] = test_driver.NOTIFICATIONS
    assert sent_priority == priority
    assert message["priority"] == priority
    assert message["publisher_id"] == "compute.host1"
    assert message["event_type"] == "compute.start"
    assert message["payload"] == {"a": 1}
    assert ctxt == {"request_id": "req-1"}
    assert retry == -1  # the option's default
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                        message["message_id"])
    # oslo's timestamp text: str() of a naive UTC datetime
    stamp = datetime.datetime.fromisoformat(message["timestamp"])
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    assert abs((now - stamp).total_seconds()) < 60
    assert " " in message["timestamp"]


def test_prepare_overrides_publisher_and_retry_and_shares_stats(conf: cfg.ConfigOpts) -> None:
    notifier = Notifier(None, "orig", driver="test", retry=5, conf=conf)
    sub = notifier.prepare(publisher_id="other")
    sub.info({}, "e", {})
    sub.prepare(retry=0).info({}, "e", {})
    notifier.info({}, "e", {})
    sent = [(m["publisher_id"], r) for _, m, _, r in test_driver.NOTIFICATIONS]
    assert sent == [("other", 5), ("other", 0), ("orig", 5)]
    assert notifier.stats.sent == 3
    assert sub.stats is notifier.stats


def test_several_drivers_each_get_the_notification(conf: cfg.ConfigOpts,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="msgframework.notification")
    notifier = Notifier(None, "p", driver=["test", "log", "noop"], conf=conf)
    notifier.info({}, "disk.full", {"disk": "sda"})
    assert len(test_driver.NOTIFICATIONS) == 1
    [record] = [r for r in caplog.records if r.name == "msgframework.notification.disk.full"]
    assert record.levelno == logging.INFO
    assert '"disk":"sda"' in record.getMessage()
    assert notifier.is_enabled()


def test_driver_option_is_used_when_no_argument(conf: cfg.ConfigOpts) -> None:
    register_opts(conf)
    conf.set_override("driver", ["test"], group="msgframework_notifications")
    Notifier(None, "p", conf=conf).error({}, "e", {})
    assert [p for _, _, p, _ in test_driver.NOTIFICATIONS] == ["ERROR"]


def test_noop_only_is_not_enabled(conf: cfg.ConfigOpts) -> None:
    assert not Notifier(None, driver="noop", conf=conf).is_enabled()
    # no transport and no driver: noop, said out loud
    assert not Notifier(None, conf=conf).is_enabled()


def test_unknown_driver_fails_loudly_with_choices(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(NotifierDriverLoadFailure, match="messagingv2"):
        Notifier(None, driver="messagingv3", conf=conf)


def test_messaging_driver_without_transport_is_refused(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(NotifierDriverLoadFailure, match="transport"):
        Notifier(None, driver="messagingv2", conf=conf)


# -- bad input ----------------------------------------------------------------

class Unencodable:
    pass


@pytest.mark.parametrize("driver", ["test", "log", "messagingv2", "messaging"])
def test_non_json_payload_is_a_type_error_at_send(transport: Any, driver: str) -> None:
    notifier = Notifier(transport, "p", driver=driver)
    with pytest.raises(TypeError, match="Unencodable"):
        notifier.info({}, "e", {"obj": Unencodable()})
    assert notifier.stats.failed == 0  # a bug, not a delivery failure


def test_json_payload_serializer_makes_objects_sendable(conf: cfg.ConfigOpts) -> None:
    notifier = Notifier(None, "p", driver="test", serializer=JsonPayloadSerializer(),
                        conf=conf)
    notifier.info({}, "e", {"when": datetime.date(2024, 1, 2), "ids": {3}})
    assert test_driver.NOTIFICATIONS[0][1]["payload"] == {"when": "2024-01-02", "ids": [3]}


@pytest.mark.parametrize(("event_type", "error"), [(None, TypeError), (3, TypeError),
                                                   ("", ValueError)])
def test_bad_event_type(conf: cfg.ConfigOpts, event_type: Any, error: type) -> None:
    notifier = Notifier(None, "p", driver="test", conf=conf)
    with pytest.raises(error, match="event_type"):
        notifier.info({}, event_type, {})


def test_topics_must_be_a_list(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(TypeError, match="topics"):
        Notifier(None, driver="test", topics="notifications", conf=conf)


# -- contexts -----------------------------------------------------------------

class RedactableContext:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def redacted_copy(self) -> RedactableContext:
        return RedactableContext(**{k: v for k, v in self.values.items() if k != "auth_token"})


class PlainContext:
    def to_dict(self) -> dict[str, Any]:
        return {"user": "u1"}


@pytest.mark.parametrize(("ctxt", "expected"), [
    (None, {}),
    ({"request_id": "r", "user": "u"}, {"request_id": "r", "user": "u"}),
    ({"request_id": "r", "auth_token": "s3cret", "password": "pw"}, {"request_id": "r"}),
    (RedactableContext(request_id="r", auth_token="s3cret"), {"request_id": "r"}),
    (PlainContext(), {"user": "u1"}),
])
def test_context_sent(conf: cfg.ConfigOpts, ctxt: Any, expected: dict[str, Any]) -> None:
    Notifier(None, "p", driver="test", conf=conf).info(ctxt, "e", {})
    assert test_driver.NOTIFICATIONS[0][0] == expected


def test_context_without_to_dict_is_a_type_error(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(TypeError, match="context"):
        Notifier(None, "p", driver="test", conf=conf).info(object(), "e", {})


def test_caller_context_dict_is_not_modified(conf: cfg.ConfigOpts) -> None:
    ctxt = {"request_id": "r", "auth_token": "s3cret"}
    Notifier(None, "p", driver="test", conf=conf).info(ctxt, "e", {})
    assert ctxt == {"request_id": "r", "auth_token": "s3cret"}


# -- delivery failures --------------------------------------------------------

class _FailingDriver(BaseDriver):
    """A transport driver that is down for some topics."""

    def __init__(self, conf: Any, url: TransportURL, down: Sequence[str]) -> None:
        super().__init__(conf, url)
        self.down = set(down)
        self.sent: list[tuple[str, float, int | None]] = []

    def send(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def send_notification(self, target: Target, ctxt: dict[str, Any], message: dict[str, Any],
                          version: float, retry: int | None = None) -> None:
        topic = target.topic.rsplit(".", 1)[0]
        if topic in self.down:
            raise BrokerUnavailable(f"broker for {topic} unreachable")
        self.sent.append((target.topic, version, retry))

    def listen(self, *args: Any, **kwargs: Any) -> Listener:
        raise NotImplementedError

    def listen_for_notifications(self, *args: Any, **kwargs: Any) -> Listener:
        raise NotImplementedError


def _failing_transport(conf: cfg.ConfigOpts, down: Sequence[str]) -> NotificationTransport:
    url = TransportURL.parse(conf, "fake://")
    return NotificationTransport(_FailingDriver(conf, url, down), conf, url)


def test_messaging_drivers_send_one_copy_per_topic(conf: cfg.ConfigOpts) -> None:
    transport = _failing_transport(conf, down=())
    Notifier(transport, "p", topics=["a", "b"], retry=2).warning({}, "e", {})
    Notifier(transport, "p", driver="messaging", topics=["c"]).sample({}, "e", {})
    assert transport.driver.sent == [("a.warn", 2.0, 2), ("b.warn", 2.0, 2),
                                     ("c.sample", 1.0, -1)]


def test_failed_send_is_logged_and_counted_not_raised_by_default(
        conf: cfg.ConfigOpts, caplog: pytest.LogCaptureFixture) -> None:
    transport = _failing_transport(conf, down=["b"])
    notifier = Notifier(transport, "p", topics=["a", "b", "c"])
    notifier.error({}, "volume.delete", {})
    # the other topics were still served
    assert [t for t, _, _ in transport.driver.sent] == ["a.error", "c.error"]
    assert notifier.stats.failed == 1
    assert notifier.failed_sends == 1
    assert notifier.stats.sent == 0
    assert notifier.stats.failed_by_topic == {"b": 1}
    [record] = [r for r in caplog.records if r.name == "msgframework.notify.notifier"]
    assert record.levelno == logging.ERROR
    text = record.getMessage()
    assert "volume.delete" in text and " b " in text and "unreachable" in text


def test_failed_send_raises_when_asked_by_flag(conf: cfg.ConfigOpts) -> None:
    transport = _failing_transport(conf, down=["a"])
    notifier = Notifier(transport, "p", topics=["a"], raise_on_send_failure=True)
    with pytest.raises(MessageDeliveryFailure, match="'e'") as info:
        notifier.info({}, "e", {})
    assert isinstance(info.value.__cause__, MessageDeliveryFailure)
    assert notifier.stats.failed == 1


def test_failed_send_raises_when_asked_by_option(conf: cfg.ConfigOpts) -> None:
    transport = _failing_transport(conf, down=["a"])
    register_opts(conf)
    conf.set_override("raise_on_send_failure", True, group="msgframework_notifications")
    with pytest.raises(MessageDeliveryFailure):
        Notifier(transport, "p", topics=["a"]).info({}, "e", {})
    # the constructor flag wins over the option
    Notifier(transport, "p", topics=["a"], raise_on_send_failure=False).info({}, "e", {})


def test_default_driver_with_transport_is_messagingv2(conf: cfg.ConfigOpts) -> None:
    transport = _failing_transport(conf, down=())
    notifier = Notifier(transport, "p")
    notifier.info({}, "e", {})
    assert transport.driver.sent == [("notifications.info", 2.0, -1)]
    assert notifier.is_enabled()


# -- queue policies -------------------------------------------------------------

def test_queue_policy_bounds_the_topic_queue_from_the_first_notification(transport: Any
                                                                         ) -> None:
    notifier = Notifier(transport, "p", driver="messagingv2", topics=["bounded_topic"],
                        queue_policy=QueuePolicy(max_length=2))
    for i in range(5):  # nobody listens: the queue is created bounded by the first send
        notifier.info({}, "e", {"i": i})
    listener = transport._listen_for_notifications([(Target(topic="bounded_topic"), "info")])
    got = listener.poll(timeout=5, batch_size=10, batch_timeout=0.2)
    assert [m.message["payload"]["i"] for m in got] == [3, 4]
    for m in got:
        m.acknowledge()


def test_queue_policy_on_a_driver_without_policies_fails_at_construction() -> None:
    transport = get_notification_transport(cfg.ConfigOpts(), "kombu+memory://")
    try:
        with pytest.raises(UnsupportedFeature, match="queue policy"):
            Notifier(transport, "p", queue_policy=QueuePolicy(max_length=2))
    finally:
        transport.cleanup()
