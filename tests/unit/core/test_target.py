"""Target: copy, equality, hash, repr and the version compatibility rule."""

from __future__ import annotations

import pytest

from msgframework.target import Target, parse_version, version_is_compatible


def test_call_copies_with_overrides_and_drops_legacy_namespaces() -> None:
    t = Target(exchange="e", topic="t", namespace="n", version="1.2",
               legacy_namespaces=["old"])
    copy = t(server="s", version="1.3")
    assert (copy.exchange, copy.topic, copy.server, copy.version) == ("e", "t", "s", "1.3")
    assert copy.legacy_namespaces == []
    assert t.server is None  # the original is untouched
    with pytest.raises(TypeError, match="nope"):
        t(nope=1)


def test_equal_targets_hash_equally() -> None:
    a, b = Target(topic="t", server="s"), Target(topic="t", server="s")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Target(topic="t", server="x")
    assert a != Target(topic="t", server="s", fanout=True)
    assert (a == "t") is False


def test_accepted_namespaces() -> None:
    assert Target(namespace="n", legacy_namespaces=["a"]).accepted_namespaces == ["n", "a"]
    assert Target().accepted_namespaces == [None]


def test_repr_lists_set_fields_only() -> None:
    assert repr(Target(topic="t", fanout=True)) == "<Target topic=t, fanout=True>"
    assert "legacy_namespaces=['x']" in repr(Target(legacy_namespaces=["x"]))


@pytest.mark.parametrize("imp, req, ok", [
    (None, "1.0", True), ("1.0", None, False), ("1.2", "1.1", True), ("1.2", "1.2", True),
    ("1.1", "1.2", False), ("2.0", "1.0", False), ("1.2.3", "1.2.2", True),
    ("1.2.1", "1.2.3", False), ("1.3.0", "1.2.9", True), ("1.2", "1.2.0", True),
])
def test_version_rule(imp: str | None, req: str | None, ok: bool) -> None:
    assert version_is_compatible(imp, req) is ok


@pytest.mark.parametrize("bad", ["1", "1.x", "a.b", "1.2.3.4", ""])
def test_bad_versions_name_the_input(bad: str) -> None:
    with pytest.raises(ValueError, match="major and minor"):
        parse_version(bad)


def test_parse_version() -> None:
    assert parse_version("1.2") == (1, 2, 0)
    assert parse_version("3.4.5") == (3, 4, 5)
