"""oslo-config-generator sees every option, each with help text."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from msgframework.opts import list_opts

ROOT = Path(__file__).resolve().parents[3]


def test_every_option_has_help():
    groups = dict(list_opts())
    assert {None, "msgframework_notifications", "msgframework_rabbit",
            "msgframework_sqlite", "msgframework_memory", "msgframework_events"} <= set(groups)
    for group, opts in groups.items():
        for opt in opts:
            assert opt.help and len(opt.help) > 10, f"[{group}] {opt.name} lacks help"


def test_oslo_messaging_group_names_are_deprecated_aliases():
    groups = dict(list_opts())
    for opt in groups["msgframework_rabbit"]:
        assert any(d.group == "oslo_messaging_rabbit" for d in opt.deprecated_opts), opt.name
    for opt in groups["msgframework_notifications"]:
        if opt.name in ("driver", "transport_url", "topics", "retry"):
            assert any(d.group == "oslo_messaging_notifications"
                       for d in opt.deprecated_opts), opt.name


def test_generator_prints_options(tmp_path):
    generator = shutil.which("oslo-config-generator") or str(
        Path(sys.executable).with_name("oslo-config-generator"))
    if not Path(generator).exists():
        pytest.skip("oslo-config-generator is not installed")
    out = tmp_path / "sample.conf"
    subprocess.run([generator, "--namespace", "msgframework", "--output-file", str(out)],
                   check=True, timeout=60)
    text = out.read_text()
    for section in ("[DEFAULT]", "[msgframework_notifications]", "[msgframework_rabbit]",
                    "[msgframework_sqlite]", "[msgframework_events]"):
        assert section in text
    assert "#transport_url = <None>" in text
    assert "#rabbit_qos_prefetch_count" in text


def test_committed_sample_is_current(tmp_path):
    generator = Path(sys.executable).with_name("oslo-config-generator")
    if not generator.exists():
        pytest.skip("oslo-config-generator is not installed")
    out = tmp_path / "sample.conf"
    subprocess.run([str(generator), "--namespace", "msgframework", "--namespace",
                    "msgframework.cli", "--wrap-width", "79", "--output-file", str(out)],
                   check=True, timeout=60)
    committed = (ROOT / "etc" / "msgframework.conf.sample").read_text()
    assert out.read_text() == committed, "run: tox -e genconfig"
