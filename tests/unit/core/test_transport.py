"""Transports: driver loading by scheme, defaults, target checks, repr."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from msgframework.drivers.memory.driver import MemoryDriver
from msgframework.exceptions import DriverLoadFailure, InvalidTarget
from msgframework.target import Target
from msgframework.transport import (
    NotificationTransport,
    RPCTransport,
    get_notification_transport,
    get_rpc_transport,
    get_transport,
    set_transport_defaults,
)
from msgframework.transport_url import TransportURL


def test_unknown_driver_names_installed_ones_and_a_close_match() -> None:
    with pytest.raises(DriverLoadFailure) as info:
        get_rpc_transport(cfg.ConfigOpts(), "rabit://h/")
    text = str(info.value)
    assert "'rabit'" in text
    for name in ("memory", "fake", "sqlite", "rabbit", "kombu"):
        assert name in text
    assert "did you mean 'rabbit'" in text


def test_unknown_driver_error_hides_the_password() -> None:
    with pytest.raises(DriverLoadFailure) as info:
        get_rpc_transport(cfg.ConfigOpts(), "nosuch://u:s3cr3t@h/")
    assert "s3cr3t" not in str(info.value)


def test_rpc_transport_from_url_or_parsed_url(memory_url: str) -> None:
    conf = cfg.ConfigOpts()
    t = get_rpc_transport(conf, memory_url)
    assert isinstance(t, RPCTransport) and isinstance(t.driver, MemoryDriver)
    u = get_rpc_transport(conf, TransportURL.parse(conf, memory_url))
    assert u.url == t.url
    assert isinstance(get_transport(conf, memory_url), RPCTransport)
    for transport in (t, u):
        transport.cleanup()


def test_rpc_transport_falls_back_to_default_transport_url(memory_url: str) -> None:
    conf = cfg.ConfigOpts()
    get_rpc_transport(conf, memory_url).cleanup()  # registers the options
    conf.set_override("transport_url", memory_url)
    t = get_rpc_transport(conf)
    assert str(t.url) == memory_url
    t.cleanup()


def test_notification_url_falls_back_to_default_group(memory_url: str) -> None:
    conf = cfg.ConfigOpts()
    get_rpc_transport(conf, memory_url).cleanup()
    conf.set_override("transport_url", memory_url)
    t = get_notification_transport(conf)
    assert isinstance(t, NotificationTransport)
    assert str(t.url) == memory_url
    own = memory_url + "-notify"
    conf.set_override("transport_url", own, group="msgframework_notifications")
    n = get_notification_transport(conf)
    assert str(n.url) == own
    for transport in (t, n):
        transport.cleanup()


def test_oslo_notification_group_is_a_deprecated_alias(tmp_path: object, memory_url: str
                                                       ) -> None:
    ini = tmp_path / "app.conf"  # type: ignore[operator]
    ini.write_text(f"[oslo_messaging_notifications]\ntransport_url = {memory_url}\n")
    conf = cfg.ConfigOpts()
    conf(["--config-file", str(ini)])
    t = get_notification_transport(conf)
    assert str(t.url) == memory_url
    t.cleanup()


def test_targets_are_checked(memory_url: str) -> None:
    t = get_rpc_transport(cfg.ConfigOpts(), memory_url)
    with pytest.raises(InvalidTarget):
        t._send(Target(), {}, {"method": "m"})
    with pytest.raises(InvalidTarget):
        t._send_notification(Target(), {}, {}, 2.0)
    with pytest.raises(InvalidTarget, match="topic and server"):
        t._listen(Target(topic="t"))
    with pytest.raises(InvalidTarget):
        t._listen_for_notifications([(Target(), "info")])
    t.cleanup()


def test_repr_is_redacted() -> None:
    t = get_rpc_transport(cfg.ConfigOpts(), "memory://u:s3cr3t@h/")
    assert "s3cr3t" not in repr(t)
    t.cleanup()


def test_set_transport_defaults_changes_control_exchange(memory_url: str) -> None:
    from msgframework import opts

    original = next(o.default for o in opts.DEFAULT_OPTS if o.dest == "control_exchange")
    try:
        set_transport_defaults("nova")
        conf = cfg.ConfigOpts()
        t = get_rpc_transport(conf, memory_url)
        assert conf.control_exchange == "nova"
        assert t.driver._default_exchange == "nova"
        t.cleanup()
    finally:
        set_transport_defaults(original)
