"""Built-in consumers: hooks, log, file (JSON lines), e-mail against a real SMTP server, push."""

from __future__ import annotations

import json
import logging
import socket
import threading

import pytest

from msgframework.exceptions import MessageDeliveryFailure
from msgframework.hubs import (
    Consumer,
    EmailConsumer,
    FileConsumer,
    HubEvent,
    LogConsumer,
    PushConsumer,
    ReplayBuffer,
    read_events,
)

WAIT = 10.0


def ev(n=1, **payload):
    return HubEvent(event_type="backup.done", payload={"n": n, **payload},
                    publisher_id="backup.host1", priority="info", message_id=f"m{n}")


class Hooked(Consumer):
    def __init__(self, fail_in=None):
        super().__init__()
        self.calls = []
        self.fail_in = fail_in

    def _step(self, name, event):
        self.calls.append(name)
        if self.fail_in == name:
            raise RuntimeError(name)

    def before_consume(self, event):
        self._step("before", event)

    def consume(self, event):
        self._step("consume", event)

    def after_consume(self, event):
        self._step("after", event)


def test_hooks_run_in_order():
    c = Hooked()
    c.deliver(ev())
    assert c.calls == ["before", "consume", "after"]
    assert c.name == "Hooked"


@pytest.mark.parametrize("fail_in, expected", [
    ("before", ["before"]),
    ("consume", ["before", "consume"]),
])
def test_a_failing_step_stops_the_later_ones(fail_in, expected):
    c = Hooked(fail_in)
    with pytest.raises(RuntimeError):
        c.deliver(ev())
    assert c.calls == expected


def test_log_consumer(caplog):
    caplog.set_level(logging.INFO, logger="audit")
    LogConsumer("audit", level="warning").deliver(ev(3))
    [record] = [r for r in caplog.records if r.name == "audit"]
    assert record.levelno == logging.WARNING
    assert "backup.done from backup.host1 [m3]" in record.getMessage()
    assert '"n": 3' in record.getMessage()
    with pytest.raises(ValueError, match="unknown logging level"):
        LogConsumer(level="LOUD")


def test_file_consumer_writes_json_lines_that_read_back(tmp_path):
    path = tmp_path / "events.jsonl"
    consumer = FileConsumer(path)
    threads = [threading.Thread(target=lambda i=i: consumer.deliver(ev(i, text="é" * 500)))
               for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    consumer.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 20
    assert all(json.loads(line)["event_type"] == "backup.done" for line in lines)
    events = read_events(path)
    assert sorted(e.payload["n"] for e in events) == list(range(20))
    assert {e.message_id for e in events} == {f"m{i}" for i in range(20)}


def test_push_consumer_appends_to_the_buffer():
    buffer = ReplayBuffer(capacity=10)
    PushConsumer(buffer, channel="ops").deliver(ev(7))
    replay = buffer.since(None, "ops")
    assert [e.data["payload"]["n"] for e in replay.events] == [7]
    assert buffer.since(None, "other").events == []


smtp = pytest.importorskip("msgframework.testing.smtp")
pytest.importorskip("aiosmtpd")


@pytest.fixture
def sink():
    with smtp.smtp_sink() as s:
        yield s


def test_email_consumer_sends_through_a_real_smtp_server(sink):
    consumer = EmailConsumer("hub@example.org", to=["ops@example.org"], host=sink.host,
                             port=sink.port, timeout=WAIT, to_event_recipients=True)
    consumer.deliver(ev(5, recipients=["ann@example.org", "not-an-address"]))
    assert sink.wait_for(1, WAIT)
    msg = sink.messages[0]
    assert msg["Subject"] == "[info] backup.done"
    assert msg["From"] == "hub@example.org"
    assert sorted(sink.envelopes[0].rcpt_tos) == ["ann@example.org", "ops@example.org"]
    body = json.loads(msg.get_content())
    assert body["payload"]["n"] == 5 and body["message_id"] == "m5"


def test_email_refused_recipient_is_a_delivery_failure(sink):
    consumer = EmailConsumer("hub@example.org", to=["x@" + smtp.REFUSED_DOMAIN],
                             host=sink.host, port=sink.port, timeout=WAIT)
    with pytest.raises(MessageDeliveryFailure, match="could not mail") as info:
        consumer.deliver(ev())
    assert info.value.__cause__ is not None


def test_email_unreachable_server_fails_within_the_timeout():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    consumer = EmailConsumer("hub@example.org", to="ops@example.org", host="127.0.0.1",
                             port=port, timeout=2, password="s3cret")
    with pytest.raises(MessageDeliveryFailure, match=f"127.0.0.1:{port}"):
        consumer.deliver(ev())
    assert "s3cret" not in repr(consumer)


def test_email_needs_somebody_to_write_to():
    with pytest.raises(ValueError, match="to_event_recipients"):
        EmailConsumer("hub@example.org")
    with pytest.raises(ValueError, match="not an e-mail address"):
        EmailConsumer("nobody", to="ops@example.org")
