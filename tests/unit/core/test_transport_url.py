"""TransportURL parsing, rendering and redaction, as the module docstring promises."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from msgframework.exceptions import InvalidTransportURL
from msgframework.transport_url import TransportHost, TransportURL, redact_url


def parse(url: str) -> TransportURL:
    return TransportURL.parse(cfg.ConfigOpts(), url)


def test_several_hosts_with_their_own_credentials() -> None:
    url = parse("rabbit://u1:p1@h1:5672,u2:p2@h2:5673,h3/vh")
    assert url.transport == "rabbit"
    assert url.hosts == [TransportHost("h1", 5672, "u1", "p1"),
                         TransportHost("h2", 5673, "u2", "p2"),
                         TransportHost("h3", None, None, None)]
    assert url.virtual_host == "vh"


@pytest.mark.parametrize("text, hostname, port", [
    ("rabbit://[::1]:5672/", "::1", 5672),
    ("rabbit://[fe80::1]/", "fe80::1", None),
    ("rabbit://u:p@[::1]:1/", "::1", 1),
])
def test_ipv6_in_brackets(text: str, hostname: str, port: int | None) -> None:
    (host,) = parse(text).hosts
    assert (host.hostname, host.port) == (hostname, port)
    assert f"[{hostname}]" in str(parse(text))


def test_percent_quoting_round_trips() -> None:
    url = parse("rabbit://us%40er:p%3Ass%2Fw@h/v%2Fh")
    (host,) = url.hosts
    assert (host.username, host.password) == ("us@er", "p:ss/w")
    assert url.virtual_host == "v/h"
    assert parse(str(url)) == url


@pytest.mark.parametrize("text, vhost", [
    ("rabbit://h", None), ("rabbit://h/", ""), ("rabbit://h//", "/"), ("rabbit://h/x", "x"),
])
def test_virtual_host_forms(text: str, vhost: str | None) -> None:
    url = parse(text)
    assert url.virtual_host == vhost
    assert parse(str(url)).virtual_host == vhost


def test_query_repeated_keys_joined_by_commas() -> None:
    url = parse("rabbit://h/?a=1&a=2&b=3&empty=")
    assert url.query == {"a": "1,2", "b": "3", "empty": ""}


def test_driver_name_is_the_part_before_plus() -> None:
    assert parse("kombu+memory:///").driver_name == "kombu"
    assert parse("memory://").driver_name == "memory"


def test_password_never_in_repr_or_redacted() -> None:
    url = parse("rabbit://user:s3cr3t@h1,other:t0psecret@h2/")
    for text in (repr(url), url.redacted(), repr(url.hosts[0]), repr(url.hosts)):
        assert "s3cr3t" not in text and "t0psecret" not in text
    assert "user:****@h1" in url.redacted()
    assert "s3cr3t" in str(url)  # str() hands the URL on, whole


@pytest.mark.parametrize("text", [
    "rabbit://u:s3cr3t@h:99999/",
    "rabbit://u:s3cr3t@h:port/",
    "rabbit://u:s3cr3t@[::1/",
    "rabbit://u:s3cr3t@[::1]x/",
    "rabbit://u:s3/cr3t@h/",
    "rabbit://u:s3#cr3t@h/",
    "rabbit://u:s3?cr3t@h/",
    "rabbit://u:s3#cr3t@h:5672/vh",
    "rabbit://u:s3?cr3t@h1,v:t0p#cr3t@h2/",
    "rabbit://u:s3/c#cr3t@h/",
    "rabbit://u:s3#c/cr3t@h/",
    "rabbit://u:s3,cr3t@h/",
    "rabbit://u:s3\u2100cr3t@h/",  # urlsplit's own error quotes the netloc
])
def test_password_never_in_errors(text: str) -> None:
    with pytest.raises(InvalidTransportURL) as info:
        parse(text)
    assert "cr3t" not in str(info.value)
    assert "cr3t" not in info.value.url
    assert "cr3t" not in redact_url(text)


@pytest.mark.parametrize("text, char, quoted", [
    ("rabbit://u:s3/cr3t@h/", "'/'", "%2F"),
    ("rabbit://u:s3#cr3t@h/", "'#'", "%23"),
    ("rabbit://u:s3?cr3t@h/", "'?'", "%3F"),
    ("rabbit://u:s3,cr3t@h/", "','", "%2C"),
])
def test_unquoted_delimiter_in_password_says_how_to_quote(text: str, char: str,
                                                          quoted: str) -> None:
    with pytest.raises(InvalidTransportURL, match="unquoted") as info:
        parse(text)
    assert char in str(info.value) and quoted in str(info.value)
    assert info.value.url == "rabbit://u:****@h/"


@pytest.mark.parametrize("text, vhost, query", [
    ("rabbit://u:p@h/vh?x=a@b", "vh", {"x": "a@b"}),
    ("rabbit://h:5672/v@x", "v@x", {}),
    ("rabbit://h:5672/?x=a@b", "", {"x": "a@b"}),
    ("rabbit://[::1]:5/v@x", "v@x", {}),
])
def test_at_sign_after_the_hosts_is_not_taken_for_credentials(
        text: str, vhost: str, query: dict[str, str]) -> None:
    url = parse(text)
    assert (url.virtual_host, url.query) == (vhost, query)
    assert redact_url(text) == text.replace(":p@", ":****@")


def test_quoted_delimiters_in_password_round_trip() -> None:
    url = parse("rabbit://u:s3%23c%3Fr%2Ce%2Ft@h/")
    assert url.hosts[0].password == "s3#c?r,e/t"
    assert parse(str(url)) == url
    assert "s3" not in url.redacted()


@pytest.mark.parametrize("text, problem", [
    ("no-scheme-here", "No scheme"), ("rabbit://h:99999/", "out of range"),
    ("rabbit://h:abc/", "Invalid port"),
])
def test_errors_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidTransportURL, match=problem):
        parse(text)


def test_wrong_type_is_an_error() -> None:
    with pytest.raises(InvalidTransportURL, match="Wrong URL type"):
        TransportURL.parse(None, 42)  # type: ignore[arg-type]


def test_empty_url_falls_back_to_conf_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("transport_url"))
    conf.set_override("transport_url", "memory://fromconf")
    assert TransportURL.parse(conf).hosts[0].hostname == "fromconf"
    monkeypatch.setenv("MSGFRAMEWORK_TRANSPORT_URL", "memory://fromenv")
    assert TransportURL.parse(None).hosts[0].hostname == "fromenv"


def test_equality_and_hash() -> None:
    a, b = parse("rabbit://u:p@h:1/v"), parse("rabbit://u:p@h:1/v")
    assert a == b and hash(a) == hash(b)
    assert a != parse("rabbit://u:p@h:2/v")
    assert len({a, b}) == 1


def test_redact_url_of_malformed_text() -> None:
    assert redact_url("rabbit://u:pw@h,v:pw2@[::1/x") == "rabbit://u:****@h,v:****@[::1/x"
    assert redact_url("not a url") == "not a url"
    assert redact_url("sqlite:///tmp/a@b/x.db") == "sqlite:///tmp/a@b/x.db"
