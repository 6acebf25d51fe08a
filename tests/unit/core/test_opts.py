"""Options: registered on the caller's ConfigOpts, listed, overridden by URL query."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from msgframework import opts
from msgframework.exceptions import ConfigurationError, InvalidTransportURL

OPTS = [cfg.IntOpt("count", default=1, min=0), cfg.BoolOpt("flag", default=False),
        cfg.FloatOpt("ratio", default=0.5), cfg.StrOpt("mode", default="a",
                                                       choices=["a", "b"])]


def test_register_opts_is_on_the_given_conf_only() -> None:
    conf = cfg.ConfigOpts()
    opts.register_opts(conf)
    opts.register_opts(conf)  # idempotent
    assert conf.control_exchange == "openstack"
    assert conf.rpc_response_timeout == 60
    assert conf.msgframework_notifications.topics == ["notifications"]
    assert "control_exchange" not in cfg.CONF


def test_set_defaults() -> None:
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf, executor_thread_pool_size=7)
    assert conf.executor_thread_pool_size == 7


def test_list_opts_includes_core_and_driver_groups() -> None:
    groups = dict(opts.list_opts())
    assert {o.dest for o in groups[None]} >= {"transport_url", "control_exchange"}
    assert "msgframework_notifications" in groups
    assert "msgframework_memory" in groups
    assert "msgframework_sqlite" in groups


def test_transport_url_option_is_secret() -> None:
    (url_opt,) = [o for o in opts.DEFAULT_OPTS if o.dest == "transport_url"]
    assert url_opt.secret


def test_driver_options_from_group_with_typed_query_overrides() -> None:
    conf = cfg.ConfigOpts()
    conf.register_opts(OPTS, group="g")
    conf.set_override("count", 5, group="g")
    values = opts.DriverOptions(conf, "g", OPTS,
                                {"flag": "true", "ratio": "0.25", "mode": "b"})
    assert values.count == 5
    assert values.flag is True and values.ratio == 0.25 and values.mode == "b"
    assert values["count"] == 5 and len(values) == 4 and set(values) == {
        "count", "flag", "ratio", "mode"}
    assert "g" in repr(values)
    with pytest.raises(AttributeError):
        _ = values.nope


def test_dashes_in_query_keys_mean_underscores() -> None:
    o = [cfg.IntOpt("max_things", default=1)]
    assert opts.DriverOptions(cfg.ConfigOpts(), "g2", o, {"max-things": "3"}).max_things == 3


def test_unknown_query_key_names_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidTransportURL) as info:
        opts.DriverOptions(cfg.ConfigOpts(), "g", OPTS, {"cuont": "1"})
    text = str(info.value)
    assert "'cuont'" in text and "count" in text and "flag" in text


def test_ignored_query_keys() -> None:
    values = opts.DriverOptions(cfg.ConfigOpts(), "g", OPTS, {"other": "1"},
                                ignore_query=["other"])
    assert values.count == 1


@pytest.mark.parametrize("key, value", [("count", "many"), ("count", "-1"),
                                        ("mode", "c"), ("flag", "maybe")])
def test_bad_query_value_names_the_option(key: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        opts.DriverOptions(cfg.ConfigOpts(), "g", OPTS, {key: value})
    assert f"[g] {key}" in str(info.value)


def test_default_transport_url(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("MSGFRAMEWORK_TRANSPORT_URL", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert opts.default_transport_url() == f"sqlite:///{str(tmp_path).lstrip('/')}" \
        "/msgframework/messages.db"
    monkeypatch.setenv("MSGFRAMEWORK_TRANSPORT_URL", "memory://x")
    assert opts.default_transport_url() == "memory://x"
