"""README's examples run as written, and its quick start names real commands."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path):
    script = tmp_path / f"example_{index}.py"
    script.write_text(BLOCKS[index])
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_notification_example_output():
    script = BLOCKS[0]
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(sorted([
        ("audit", "compute.instance.create"), ("audit", "image.upload"),
        ("compute", "compute.instance.create", 42),
        ("compute-error", "compute.instance.delete")]))


def test_quick_start_commands_exist():
    text = README.read_text()
    assert "msgframework demo" in text
    assert "bash tools/test.sh" in text
    assert (README.parent / "tools" / "test.sh").exists()
