"""Options of the RabbitMQ driver: defaults, oslo's group, URL overrides, validation."""

from __future__ import annotations

import pytest

from msgframework.drivers.rabbit.connection import Backoff, HostList
from msgframework.drivers.rabbit.declarations import Topology
from msgframework.drivers.rabbit.settings import RabbitSettings, load_settings
from msgframework.exceptions import ConfigurationError, InvalidTransportURL
from msgframework.transport_url import TransportURL
from tests.unit.drivers.rabbit.conftest import make_conf


def test_defaults_match_oslo_messaging() -> None:
    s = load_settings(make_conf())
    assert (s.heartbeat_timeout, s.heartbeat_rate, s.transient_queues_ttl) == (60, 3, 1800)
    assert (s.failover_strategy, s.login_method) == ("round-robin", "AMQPLAIN")
    assert (s.confirm_window, s.confirm_timeout) == (64, 30.0)
    assert not s.durable and s.qos_prefetch_count == 0


def test_oslo_group_is_read(tmp_path) -> None:
    ini = tmp_path / "oslo.conf"
    ini.write_text("[oslo_messaging_rabbit]\nheartbeat_timeout_threshold = 17\n"
                   "rabbit_quorum_queue = true\n")
    s = load_settings(make_conf(["--config-file", str(ini)]))
    assert s.heartbeat_timeout == 17 and s.quorum_queue and s.durable


def test_url_query_overrides_options() -> None:
    s = load_settings(make_conf(), {"rabbit_qos_prefetch_count": "7", "confirm_timeout": "2.5"})
    assert s.qos_prefetch_count == 7 and s.confirm_timeout == 2.5


def test_unknown_query_parameter_is_refused() -> None:
    with pytest.raises(InvalidTransportURL, match="heartbeat_timout"):
        load_settings(make_conf(), {"heartbeat_timout": "5"})


@pytest.mark.parametrize(("overrides", "option"), [
    ({"rabbit_quorum_queue": True, "rabbit_ha_queues": True}, "rabbit_quorum_queue"),
    ({"conn_pool_min_size": 5, "rpc_conn_pool_size": 2}, "conn_pool_min_size"),
    ({"ssl_ca_file": "/nonexistent/ca.pem"}, "ssl_ca_file"),
    ({"ssl_cert_file": __file__}, "ssl_cert_file"),
    ({"rabbit_stream_fanout": True}, "rabbit_stream_fanout"),
    ({"kombu_compression": "snappy-ish"}, "kombu_compression"),
    ({"rabbit_retry_interval": 10.0, "rabbit_interval_max": 2.0}, "rabbit_interval_max"),
])
def test_bad_values_name_the_option(overrides: dict, option: str) -> None:
    conf = make_conf()
    load_settings(conf)  # registers the group
    for name, value in overrides.items():
        conf.set_override(name, value, group="msgframework_rabbit")
    with pytest.raises(ConfigurationError) as info:
        load_settings(conf)
    assert info.value.option == f"[msgframework_rabbit] {option}"


def test_out_of_range_query_value_names_the_option() -> None:
    with pytest.raises(ConfigurationError, match="kombu_reconnect_delay"):
        load_settings(make_conf(), {"kombu_reconnect_delay": "9"})


def test_settings_are_frozen() -> None:
    s = load_settings(make_conf())
    with pytest.raises(AttributeError):
        s.confirm_timeout = 1  # type: ignore[misc]


def test_hosts_fail_over_round_robin_and_password_stays_out_of_labels() -> None:
    url = TransportURL.parse(None, "rabbit://u:secret@a:1,u:secret@b:2/vh")
    hosts = HostList(url, RabbitSettings())
    assert [h.label for h in hosts.order()] == ["u:****@a:1", "u:****@b:2"]
    hosts.mark_failed(hosts.hosts[0])
    assert [h.label for h in hosts.order()] == ["u:****@b:2", "u:****@a:1"]
    assert hosts.hosts[1].kwargs["virtual_host"] == "vh"


def test_backoff_grows_to_its_cap_with_bounded_jitter() -> None:
    backoff = Backoff(RabbitSettings(retry_interval=1, retry_backoff=2, interval_max=4,
                                     reconnect_delay=0.5, reconnect_splay=0.25))
    assert 1.5 <= backoff.delay(1) <= 1.75
    assert 3.5 <= backoff.delay(2) <= 3.75
    assert 4.5 <= backoff.delay(10) <= 4.75


def test_topology_names_and_arguments_follow_oslo() -> None:
    topo = Topology(RabbitSettings(quorum_queue=True, quorum_delivery_limit=3), "nova")
    topic = topo.rpc_topic(None, "compute")
    assert (topic.name, topic.routing_key, topic.exchange.name) == ("compute", "compute", "nova")
    assert topic.durable and topic.arguments == {"x-queue-type": "quorum",
                                                 "x-delivery-limit": 3}
    server = topo.rpc_server("other", "compute", "host1")
    assert (server.name, server.exchange.name) == ("compute.host1", "other")
    fanout = topo.rpc_fanout("compute")
    assert fanout.name.startswith("compute_fanout_") and fanout.routing_key == "compute"
    assert fanout.exchange.name == "compute_fanout" and fanout.exchange.type == "fanout"
    assert fanout.arguments == {"x-expires": 1800000} and not fanout.durable
    reply = topo.reply()
    assert reply.name.startswith("reply_") and reply.exchange.name == ""
    pool = topo.notification(None, "notifications.info", "mypool")
    assert (pool.name, pool.routing_key) == ("mypool", "notifications.info")
    assert topo.dead_letter_queue(None).name == "nova.dlq"


def test_tls_options_are_ones_py_amqp_accepts() -> None:
    import inspect
    import ssl

    from amqp.transport import SSLTransport

    accepted = set(inspect.signature(SSLTransport._wrap_socket_sni).parameters) - {"self",
                                                                                  "sock"}
    checked = RabbitSettings(ssl=True, ssl_ca_file=__file__, ssl_cert_file=__file__,
                             ssl_key_file=__file__).ssl_options()
    assert isinstance(checked, dict) and set(checked) <= accepted
    assert checked["cert_reqs"] == ssl.CERT_REQUIRED and "server_hostname" in checked
    unchecked = RabbitSettings(ssl=True, ssl_ca_file=__file__,
                               ssl_verify_hostname=False).ssl_options()
    # py-amqp checks the host name exactly when it is given one
    assert isinstance(unchecked, dict) and set(unchecked) <= accepted
    assert "server_hostname" not in unchecked
    assert RabbitSettings().ssl_options() is False


def test_quorum_queues_are_never_auto_delete() -> None:
    # RabbitMQ refuses auto-delete quorum queues (406), so amqp_auto_delete yields
    topo = Topology(RabbitSettings(quorum_queue=True, auto_delete=True), "nova")
    assert not topo.rpc_topic(None, "compute").auto_delete
    assert not topo.notification(None, "n.info").auto_delete
    assert Topology(RabbitSettings(auto_delete=True), "nova").rpc_topic(None, "c").auto_delete
