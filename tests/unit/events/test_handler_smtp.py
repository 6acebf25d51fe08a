"""The ``smtp`` handler against a real SMTP server (aiosmtpd) on the loopback."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import socket
import threading

import pytest

from msgframework.events import Event, EventManager
from msgframework.events.handlers.smtp import SMTPHandler
from msgframework.exceptions import EventError

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")


class _Sink:
    """Collects messages; refuses recipients at ``refused.example``."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.received = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        self.received.set()
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    sink = _Sink()
    for _ in range(5):
        controller = aiosmtpd_controller.Controller(
            sink, hostname="127.0.0.1", port=_free_port(), ready_timeout=10)
        try:
            controller.start()
            break
        except OSError:  # the port was taken between probe and bind
            continue
    else:
        pytest.fail("could not start the test SMTP server")
    try:
        yield controller, sink
    finally:
        controller.stop()


def _parse(envelope):
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def test_sends_event_with_attachments(smtp_server, tmp_path):
    controller, sink = smtp_server
    (tmp_path / "build.log").write_text("compiling...\ndone\n")
    (tmp_path / "core.bin").write_bytes(b"\x00" * 3000)
    (tmp_path / "huge.bin").write_bytes(b"H" * 5000)
    with Event("build", project="nova") as ev:
        ev.attach_file(tmp_path / "build.log", "build.log")
        ev.attach_file(tmp_path / "core.bin", "core.bin", inline_limit=100)  # by reference
        ev.attach_file(tmp_path / "huge.bin", "huge.bin", inline_limit=100)
    handler = SMTPHandler(sender="ci@example.org", to="ops@example.org, dev@example.org",
                          host="127.0.0.1", port=controller.port, timeout=5,
                          max_attachment_size=4000)
    result = EventManager({"smtp": handler}).send_event(ev)
    assert result.ok, result.error
    assert sink.received.wait(timeout=5)
    (env,) = sink.envelopes
    assert env.mail_from == "ci@example.org"
    assert sorted(env.rcpt_tos) == ["dev@example.org", "ops@example.org"]
    msg = _parse(env)
    assert msg["Subject"] == f"[event] build ({ev.uid})"
    body = msg.get_body(("plain",)).get_content()
    assert json.JSONDecoder().raw_decode(body)[0] == ev.as_dict()
    assert "huge.bin" in body and ev.attachments["huge.bin"].sha1 in body
    files = {part.get_filename(): part.get_payload(decode=True)
             for part in msg.iter_attachments()}
    assert files["build.log"] == b"compiling...\ndone\n"
    assert hashlib.sha1(files["build.log"]).hexdigest() == ev.attachments["build.log"].sha1
    assert files["core.bin"] == b"\x00" * 3000
    assert "huge.bin" not in files


def test_changed_referenced_attachment_is_listed_not_sent(smtp_server, tmp_path):
    controller, sink = smtp_server
    path = tmp_path / "log"
    path.write_bytes(b"a" * 500)
    ev = Event("x")
    ev.attach_file(path, inline_limit=10)
    path.write_bytes(b"b" * 500)
    SMTPHandler(sender="a@example.org", to="b@example.org", host="127.0.0.1",
                port=controller.port, timeout=5).send_event(ev)
    assert sink.received.wait(timeout=5)
    msg = _parse(sink.envelopes[0])
    assert list(msg.iter_attachments()) == []
    assert "changed since it was attached" in msg.get_body(("plain",)).get_content()


def test_refused_recipient_is_a_failure_with_reason(smtp_server):
    controller, sink = smtp_server
    handler = SMTPHandler(sender="a@example.org", to="ok@example.org, no@refused.example",
                          host="127.0.0.1", port=controller.port, timeout=5)
    result = EventManager({"smtp": handler}).send_event(Event("x"))
    assert result.failed == {"smtp": f"smtp 127.0.0.1:{controller.port}: "
                                     "recipients refused: no@refused.example"}


def test_unreachable_server_fails_with_reason_and_others_still_run(tmp_path):
    from msgframework.events.handlers.file import FileHandler

    port = _free_port()  # nothing listens there
    mgr = EventManager({
        "smtp": SMTPHandler(sender="a@x.org", to="b@x.org", host="127.0.0.1", port=port,
                            timeout=2),
        "file": FileHandler(tmp_path),
    })
    result = mgr.send_event(Event("x"))
    assert list(result.failed) == ["smtp"]
    assert result.failed["smtp"].startswith(f"smtp 127.0.0.1:{port}: ConnectionRefusedError")
    assert result.succeeded == ["file"]


def test_starttls_against_a_server_without_it_fails_clearly(smtp_server):
    controller, _ = smtp_server
    handler = SMTPHandler(sender="a@x.org", to="b@x.org", host="127.0.0.1",
                          port=controller.port, timeout=5, starttls=True)
    with pytest.raises(EventError, match="STARTTLS"):
        handler.send_event(Event("x"))


@pytest.mark.parametrize("kwargs, match", [
    ({"to": ""}, "no recipient"),
    ({"sender": ""}, "'from'"),
    ({"starttls": True, "use_ssl": True}, "not both"),
    ({"timeout": 0}, "timeout"),
    ({"user": "u"}, "together"),
])
def test_configuration_errors(kwargs, match):
    args = {"sender": "a@x.org", "to": "b@x.org", **kwargs}
    with pytest.raises(EventError, match=match):
        SMTPHandler(**args)


def test_config_strings_and_secret_repr():
    kwargs = SMTPHandler.decode_config({"from": "a@x.org", "to": "b@x.org", "port": "587",
                                        "starttls": "yes", "timeout": "2.5",
                                        "user": "u", "password": "pw"})
    handler = SMTPHandler(**kwargs)
    assert handler.port == 587 and handler.starttls and handler.timeout == 2.5
    assert "pw" not in repr(handler) and "***" in repr(handler)
    assert handler.encode_config()["password"] == "pw"  # shared with child processes
    assert SMTPHandler(sender="a@x.org", to="b@x.org", use_ssl=True).port == 465
