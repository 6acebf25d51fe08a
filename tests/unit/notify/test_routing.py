"""The routing notifier driver with real YAML files."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.exceptions import ConfigurationError, NotifierDriverLoadFailure
from msgframework.notify.drivers import test as test_driver
from msgframework.notify.listener import get_notification_listener
from msgframework.notify.notifier import Notifier
from msgframework.opts import register_opts
from msgframework.target import Target
from msgframework.testing.waiting import RecordingEndpoint

WAIT = 10.0

ROUTING = """
ops:
  log:
    accepted_priorities: [error, CRITICAL]
billing:
  test:
    accepted_events: ["compute.instance.*", "volume.create"]
    accepted_priorities: [info]
audit:
  test:
    accepted_events: ["identity.*"]
nothing:
  noop: {}
"""


def routed(conf: cfg.ConfigOpts, tmp_path: Path, text: str) -> Notifier:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    register_opts(conf)
    conf.set_override("routing_config", str(path), group="msgframework_notifications")
    return Notifier(None, "p", driver="routing", conf=conf)


@pytest.mark.parametrize(("method", "event_type", "to_test", "to_log"), [
    ("info", "compute.instance.create", True, False),
    ("info", "volume.create", True, False),
    ("info", "volume.create.end", False, False),   # fnmatch is anchored
    ("warn", "compute.instance.create", False, False),  # both rules must match
    ("error", "compute.instance.create", False, True),
    ("critical", "anything", False, True),
    ("audit", "identity.user.created", True, False),  # events only: any priority
    ("error", "identity.user.created", True, True),  # two groups: each driver once
])
def test_routes(conf: cfg.ConfigOpts, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                method: str, event_type: str, to_test: bool, to_log: bool) -> None:
    caplog.set_level(logging.DEBUG, logger="msgframework.notification")
    notifier = routed(conf, tmp_path, ROUTING)
    getattr(notifier, method)({}, event_type, {"x": 1})
    assert len(test_driver.NOTIFICATIONS) == (1 if to_test else 0)
    logged = [r for r in caplog.records if r.name.startswith("msgframework.notification.")]
    assert len(logged) == (1 if to_log else 0)
    sent_somewhere = to_test or to_log
    assert (notifier.stats.sent, notifier.stats.unrouted) == (
        (1, 0) if sent_somewhere else (0, 1))
    assert notifier.stats.failed == 0


def test_rule_without_conditions_accepts_nothing_and_warns(
        conf: cfg.ConfigOpts, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notifier = routed(conf, tmp_path, "g:\n  test: {}\n")
    assert "no rules" in caplog.text
    notifier.info({}, "e", {})
    assert test_driver.NOTIFICATIONS == []
    assert notifier.stats.as_dict() == {"sent": 0, "unrouted": 1, "failed": 0,
                                        "failed_by_topic": {}}


def test_unrouted_counts_only_when_no_driver_sends_it(conf: cfg.ConfigOpts,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text("g:\n  test:\n    accepted_priorities: [error]\n")
    register_opts(conf)
    conf.set_override("routing_config", str(path), group="msgframework_notifications")
    both = Notifier(None, "p", driver=["routing", "log"], conf=conf)
    both.info({}, "e", {})  # routing sends it nowhere, log does
    assert (both.stats.sent, both.stats.unrouted) == (1, 0)
    alone = Notifier(None, "p", driver="routing", conf=conf)
    alone.info({}, "e", {})
    alone.prepare(publisher_id="q").error({}, "e", {})
    assert (alone.stats.sent, alone.stats.unrouted) == (1, 1)
    assert "unrouted=1" in repr(alone.stats)


def test_sub_drivers_get_topics_and_transport(conf: cfg.ConfigOpts, tmp_path: Path,
                                              transport: Any) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("g:\n  messagingv2:\n    accepted_priorities: [info]\n")
    register_opts(transport.conf)
    transport.conf.set_override("routing_config", str(path),
                                group="msgframework_notifications")
    endpoint = RecordingEndpoint()
    listener = get_notification_listener(transport, [Target(topic="t1")], [endpoint])
    listener.start(timeout=WAIT)
    try:
        notifier = Notifier(transport, "p", driver="routing", topics=["t1"])
        notifier.warn({}, "not.routed", {"n": 1})  # no rule accepts warn
        notifier.info({}, "routed", {"n": 2})  # oslo's routing driver fails every sub-driver
        (call,) = endpoint.wait_for_count(1, WAIT)  # it went out on t1.info...
        assert call[0] == "info" and call[2:5] == ("p", "routed", {"n": 2})
        assert notifier.stats.as_dict() == {"sent": 1, "unrouted": 1, "failed": 0,
                                            "failed_by_topic": {}}
    finally:
        listener.stop(timeout=WAIT)
        listener.wait(timeout=WAIT)
    assert endpoint.event_types == ["routed"]


@pytest.mark.parametrize(("text", "error", "match"), [
    ("g:\n  test:\n    accepted_event: [x]\n", ConfigurationError, "accepted_event"),
    ("g:\n  nosuch:\n    accepted_events: [x]\n", NotifierDriverLoadFailure, "nosuch"),
    ("g:\n  routing:\n    accepted_events: [x]\n", ConfigurationError, "itself"),
    ("g: [1, 2]\n", ConfigurationError, "group 'g'"),
    ("g:\n  test:\n    accepted_events: 3\n", ConfigurationError, "list of strings"),
    ("g: {\n", ConfigurationError, "not valid YAML"),
    ("- a\n", ConfigurationError, "map group names"),
])
def test_bad_files_fail_at_construction(conf: cfg.ConfigOpts, tmp_path: Path, text: str,
                                        error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        routed(conf, tmp_path, text)


def test_missing_file_and_unset_option(conf: cfg.ConfigOpts, tmp_path: Path) -> None:
    register_opts(conf)
    with pytest.raises(NotifierDriverLoadFailure, match="routing_config"):
        Notifier(None, driver="routing", conf=conf)
    conf.set_override("routing_config", str(tmp_path / "absent.yaml"),
                      group="msgframework_notifications")
    with pytest.raises(ConfigurationError, match="cannot read"):
        Notifier(None, driver="routing", conf=conf)
