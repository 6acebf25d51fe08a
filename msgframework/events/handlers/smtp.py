"""The ``smtp`` event handler: e-mail each event, with its attachments.

The body is the event as indented JSON. Inline attachments are attached as
files (MIME type guessed from the name). Attachments carried by reference are
re-read and attached when at most ``max_attachment_size`` bytes and still
matching their SHA-1; otherwise the body lists them by path, size and SHA-1
together with the reason, so nothing is dropped without a trace.

Options (config key -> parameter): ``host``, ``port`` (25, or 465 with
``ssl``), ``from`` -> ``sender``, ``to`` (addresses separated by commas, which
the env grammar escapes as ``\\,``), ``subject`` (a ``str.format`` template
with ``{name}`` and ``{uid}``), ``starttls``, ``ssl``, ``timeout`` (seconds,
always bounded), ``user``, ``password`` (never shown in reprs),
``max_attachment_size``.
"""

from __future__ import annotations

import json
import mimetypes
import smtplib
import ssl as ssl_mod
from email.message import EmailMessage
from email.utils import formataddr, getaddresses
from typing import TYPE_CHECKING, ClassVar

from msgframework.events.handlers.base import ConfigField, EventHandler
from msgframework.exceptions import EventError

if TYPE_CHECKING:
    from msgframework.events.event import Event

__all__ = ["SMTPHandler"]

DEFAULT_SUBJECT = "[event] {name} ({uid})"


def _addresses(value: str | list[str] | tuple[str, ...]) -> list[str]:
    raw = [value] if isinstance(value, str) else list(value)
    return [addr for _, addr in getaddresses(raw) if addr]


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class SMTPHandler(EventHandler):
    """Send each event by e-mail through an SMTP server."""

    plugin_name = "smtp"
    config_fields: ClassVar[dict[str, ConfigField]] = {
        "host": ConfigField(str),
        "port": ConfigField(int),
        "from": ConfigField(str, attr="sender"),
        "to": ConfigField(str),
        "subject": ConfigField(str),
        "starttls": ConfigField(bool),
        "ssl": ConfigField(bool, attr="use_ssl"),
        "timeout": ConfigField(float),
        "user": ConfigField(str),
        "password": ConfigField(str, secret=True),
        "max_attachment_size": ConfigField(int),
    }

    def __init__(self, sender: str, to: str | list[str], host: str = "localhost",
                 port: int | None = None, subject: str = DEFAULT_SUBJECT,
                 starttls: bool = False, use_ssl: bool = False, timeout: float = 30.0,
                 user: str | None = None, password: str | None = None,
                 max_attachment_size: int = 10 * 1024 * 1024) -> None:
        recipients = _addresses(to)
        if not recipients:
            raise EventError("event handler 'smtp': 'to' names no recipient")
        if not _addresses(sender):
            raise EventError("event handler 'smtp': 'from' is not an address")
        if starttls and use_ssl:
            raise EventError("event handler 'smtp': choose starttls or ssl, not both")
        if not timeout or timeout <= 0:
            raise EventError("event handler 'smtp': timeout must be a positive number")
        if (user is None) != (password is None):
            raise EventError("event handler 'smtp': user and password go together")
        self.sender = sender
        self.recipients = recipients
        self.to = ", ".join(to) if not isinstance(to, str) else to
        self.host = host
        self.port = port if port is not None else (465 if use_ssl else 25)
        self.subject = subject
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout = float(timeout)
        self.user = user
        self.password = password
        self.max_attachment_size = max_attachment_size
        #: The SSL context for ssl/starttls; replace it to trust a private CA.
        self.ssl_context = ssl_mod.create_default_context()

    def build_message(self, event: Event) -> EmailMessage:
        """The e-mail for ``event`` (public so it can be inspected or customised)."""
        msg = EmailMessage()
        try:
            subject = self.subject.format(name=event.name, uid=event.uid)
        except (KeyError, IndexError, ValueError) as exc:
            raise EventError(f"event handler 'smtp': bad subject template: {exc!r}") from exc
        # A newline in an event name must not inject headers.
        msg["Subject"] = " ".join(subject.splitlines())
        msg["From"] = self.sender
        msg["To"] = ", ".join(formataddr(("", a)) for a in self.recipients)
        notes: list[str] = []
        files: list[tuple[str, bytes]] = []
        for name, att in event.attachments.items():
            if att.inline:
                files.append((name, att.read()))
                continue
            if att.size > self.max_attachment_size:
                why = f"larger than {self.max_attachment_size} bytes"
            else:
                try:
                    files.append((name, att.read()))
                    continue
                except EventError as exc:
                    why = str(exc)
            notes.append(f"- {name}: {att.path} ({att.size} bytes, sha1 {att.sha1}) "
                         f"not attached: {why}")
        body = json.dumps(event.as_dict(), indent=2, sort_keys=True)
        if notes:
            body += "\n\nAttachments by reference:\n" + "\n".join(notes)
        msg.set_content(body + "\n")
        for name, data in files:
            ctype, _ = mimetypes.guess_type(name)
            if ctype is None and _is_text(data):
                ctype = "text/plain"  # log files (*.log, no suffix) read as text in mail
            maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
            # Always as bytes (base64): the recipient gets exactly the attached
            # bytes, whose SHA-1 matches the event's, line endings included.
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        return msg

    def send_event(self, event: Event) -> None:
        msg = self.build_message(event)
        where = f"{self.host}:{self.port}"
        try:
            if self.use_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.ssl_context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=self.ssl_context)
                if self.user is not None and self.password is not None:
                    client.login(self.user, self.password)
                refused = client.send_message(msg, from_addr=_addresses(self.sender)[0],
                                              to_addrs=self.recipients)
        except (smtplib.SMTPException, OSError) as exc:
            raise EventError(f"smtp {where}: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise EventError(f"smtp {where}: recipients refused: {', '.join(sorted(refused))}")
