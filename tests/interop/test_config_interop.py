"""An oslo.messaging ini file configures msgframework unchanged.

The file uses oslo's group names only (``[oslo_messaging_rabbit]``,
``[oslo_messaging_notifications]``) and ``[DEFAULT] transport_url``. We load
it into our own ``ConfigOpts`` as a service would (``--config-file``), check
the values reached our driver, and check they took effect: a notification
our Notifier sends with no argument but the transport is received by an
oslo listener configured by the very same file, and the broker holds back
deliveries past ``rabbit_qos_prefetch_count``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from msgframework.drivers.rabbit.options import GROUP as OUR_RABBIT_GROUP
from msgframework.drivers.rabbit.options import RABBIT_OPTS
from msgframework.notify.notifier import Notifier
from msgframework.opts import DEFAULT_OPTS, NOTIFICATION_OPTS, NOTIFICATIONS_GROUP
from msgframework.target import Target
from msgframework.testing.waiting import RecordingEndpoint
from tests.interop.conftest import RABBIT_URL, Names, oslo_conf, our_conf

oslo_opts = pytest.importorskip("oslo_messaging.opts")

pytestmark = pytest.mark.interop

WAIT = 15.0
#: oslo.messaging's groups and the msgframework groups that read them.
_GROUPS = {None: None, "oslo_messaging_notifications": "msgframework_notifications",
           "oslo_messaging_rabbit": OUR_RABBIT_GROUP}
_OSLO_OPTS = {(group, opt.name): opt for group, opts in oslo_opts.list_opts()
              if group in _GROUPS for opt in opts}
_OUR_OPTS = {(group, opt.dest): opt
             for group, opts in ((None, DEFAULT_OPTS), (NOTIFICATIONS_GROUP, NOTIFICATION_OPTS),
                                 (OUR_RABBIT_GROUP, RABBIT_OPTS))
             for opt in opts}
#: oslo's deprecated names, still found in old files: (group, old name) -> name.
_OLD_NAMES = {(None, "rpc_thread_pool_size"): "executor_thread_pool_size",
              ("oslo_messaging_rabbit", "kombu_reconnect_timeout"):
              "kombu_missing_consumer_retry_timeout"}


def _other_value(opt: cfg.Opt) -> str:
    """An ini value for ``opt`` that differs from its default and is in range."""
    default = opt.default
    if isinstance(opt, cfg.BoolOpt):
        return "false" if default else "true"
    choices = getattr(opt.type, "choices", None)
    if choices:
        return next(str(c) for c in choices if c != default)
    if isinstance(opt, (cfg.IntOpt, cfg.FloatOpt)):
        step = 1 if isinstance(opt, cfg.IntOpt) else 0.5
        base = default if default is not None else 1
        top = getattr(opt.type, "max", None)
        value = base + step if top is None or base + step <= top else base - step
        return str(value)
    if isinstance(opt, cfg.ListOpt):
        return "first,second"
    if isinstance(opt, cfg.MultiStrOpt):
        return "log"
    return "interop-value"


def _case(group: str | None, ini_name: str, name: str) -> Any:
    return pytest.param(group, ini_name, name, id=f"{group or 'DEFAULT'}.{ini_name}")


@pytest.mark.parametrize("group,ini_name,name", [
    *[_case(group, name, name) for group, name in sorted(_OSLO_OPTS, key=str)],
    *[_case(group, old, name) for (group, old), name in _OLD_NAMES.items()]])
def test_every_oslo_option_is_read(tmp_path: Path, group: str | None, ini_name: str,
                                   name: str) -> None:
    """Each option oslo.messaging 18.3.1 lists for [DEFAULT],
    [oslo_messaging_notifications] and [oslo_messaging_rabbit], set in an ini
    file under oslo's group (and name) to a non-default value, is what the
    msgframework option reads."""
    ours_group = _GROUPS[group]
    raw = _other_value(_OSLO_OPTS[(group, name)])
    path = tmp_path / "one.conf"
    path.write_text(f"[{group or 'DEFAULT'}]\n{ini_name} = {raw}\n")
    conf = our_conf(config_files=[str(path)])
    if ours_group == OUR_RABBIT_GROUP:
        conf.register_opts(RABBIT_OPTS, group=OUR_RABBIT_GROUP)
    section = conf if ours_group is None else conf[ours_group]
    ours = _OUR_OPTS[(ours_group, name)]
    expected = ours.type(raw)
    if isinstance(ours, cfg.MultiStrOpt):
        expected = [expected]
    assert expected != ours.default
    assert section[name] == expected


def _write_ini(path: Path, exchange: str, topic: str) -> str:
    path.write_text(textwrap.dedent(f"""\
        [DEFAULT]
        transport_url = {RABBIT_URL}
        control_exchange = {exchange}
        rpc_response_timeout = 7

        [oslo_messaging_rabbit]
        rabbit_qos_prefetch_count = 3
        rabbit_transient_queues_ttl = 3
        heartbeat_timeout_threshold = 20
        kombu_reconnect_delay = 0.5
        rabbit_retry_interval = 2
        kombu_failover_strategy = shuffle

        [oslo_messaging_notifications]
        driver = messagingv2
        topics = {topic}
        retry = 2
        """))
    return str(path)


@pytest.fixture
def ini(tmp_path: Path, names: Names) -> tuple[str, str]:
    topic = names.notification_topic("ini")
    return _write_ini(tmp_path / "oslo.conf", names.exchange, topic), topic


def test_oslo_ini_values_reach_our_driver(ini: tuple[str, str], ours: Any,
                                          names: Names) -> None:
    path, topic = ini
    conf = our_conf(config_files=[path])
    assert conf.transport_url == RABBIT_URL
    assert conf.control_exchange == names.exchange
    assert conf.rpc_response_timeout == 7
    notifications = conf.msgframework_notifications
    assert (notifications.driver, notifications.topics, notifications.retry) == (
        ["messagingv2"], [topic], 2)

    transport = ours.notification_transport(conf=conf, url=None)
    assert transport.url.hosts == ours.notification_transport(url=RABBIT_URL).url.hosts
    settings = transport.driver.settings
    assert settings.qos_prefetch_count == 3
    assert settings.transient_queues_ttl == 3
    assert settings.heartbeat_timeout == 20
    assert settings.reconnect_delay == 0.5
    assert settings.retry_interval == 2.0
    assert settings.failover_strategy == "shuffle"
    assert conf.msgframework_rabbit.rabbit_qos_prefetch_count == 3


def test_url_query_and_our_group_override_the_oslo_group(tmp_path: Path, ours: Any,
                                                         names: Names) -> None:
    path = tmp_path / "both.conf"
    path.write_text(textwrap.dedent("""\
        [oslo_messaging_rabbit]
        rabbit_qos_prefetch_count = 3
        heartbeat_timeout_threshold = 20

        [msgframework_rabbit]
        heartbeat_timeout_threshold = 30
        """))
    conf = our_conf(names.exchange, config_files=[str(path)])
    separator = "&" if "?" in RABBIT_URL else "?"
    transport = ours.notification_transport(
        conf=conf, url=f"{RABBIT_URL}{separator}rabbit_qos_prefetch_count=5")
    assert transport.driver.settings.qos_prefetch_count == 5
    assert transport.driver.settings.heartbeat_timeout == 30


def test_same_ini_configures_our_notifier_and_an_oslo_listener(
        ini: tuple[str, str], oslo: Any, ours: Any) -> None:
    """Exchange, topics, driver and URL all come from the file, on both sides."""
    path, topic = ini
    oslo_side_conf = oslo_conf(config_files=[path])
    oslo_topics = oslo_side_conf.oslo_messaging_notifications.topics
    assert oslo_topics == [topic]
    oslo_transport = oslo.notification_transport(conf=oslo_side_conf, url=None)
    endpoint = RecordingEndpoint()
    oslo.start(oslo.om.get_notification_listener(
        oslo_transport, [oslo.om.Target(topic=t) for t in oslo_topics], [endpoint]))

    our_transport = ours.notification_transport(conf=our_conf(config_files=[path]), url=None)
    notifier = Notifier(our_transport, publisher_id="from.ini", raise_on_send_failure=True)
    notifier.info({"request_id": "req-ini"}, "interop.ini", {"ok": True})
    notifier.error({}, "interop.ini.error", {"ok": False})

    calls = endpoint.wait_for_count(2, timeout=WAIT)
    assert sorted((c[0], c[2], c[3], c[4]["ok"]) for c in calls) == [
        ("error", "from.ini", "interop.ini.error", False),
        ("info", "from.ini", "interop.ini", True)]


def test_ini_prefetch_count_bounds_deliveries(ini: tuple[str, str], oslo: Any,
                                              ours: Any) -> None:
    """With rabbit_qos_prefetch_count = 3 from the file, a listener holds at most
    3 unacknowledged messages; acknowledging one lets the next in."""
    path, topic = ini
    transport = ours.notification_transport(conf=our_conf(config_files=[path]), url=None)
    listener = transport.driver.listen_for_notifications([(Target(topic=topic), "info")])
    notifier = oslo.notifier(topic, publisher_id="prefetch")
    for n in range(6):
        notifier.info({}, "interop.prefetch", {"n": n})

    held = []
    while len(held) < 3:
        batch = listener.poll(timeout=WAIT)
        assert batch, f"only {len(held)} of 3 deliveries arrived"
        held.extend(batch)
    # Nothing past the bound comes while those three are unacknowledged.
    assert listener.poll(timeout=1.0) == []
    held[0].acknowledge()
    [fourth] = listener.poll(timeout=WAIT)
    assert sorted(m.message["payload"]["n"] for m in held[1:] + [fourth]) == [1, 2, 3]
    for message in held[1:] + [fourth]:
        message.acknowledge()
