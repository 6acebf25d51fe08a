"""Smoke interop with the real oslo.messaging (the full suite lives in tests/interop)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from oslo_config import cfg

from msgframework.drivers.rabbit.driver import RabbitDriver
from msgframework.target import Target
from tests.functional.conftest import RABBIT_URL, Cleanup, skip_or_fail

try:
    import oslo_messaging
except ImportError as exc:  # the interop extra; CI installs it
    skip_or_fail(f"oslo.messaging is not installed: {exc}", allow_module_level=True)


def oslo_conf(exchange: str) -> cfg.ConfigOpts:
    from oslo_messaging import opts as oslo_opts

    conf = cfg.ConfigOpts()
    conf([], project="oslo-smoke")
    from oslo_messaging._tracing import client as oslo_tracing

    for group, opts in oslo_opts.list_opts():  # oslo reads some without registering them
        conf.register_opts(opts, group=group)
    conf.register_opts(oslo_tracing.oslo_messaging_tracing, group="oslo_messaging_tracing")
    conf.set_override("control_exchange", exchange)
    return conf


def test_oslo_notifier_to_our_listener(driver: RabbitDriver, exchange: str,
                                       unique: Callable, cleanup: Cleanup) -> None:
    topic = unique("notifications")
    cleanup.queues.add(f"{topic}.info")
    listener = driver.listen_for_notifications([(Target(topic=topic), "info")])
    transport = oslo_messaging.get_notification_transport(oslo_conf(exchange), url=RABBIT_URL)
    try:
        notifier = oslo_messaging.Notifier(transport, publisher_id="oslo.test",
                                           driver="messagingv2", topics=[topic])
        notifier.info({"request_id": "req-1"}, "compute.instance.create", {"id": 7})
        [message] = listener.poll(timeout=10)
        assert message.message["event_type"] == "compute.instance.create"
        assert message.message["payload"] == {"id": 7}
        assert message.message["publisher_id"] == "oslo.test"
        assert isinstance(message.ctxt, dict)  # oslo drops dict contexts of notifications
        message.acknowledge()
    finally:
        transport.cleanup()
        listener.cleanup()


class _Endpoint:
    def echo(self, ctxt: dict, **kwargs: object) -> dict:
        return {"kwargs": kwargs, "user": ctxt.get("user")}

    def boom(self, ctxt: dict) -> None:
        raise ValueError("no luck")


def test_our_client_to_an_oslo_server(driver: RabbitDriver, exchange: str,
                                      unique: Callable, cleanup: Cleanup) -> None:
    topic = unique("topic")
    cleanup.rpc(exchange, topic, "oslo")
    transport = oslo_messaging.get_rpc_transport(oslo_conf(exchange), url=RABBIT_URL)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server="oslo"), [_Endpoint()],
        executor="threading")
    server.start()
    try:
        result = driver.send(Target(topic=topic), {"user": "bob"},
                             {"method": "echo", "args": {"x": 1}},
                             wait_for_reply=True, timeout=15)
        assert result == {"kwargs": {"x": 1}, "user": "bob"}
        with pytest.raises(ValueError, match="no luck"):
            driver.send(Target(topic=topic, server="oslo"), {}, {"method": "boom", "args": {}},
                        wait_for_reply=True, timeout=15)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
