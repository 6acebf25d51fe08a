"""URL forms of the SQLite transport and where they put the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from oslo_config import cfg

from msgframework.drivers.sqlite.location import database_path
from msgframework.exceptions import ConfigurationError, InvalidTransportURL
from msgframework.opts import default_transport_url
from msgframework.transport import get_rpc_transport
from msgframework.transport_url import TransportURL


def path_of(url: str) -> Path:
    return database_path(TransportURL.parse(None, url))


@pytest.mark.parametrize("url", ["sqlite:///var/lib/app/msgs.db",
                                 "sqlite:////var/lib/app/msgs.db",
                                 "sqlite:///var/lib/app/msgs.db?visibility_timeout=3"])
def test_three_and_four_slashes_are_absolute(url):
    assert path_of(url) == Path("/var/lib/app/msgs.db")


def test_no_slash_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert path_of("sqlite://msgs.db") == tmp_path / "msgs.db"
    assert path_of("sqlite://data/msgs.db") == tmp_path / "data" / "msgs.db"


def test_percent_escapes_are_decoded():
    assert path_of("sqlite:///tmp/with%20space/m.db") == Path("/tmp/with space/m.db")


def test_bare_scheme_is_the_default_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("MSGFRAMEWORK_TRANSPORT_URL", raising=False)
    expected = tmp_path / "msgframework" / "messages.db"
    assert path_of("sqlite://") == expected
    # The default URL written by opts names the same file.
    assert path_of(default_transport_url()) == expected


@pytest.mark.parametrize("url, words", [
    ("sqlite://user:secret@host/x.db", "credentials"),
    ("sqlite://a,b/x.db", "several"),
    ("sqlite://:memory:", "memory"),
])
def test_bad_urls_are_refused_clearly(url, words):
    with pytest.raises(InvalidTransportURL) as info:
        path_of(url)
    assert words in str(info.value)
    assert "secret" not in str(info.value)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InvalidTransportURL, match="directory"):
        path_of(f"sqlite://{tmp_path}")


def test_transport_creates_parent_directories(tmp_path):
    db = tmp_path / "a" / "b" / "m.db"
    transport = get_rpc_transport(cfg.ConfigOpts(), f"sqlite://{db}")
    try:
        assert db.exists()
    finally:
        transport.cleanup()


def test_unknown_query_parameter_names_the_known_ones(tmp_path):
    with pytest.raises(InvalidTransportURL, match="visibility_timeout"):
        get_rpc_transport(cfg.ConfigOpts(), f"sqlite://{tmp_path}/m.db?visibilty=1")


def test_bad_option_value_names_the_option(tmp_path):
    with pytest.raises(ConfigurationError, match="visibility_timeout"):
        get_rpc_transport(cfg.ConfigOpts(), f"sqlite://{tmp_path}/m.db?visibility_timeout=x")
