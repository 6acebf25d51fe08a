"""The MSGFRAMEWORK_EVENT_HANDLERS grammar: parse, render, escaping, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgframework.events import envconfig
from msgframework.exceptions import EventError


@pytest.mark.parametrize("value", [None, "", "   ", "\n"])
def test_unset_or_empty_means_no_handlers(value):
    assert envconfig.parse(value) == []


@pytest.mark.parametrize("value, expected", [
    ("logging", [("logging", {})]),
    ("logging:", [("logging", {})]),
    ("logging:level=DEBUG|file:directory=/tmp/x,mode=dump",
     [("logging", {"level": "DEBUG"}), ("file", {"directory": "/tmp/x", "mode": "dump"})]),
    (r"smtp:to=a@x\, b@y,subject=a\|b", [("smtp", {"to": "a@x, b@y", "subject": "a|b"})]),
    # ':' and '=' need no escaping inside a value: only the first one splits.
    ("notify:url=rabbit://u:p@h:5672/?a=b", [("notify", {"url": "rabbit://u:p@h:5672/?a=b"})]),
    (r"x:k\=ey=v\\al\:", [("x", {"k=ey": "v\\al:"})]),
    ("x:empty=", [("x", {"empty": ""})]),
])
def test_parse_examples(value, expected):
    assert envconfig.parse(value) == expected


@pytest.mark.parametrize("value, match", [
    ("a||b", "handler #2 has an invalid name ''"),
    ("bad name", "invalid name"),
    ("a|a", "'a' appears twice"),
    ("a:k=1,k=2", "key 'k' appears twice"),
    ("a:novalue", "lacks '='"),
    ("a:=v", "empty key"),
    ("a:k=1,,j=2", "lacks '='"),
    ("a:k=v\\", "lone backslash"),
    ("a:k=\\n", "unknown escape"),
])
def test_parse_errors_name_the_problem(value, match):
    with pytest.raises(EventError, match=match):
        envconfig.parse(value)


def test_parse_error_does_not_echo_secrets():
    with pytest.raises(EventError) as info:
        envconfig.parse("smtp:password=hunter2|bad name")
    assert "hunter2" not in str(info.value)


def test_render_escapes_every_special_character():
    text = envconfig.render([("smtp", {"to": "a|b,c=d:e\\f"})])
    assert text == r"smtp:to=a\|b\,c\=d\:e\\f"
    assert envconfig.render({"a": {}, "b": {"k": "v"}}) == "a|b:k=v"
    assert envconfig.render([]) == ""


@pytest.mark.parametrize("specs, match", [
    ([("bad name", {})], "invalid handler name"),
    ([("a", {}), ("a", {})], "appears twice"),
    ([("a", {"": "v"})], "empty key"),
    ([("a", {"k": 1})], "must be a string"),
    ([("a", {"k": "x\x00"})], "NUL"),
])
def test_render_errors(specs, match):
    with pytest.raises(EventError, match=match):
        envconfig.render(specs)


_names = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                max_size=20)
_specs = st.dictionaries(_names, st.dictionaries(_text.filter(bool), _text, max_size=4),
                         max_size=4)


@settings(max_examples=150, deadline=None)
@given(_specs)
def test_render_then_parse_round_trips_any_values(specs):
    expected = [(name, dict(opts)) for name, opts in specs.items()]
    assert envconfig.parse(envconfig.render(expected)) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab|,=:\\ ", max_size=30))
def test_parse_never_fails_with_anything_but_event_error(value):
    try:
        specs = envconfig.parse(value)
    except EventError:
        return
    assert envconfig.parse(envconfig.render(specs)) == specs


@given(_text)
def test_escape_unescape_inverse(text):
    assert envconfig.unescape(envconfig.escape(text)) == text
