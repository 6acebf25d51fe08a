"""A real SMTP server on the loopback for tests: aiosmtpd collecting what it receives.

::

    with smtp_sink() as sink:
        EmailConsumer("a@example.org", to="b@example.org", port=sink.port, ...)
        ...
        assert sink.wait_for(1, timeout=10)
        sink.messages[0]["Subject"]

Recipients in the domain ``refused.example`` are refused (550), so tests
can exercise refusals. Needs ``aiosmtpd`` (the ``test`` extra).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

__all__ = ["SMTPSink", "smtp_sink", "REFUSED_DOMAIN"]

REFUSED_DOMAIN = "refused.example"


class SMTPSink:
    """The aiosmtpd handler: keeps envelopes and parsed messages, wakes waiters."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.envelopes: list[Any] = []
        self.messages: list[EmailMessage] = []
        self._cond = threading.Condition()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                          address: str, rcpt_options: Any) -> str:
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._cond:
            self.envelopes.append(envelope)
            self.messages.append(parsed)  # type: ignore[arg-type]
            self._cond.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until ``count`` messages arrived or ``timeout``; True when they did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.messages) >= count, timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_sink(attempts: int = 5) -> Iterator[SMTPSink]:
    """Run an SMTP server on 127.0.0.1 for the duration of the block."""
    from aiosmtpd.controller import Controller

    sink = SMTPSink()
    for _ in range(attempts):
        sink.port = _free_port()
        controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
        try:
            controller.start()
            break
        except OSError:  # the port was taken between probe and bind
            continue
    else:
        raise RuntimeError("could not start the test SMTP server")
    try:
        yield sink
    finally:
        controller.stop()
