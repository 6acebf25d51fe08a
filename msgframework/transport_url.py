"""TransportURL and TransportHost: parse, render and redact transport URLs.

Form: ``driver[+sub]://[user:pass@]host:port[,[user:pass@]host2:port2]/vhost?k=v``.

Parsing follows oslo.messaging's rules (several hosts, credentials per host,
IPv6 in brackets, percent-quoting, the virtual host forms ``h`` -> None,
``h/`` -> ``''``, ``h//`` -> ``'/'``), with one deliberate difference: the
password never shows in ``repr()`` or in any error text, even when it holds
an unquoted ``/``, ``?``, ``#`` or ``,`` (such a URL is refused, asking to
percent-quote the character). ``str()`` renders the full URL, as oslo's does
(it is needed to hand the URL on); use :meth:`TransportURL.redacted` for logs.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from msgframework.exceptions import InvalidTransportURL

__all__ = ["TransportHost", "TransportURL", "redact_url"]

_MASK = "****"


class TransportHost:
    """One broker host of a transport URL, with its own credentials."""

    __slots__ = ("hostname", "port", "username", "password")

    def __init__(self, hostname: str | None = None, port: int | None = None,
                 username: str | None = None, password: str | None = None) -> None:
        self.hostname = hostname
        self.port = port
        self.username = username
        self.password = password

    def _key(self) -> tuple[Any, ...]:
        return (self.hostname, self.port, self.username, self.password)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportHost):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        password = _MASK if self.password else self.password
        return (f"<TransportHost hostname={self.hostname!r}, port={self.port!r}, "
                f"username={self.username!r}, password={password!r}>")

    def netloc(self, redact: bool = False) -> str:
        """Render ``user:pass@host:port`` with percent-quoting (password masked if asked)."""
        out = ""
        if self.username is not None or self.password is not None:
            out += urllib.parse.quote(self.username or "", safe="")
            if self.password is not None:
                secret = _MASK if redact else urllib.parse.quote(self.password, safe="")
                out += ":" + secret
            out += "@"
        if self.hostname:
            out += f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        if self.port is not None:
            out += f":{self.port}"
        return out


class TransportURL:
    """A parsed transport URL.

    ``str()`` renders the whole URL, **password included**, as
    oslo.messaging's ``TransportURL.__str__`` does: code handing the URL on
    (to a driver, a subprocess, a config file) relies on it. Never log or
    raise with ``str()``: use :meth:`redacted` (``repr()`` is redacted too,
    and so is every message msgframework itself logs or raises).

    :param conf: the ConfigOpts the URL belongs to (kept for oslo parity).
    :param transport: the scheme, e.g. ``rabbit`` or ``kombu+memory``.
    :param virtual_host: None, ``''`` or a name.
    :param hosts: the hosts, in order.
    :param query: query parameters; repeated keys joined with commas.
    """

    def __init__(self, conf: Any = None, transport: str | None = None,
                 virtual_host: str | None = None,
                 hosts: list[TransportHost] | None = None,
                 query: dict[str, str] | None = None) -> None:
        self.conf = conf
        self.transport = transport
        self.virtual_host = virtual_host
        self.hosts = list(hosts or [])
        self.query = dict(query or {})

    @property
    def driver_name(self) -> str:
        """The entry point name: the scheme's part before ``+``."""
        return (self.transport or "").split("+", 1)[0]

    def _key(self) -> tuple[Any, ...]:
        return (self.transport, self.virtual_host, tuple(self.hosts))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransportURL):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _render(self, redact: bool) -> str:
        url = f"{self.transport}://"
        url += ",".join(host.netloc(redact) for host in self.hosts)
        if self.virtual_host is not None:
            url += "/" + urllib.parse.quote(self.virtual_host, safe="/")
        if self.query:
            url += "?" + urllib.parse.urlencode(self.query, doseq=True)
        return url

    def __str__(self) -> str:
        return self._render(redact=False)

    def redacted(self) -> str:
        """The URL with every password replaced by ``****``: safe for logs."""
        return self._render(redact=True)

    def __repr__(self) -> str:
        return f"<TransportURL {self.redacted()}>"

    @classmethod
    def parse(cls, conf: Any, url: str | None = None) -> TransportURL:
        """Parse ``url`` (or ``conf.transport_url`` when it is empty).

        Raises :class:`InvalidTransportURL` naming what is wrong; the text in
        the error is redacted.
        """
        if not url:
            url = getattr(conf, "transport_url", None) if conf is not None else None
            if not url:
                from msgframework.opts import default_transport_url

                url = default_transport_url()
        if not isinstance(url, str):
            raise InvalidTransportURL(repr(type(url)), "Wrong URL type")
        safe = redact_url(url)
        split = _split_authority(url)
        unquoted = _unquoted_in_credentials(split[1]) if split is not None else []
        if unquoted:
            # Parsing on would take part of the password for a port, host,
            # path or query, and echo it in errors.
            chars = " and ".join(repr(c) for c in unquoted)
            quoted = ", ".join(f"{c!r} as {_QUOTED[c]}" for c in unquoted)
            hint = (" (an '@' in the path, query or fragment must be quoted as %40)"
                    if {"?", "#"} & set(unquoted) else "")
            raise InvalidTransportURL(
                safe, f"Credentials in {safe!r} contain an unquoted {chars}; "
                      f"percent-quote {quoted}{hint}")
        try:
            parsed = urllib.parse.urlsplit(url)
        except ValueError as exc:
            detail = str(exc)  # it may quote the netloc, password included
            safe_split = _split_authority(safe)
            if split is not None and safe_split is not None and split[1]:
                detail = detail.replace(split[1], safe_split[1])
            raise InvalidTransportURL(safe, f"Invalid transport URL {safe}: {detail}") from None
        if not parsed.scheme:
            raise InvalidTransportURL(safe, f"No scheme specified in {safe!r}")
        if split is not None and split[1] != parsed.netloc:
            raise InvalidTransportURL(safe, f"Cannot tell the hosts of {safe!r}")

        query: dict[str, str] = {}
        for key, values in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items():
            query[key] = ",".join(values)

        virtual_host = None
        if parsed.path.startswith("/"):
            virtual_host = urllib.parse.unquote(parsed.path[1:])

        hosts = [_parse_host(piece, safe) for piece in parsed.netloc.split(",") if piece]
        return cls(conf, parsed.scheme, virtual_host, hosts, query)


def _parse_host(piece: str, safe_url: str) -> TransportHost:
    username = password = None
    hostport = piece
    if "@" in piece:
        creds, _, hostport = piece.rpartition("@")
        user, sep, pwd = creds.partition(":")
        username = urllib.parse.unquote(user)
        password = urllib.parse.unquote(pwd) if sep else None
    hostname: str | None
    port: int | None = None
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise InvalidTransportURL(safe_url, f"Unclosed IPv6 bracket in {safe_url!r}")
        hostname = hostport[1:end]
        rest = hostport[end + 1:]
        if rest.startswith(":") and rest[1:]:
            port = _parse_port(rest[1:], safe_url)
        elif rest and rest != ":":
            raise InvalidTransportURL(safe_url, f"Invalid host {hostport!r} in {safe_url!r}")
    elif hostport.count(":") > 1:
        hostname = hostport  # bare IPv6 without a port
    else:
        name, sep, port_text = hostport.partition(":")
        hostname = name or None
        if sep and port_text:
            port = _parse_port(port_text, safe_url)
    return TransportHost(hostname=hostname, port=port, username=username, password=password)


def _parse_port(text: str, safe_url: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise InvalidTransportURL(safe_url, f"Invalid port {text!r} in {safe_url!r}") from None
    if not 0 <= port <= 65535:
        raise InvalidTransportURL(safe_url, f"Port {port} out of range in {safe_url!r}")
    return port


#: What a host piece of a netloc looks like: ``host``, ``host:port``,
#: ``[v6]``, ``[v6]:port`` or a bare IPv6 address.
_HOST_PIECE = re.compile(r"(\[[^\]]*\]|[^:@\[\]]*)(:\d*)?|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*")

#: Characters that end the authority; in credentials they must be percent-quoted.
_DELIMITERS = "/?#"
_QUOTED = {"/": "%2F", "?": "%3F", "#": "%23", ",": "%2C"}


def _looks_like_host(piece: str) -> bool:
    return _HOST_PIECE.fullmatch(piece) is not None


def _userinfo_end(rest: str) -> int:
    """Index of the ``@`` ending the credentials in ``rest`` (the URL after
    ``://``), or -1 when there are none.

    The standard rule ends the authority at the first ``/``, ``?`` or ``#``;
    a password holding one of them unquoted would then be cut and parsed as
    a port, host, path or query, and echoed in errors. So the credentials
    end at the last ``@`` before the first ``/`` even past ``?`` and ``#``;
    when there is no ``@`` before the first ``/`` and what precedes the
    first delimiter is no ``host[:port]`` (so the URL cannot be valid as
    written), at the last ``@`` before the first ``/`` that follows the next
    ``@``.
    """
    slash = rest.find("/")
    if slash < 0:
        slash = len(rest)
    at = rest.rfind("@", 0, slash)
    if at >= 0:
        return at
    first = min((i for i in (rest.find(c) for c in _DELIMITERS) if i >= 0), default=-1)
    if first < 0 or _looks_like_host(rest[:first].rpartition(",")[2]):
        return -1
    at = rest.find("@", first)
    if at < 0:
        return -1
    slash = rest.find("/", at)
    return rest.rfind("@", at, slash if slash >= 0 else len(rest))


def _split_authority(url: str) -> tuple[str, str, str] | None:
    """``(scheme, netloc, tail)`` of a URL string, None without ``://``.

    The netloc runs to the first ``/``, ``?`` or ``#`` after the credentials
    that :func:`_userinfo_end` finds, so a password holding one of those
    unquoted still counts as credentials (and gets masked).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    at = _userinfo_end(rest)
    end = len(rest)
    for stop in _DELIMITERS:
        idx = rest.find(stop, at + 1)
        if idx >= 0:
            end = min(end, idx)
    return scheme, rest[:end], rest[end:]


def _host_pieces(netloc: str) -> list[str]:
    """The netloc split at commas, as oslo does, except that a piece which is
    neither ``host[:port]`` nor has credentials is joined with the pieces
    after it up to the next one with an ``@``: it is the start of a password
    holding an unquoted ``,``."""
    pieces: list[str] = []
    pending: list[str] = []
    for piece in netloc.split(","):
        if pending:
            pending.append(piece)
            if "@" in piece:
                pieces.append(",".join(pending))
                pending = []
        elif "@" not in piece and ":" in piece and not _looks_like_host(piece):
            pending = [piece]
        else:
            pieces.append(piece)
    if pending:  # no '@' followed: a bad port after all, not a password
        pieces.extend(pending)
    return pieces


def _unquoted_in_credentials(netloc: str) -> list[str]:
    """The delimiters (and commas) found unquoted inside the credentials."""
    found: list[str] = []
    for piece in _host_pieces(netloc):
        creds = piece.rpartition("@")[0]
        found.extend(c for c in "/?#," if c in creds and c not in found)
    return found


def redact_url(url: str) -> str:
    """Mask the password of every host in a URL string, even a malformed one."""
    split = _split_authority(url)
    if split is None:
        return url
    scheme, netloc, tail = split
    pieces = []
    for piece in _host_pieces(netloc):
        if "@" in piece:
            creds, _, hostport = piece.rpartition("@")
            user, has_pwd, _pwd = creds.partition(":")
            piece = f"{user}:{_MASK}@{hostport}" if has_pwd else f"{user}@{hostport}"
            if any(c in user for c in "/?#,"):  # even the user name is cut: hide it too
                piece = f"{_MASK}@{hostport}"
        pieces.append(piece)
    return f"{scheme}://{','.join(pieces)}{tail}"
