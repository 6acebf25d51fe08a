"""EmailConsumer: send each event by e-mail through an SMTP server (smtplib).

Flask-Notifications' mail consumers needed a Flask-Mail app; this one only
needs an SMTP server. Every network step has a timeout, and SMTP failures
are raised as :class:`~msgframework.exceptions.MessageDeliveryFailure` with
the smtplib error chained, so the hub logs a clear reason.

Recipients: the fixed ``to`` list, plus, with ``to_event_recipients``, the
event's ``recipients`` that look like e-mail addresses.
"""

from __future__ import annotations

import json
import smtplib
import ssl as ssl_mod
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import getaddresses

from msgframework.exceptions import MessageDeliveryFailure
from msgframework.hubs.consumers.base import Consumer
from msgframework.hubs.event import HubEvent

__all__ = ["EmailConsumer", "DEFAULT_SUBJECT"]

DEFAULT_SUBJECT = "[{priority}] {event_type}"


def _addresses(values: Iterable[str] | str) -> list[str]:
    raw = [values] if isinstance(values, str) else list(values)
    return [addr for _, addr in getaddresses(raw) if "@" in addr]


class EmailConsumer(Consumer):
    """E-mail each event: the subject from a template, the body the event as JSON.

    :param sender: the From address.
    :param to: addresses that receive every event.
    :param host: SMTP server; ``port`` defaults to 25 (465 with ``use_ssl``).
    :param subject: ``str.format`` template over ``event_type``,
        ``priority``, ``publisher_id`` and ``message_id``.
    :param to_event_recipients: also mail the event's e-mail-like recipients.
    :param timeout: seconds for connecting and for each SMTP command.
    :param user: with ``password``, log in after STARTTLS/SSL.
    """

    def __init__(self, sender: str, to: Iterable[str] | str = (), host: str = "localhost",
                 port: int | None = None, subject: str = DEFAULT_SUBJECT,
                 to_event_recipients: bool = False, starttls: bool = False,
                 use_ssl: bool = False, timeout: float = 30.0, user: str | None = None,
                 password: str | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if not _addresses(sender):
            raise ValueError(f"EmailConsumer: sender {sender!r} is not an e-mail address")
        self.to = _addresses(to)
        if not self.to and not to_event_recipients:
            raise ValueError("EmailConsumer: give 'to' addresses or to_event_recipients=True")
        if timeout is None or timeout <= 0:
            raise ValueError("EmailConsumer: timeout must be a positive number of seconds")
        self.sender = sender
        self.host = host
        self.port = port or (465 if use_ssl else 25)
        self.subject = subject
        self.to_event_recipients = to_event_recipients
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = timeout
        self.user = user
        self._password = password

    def __repr__(self) -> str:  # never the password
        return f"<EmailConsumer {self.name!r} {self.host}:{self.port} to={self.to!r}>"

    def recipients_for(self, event: HubEvent) -> list[str]:
        """The addresses this event goes to (no duplicates, in order)."""
        found = list(self.to)
        if self.to_event_recipients:
            found += _addresses(list(event.recipients))
        return list(dict.fromkeys(found))

    def build_message(self, event: HubEvent, recipients: list[str]) -> EmailMessage:
        msg = EmailMessage()
        fields = {"event_type": event.event_type, "priority": event.priority,
                  "publisher_id": event.publisher_id, "message_id": event.message_id}
        msg["Subject"] = self.subject.format(**fields)
        msg["From"] = self.sender
        msg["To"] = ", ".join(recipients)
        msg.set_content(json.dumps(event.to_dict(), indent=2, default=str,
                                   ensure_ascii=False))
        return msg

    def consume(self, event: HubEvent) -> None:
        recipients = self.recipients_for(event)
        if not recipients:
            return  # nobody to tell: not a failure
        msg = self.build_message(event, recipients)
        try:
            smtp: smtplib.SMTP
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl_mod.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls and not self.use_ssl:
                    smtp.starttls(context=ssl_mod.create_default_context())
                if self.user:
                    smtp.login(self.user, self._password or "")
                refused = smtp.send_message(msg, from_addr=self.sender, to_addrs=recipients)
        except (smtplib.SMTPException, OSError) as exc:
            raise MessageDeliveryFailure(
                f"EmailConsumer {self.name!r}: could not mail event {event.message_id} "
                f"through {self.host}:{self.port}: {exc}") from exc
        if refused:
            raise MessageDeliveryFailure(
                f"EmailConsumer {self.name!r}: the server refused {sorted(refused)} "
                f"for event {event.message_id}")
