"""Input parsing and endpoint loading shared by the subcommands."""

from __future__ import annotations

import io

import pytest

from msgframework.cli.common import (
    UsageError,
    exit_code_for,
    load_endpoint,
    parse_json_arg,
    parse_key_values,
)
from msgframework.cli.examples import ExampleRPCEndpoint
from msgframework.exceptions import BrokerUnavailable, DriverLoadFailure


def test_json_inline_file_and_stdin(tmp_path, monkeypatch):
    assert parse_json_arg('{"a": [1, 2]}', "x") == {"a": [1, 2]}
    path = tmp_path / "p.json"
    path.write_text('{"from": "file"}', encoding="utf-8")
    assert parse_json_arg(f"@{path}", "x") == {"from": "file"}
    monkeypatch.setattr("sys.stdin", io.StringIO("[1, 2, 3]"))
    assert parse_json_arg("-", "x") == [1, 2, 3]


def test_bad_json_names_what_and_where():
    with pytest.raises(UsageError, match=r"bad JSON in the payload: .* line 1 column 2"):
        parse_json_arg("{oops", "the payload")


def test_missing_json_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read the payload from .*nope.json"):
        parse_json_arg(f"@{tmp_path / 'nope.json'}", "the payload")


def test_expected_type_is_checked():
    with pytest.raises(UsageError, match="--context must be a JSON object, not list"):
        parse_json_arg("[1]", "--context", expect=dict)


def test_key_values_parse_json_or_keep_text():
    assert parse_key_values(["n=3", "s=hello", "l=[1]", "q=\"3\""], "--arg") == {
        "n": 3, "s": "hello", "l": [1], "q": "3"}
    with pytest.raises(UsageError, match="expected key=value"):
        parse_key_values(["novalue"], "--arg")


def test_load_endpoint_builds_classes_and_names_failures():
    assert isinstance(load_endpoint("msgframework.cli.examples:ExampleRPCEndpoint"),
                      ExampleRPCEndpoint)
    with pytest.raises(UsageError, match="expected module:Class"):
        load_endpoint("no_colon_here")
    with pytest.raises(UsageError, match="cannot load endpoint 'nosuch_mod_xyz:A'"):
        load_endpoint("nosuch_mod_xyz:A")
    with pytest.raises(UsageError, match="has no attribute 'Nope'"):
        load_endpoint("msgframework.cli.examples:Nope")


def test_exit_codes_separate_usage_from_runtime_errors():
    assert exit_code_for(UsageError("x")) == 2
    assert exit_code_for(DriverLoadFailure("nosuch", "not installed")) == 2
    assert exit_code_for(BrokerUnavailable("down")) == 1


def test_logging_goes_where_the_config_says(tmp_path):
    import argparse
    import logging

    from msgframework.cli.common import load_context

    log_file = tmp_path / "cli.log"
    config = tmp_path / "c.conf"
    config.write_text(f"[DEFAULT]\nlog_file = {log_file}\nlog_level = info\n", encoding="utf-8")
    args = argparse.Namespace(config_files=[str(config)], config_dirs=[], transport_url=None,
                              debug=False, log_level=None, log_file=None)
    ctx = load_context(args)
    try:
        logging.getLogger("msgframework.test").info("to the file")
        logging.getLogger("msgframework.test").debug("below the level")
    finally:
        ctx.close()
    text = log_file.read_text(encoding="utf-8")
    assert "INFO msgframework.test: to the file" in text
    assert "below the level" not in text


def test_unwritable_log_file_is_a_usage_error(tmp_path):
    import argparse

    from msgframework.cli.common import load_context

    args = argparse.Namespace(config_files=[], config_dirs=[], transport_url=None, debug=False,
                              log_level=None, log_file=str(tmp_path / "no" / "such" / "x.log"))
    with pytest.raises(UsageError, match="cannot open log file"):
        load_context(args)
