"""The parser, the subcommand registry and the top-level error handling."""

from __future__ import annotations

import textwrap

import pytest

from msgframework.cli import main as cli_main

from .conftest import run_cli, run_main


def test_help_lists_the_subcommands(capsys):
    code, out, _ = run_main(capsys, "--help")
    assert code == 0
    for name in ("notify", "listen", "call", "cast", "serve", "send-event", "demo"):
        assert name in out


def test_no_subcommand_is_a_usage_error(capsys):
    code, _, err = run_main(capsys)
    assert code == 2
    assert "usage:" in err


def test_argparse_errors_use_the_program_prefix(capsys):
    code, _, err = run_main(capsys, "notify", "x", "--priority", "loud")
    assert code == 2
    assert "msgframework: error: argument --priority" in err


def test_common_options_before_or_after_the_subcommand(capsys, tmp_path):
    parser, _ = cli_main.build_parser()
    before = parser.parse_args(["--transport-url", "sqlite:///a.db", "--debug",
                                "notify", "ev"])
    after = parser.parse_args(["notify", "ev", "--transport-url", "sqlite:///b.db"])
    both = parser.parse_args(["--debug", "notify", "ev", "--log-level", "info"])
    assert (before.transport_url, before.debug) == ("sqlite:///a.db", True)
    assert after.transport_url == "sqlite:///b.db"
    assert (both.debug, both.log_level) == (True, "info")


def test_registered_plugin_command_runs(capsys, tmp_path, monkeypatch):
    (tmp_path / "cli_plugin_hello.py").write_text(textwrap.dedent("""
        def add_parser(subparsers):
            p = subparsers.add_parser("hello", help="say hello")
            p.add_argument("name")

        def run(args):
            print("hello", args.name, args.cli_context.conf.control_exchange)
            return 3
    """), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    cli_main.register_command("cli_plugin_hello")
    try:
        code, out, _ = run_main(capsys, "hello", "world")
    finally:
        cli_main.unregister_command("cli_plugin_hello")
    assert (code, out) == (3, "hello world openstack\n")
    parser, runners = cli_main.build_parser()
    assert "hello" not in runners


def test_plugin_that_does_not_import_is_left_out(capsys):
    cli_main.register_command("cli_plugin_that_does_not_exist")
    try:
        _, runners = cli_main.build_parser()
    finally:
        cli_main.unregister_command("cli_plugin_that_does_not_exist")
    assert "notify" in runners


@pytest.mark.parametrize("args, message", [
    (("notify", "ev", "{bad json"), "bad JSON in the payload"),
    (("notify", "ev", "{}", "--context", "[1]"), "--context must be a JSON object"),
    (("call", "add", "{nope"), "bad JSON in the arguments"),
    (("--transport-url", "nosuch://", "notify", "ev"),
     "Failed to load transport driver 'nosuch'"),
    (("--config-file", "/nonexistent/msgframework.conf", "notify", "ev"),
     "config file not found: /nonexistent/msgframework.conf"),
    (("serve", "nosuch_module_xyz:Endpoint", "--transport-url", "sqlite:///{tmp}/x.db"),
     "cannot load endpoint 'nosuch_module_xyz:Endpoint'"),
])
def test_bad_input_exits_2_with_one_readable_line(capsys, tmp_path, args, message):
    args = tuple(a.replace("{tmp}", str(tmp_path).lstrip("/")) for a in args)
    code, _, err = run_main(capsys, *args)
    assert code == 2, err
    assert "msgframework: error: " in err
    assert message in err
    assert "Traceback" not in err


def test_unknown_driver_lists_the_installed_ones(capsys):
    code, _, err = run_main(capsys, "--transport-url", "sqlit:///x.db", "notify", "ev")
    assert code == 2
    assert "installed:" in err and "sqlite" in err and "did you mean 'sqlite'" in err
    assert "Could not load" not in err  # stevedore's own log lines are kept quiet


def test_broken_config_files_are_usage_errors(capsys, tmp_path):
    bad_syntax = tmp_path / "syntax.conf"
    bad_syntax.write_text("[DEFAULT\ntransport_url = x\n", encoding="utf-8")
    code, _, err = run_main(capsys, "--config-file", str(bad_syntax), "notify", "ev")
    assert code == 2 and "msgframework: error:" in err and "syntax.conf" in err

    bad_value = tmp_path / "value.conf"
    bad_value.write_text("[DEFAULT]\nlog_level = LOUD\n", encoding="utf-8")
    code, _, err = run_main(capsys, "--config-file", str(bad_value), "notify", "ev")
    assert code == 2 and "log_level" in err and "Traceback" not in err


def test_debug_shows_the_traceback(capsys):
    code, _, err = run_main(capsys, "--debug", "notify", "ev", "{bad")
    assert code == 2
    assert "Traceback" in err and "msgframework: error: bad JSON" in err


def test_console_entry_point_runs_as_a_module():
    result = run_cli("notify", "ev", "{bad")
    assert result.returncode == 2
    assert result.stderr.strip() == ("msgframework: error: bad JSON in the payload: "
                                     "Expecting property name enclosed in double quotes "
                                     "at line 1 column 2")


@pytest.mark.parametrize("args, message", [
    (("call", "m", "--timeout", "abc"), "argument --timeout: expected a number of seconds, "
                                        "got 'abc'"),
    (("call", "m", "--timeout", "0"), "argument --timeout: must be more than 0, got 0"),
    (("call", "m", "--repeat", "x"), "argument --repeat: expected a whole number, got 'x'"),
    (("notify", "ev", "--repeat", "0"), "argument --repeat: must be at least 1, got 0"),
    (("bench", "--duration", "soon"), "argument --duration: expected a number of seconds, "
                                      "got 'soon'"),
    (("bench", "--payload-size", "-1"), "argument --payload-size: must be 0 or more, got -1"),
])
def test_bad_option_values_are_explained_without_internal_names(capsys, args, message):
    code, _, err = run_main(capsys, *args)
    assert code == 2
    assert f"msgframework: error: {message}" in err
    assert "invalid" not in err and "_seconds" not in err and "_positive" not in err
