"""The ``notify`` handler: events as notifications through msgframework's Notifier."""

from __future__ import annotations

import base64
import threading
import uuid

import pytest

from msgframework.events import Event, EventManager
from msgframework.events.handlers.file import FileHandler
from msgframework.events.handlers.notify import NotifyHandler
from msgframework.exceptions import EventError


def test_configuration_and_secrets():
    handler = NotifyHandler(url="rabbit://user:s3cret@broker:5672/", priority="WARN")
    assert handler.priority == "warn"
    assert "s3cret" not in repr(handler)
    assert NotifyHandler(**NotifyHandler.decode_config(handler.encode_config())).url == \
        handler.url
    with pytest.raises(EventError, match="unknown priority 'loud'"):
        NotifyHandler(url="memory://", priority="loud")
    with pytest.raises(EventError, match="'url' is required"):
        NotifyHandler(url="")


def test_event_type_and_payload(tmp_path):
    (tmp_path / "small").write_bytes(b"abc")
    (tmp_path / "big").write_bytes(b"x" * 500)
    with Event("build", ok=True) as ev:
        ev.attach_file(tmp_path / "small", "small")
        ev.attach_file(tmp_path / "big", "big")  # inline in the event, too big for a message
    handler = NotifyHandler(url="memory://", max_inline=100)
    assert handler.event_type(ev) == "event.build"
    assert NotifyHandler(url="memory://", event_type_prefix="").event_type(ev) == "build"
    payload = handler.payload(ev)
    assert payload["event"] == ev.as_dict()
    assert base64.b64decode(payload["attachments"]["small"]["content_b64"]) == b"abc"
    big = payload["attachments"]["big"]
    assert "content_b64" not in big and not big["inline"]
    assert big["sha1"] == ev.attachments["big"].sha1


def test_unusable_transport_is_reported_without_the_password(tmp_path):
    mgr = EventManager({
        "notify": NotifyHandler(url="nosuchdriver://user:s3cret@host/"),
        "file": FileHandler(tmp_path),
    })
    result = mgr.send_event(Event("x"))
    assert list(result.failed) == ["notify"]
    assert result.failed["notify"].startswith("notify nosuchdriver://user:****@host/")
    assert "s3cret" not in result.failed["notify"]
    assert result.succeeded == ["file"]


def _transport_url(kind: str, tmp_path) -> str:
    if kind == "memory":
        pytest.importorskip("msgframework.drivers.memory.driver")
        return f"memory://events-{uuid.uuid4().hex}"
    return f"sqlite://{tmp_path}/bus.db"


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_events_arrive_as_notifications(tmp_path, kind):
    listener_mod = pytest.importorskip("msgframework.notify.listener")
    from oslo_config import cfg

    from msgframework.target import Target
    from msgframework.transport import get_notification_transport

    url = _transport_url(kind, tmp_path)
    received: list[tuple] = []
    arrived = threading.Event()

    class Endpoint:
        def warn(self, ctxt, publisher_id, event_type, payload, metadata):
            received.append((publisher_id, event_type, payload))
            arrived.set()

    transport = get_notification_transport(cfg.ConfigOpts(), url=url)
    listener = listener_mod.get_notification_listener(
        transport, [Target(topic="events")], [Endpoint()], executor="threading")
    listener.start()
    try:
        (tmp_path / "log").write_text("hello")
        with Event("deploy", region="eu") as ev:
            ev.attach_file(tmp_path / "log")
        handler = NotifyHandler(url=url, topic="events", priority="warn",
                                publisher_id="ci.host1")
        with EventManager({"notify": handler}) as mgr:
            result = mgr.send_event(ev)
            assert result.ok, result.error
            assert arrived.wait(timeout=10)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    ((publisher_id, event_type, payload),) = received
    assert publisher_id == "ci.host1" and event_type == "event.deploy"
    assert payload["event"] == ev.as_dict()
    assert base64.b64decode(payload["attachments"]["log"]["content_b64"]) == b"hello"
