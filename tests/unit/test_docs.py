"""The Sphinx documentation builds without warnings, and its runnable examples run.

An example is runnable when the comment ``.. runnable`` comes right before
its ``.. code-block:: python`` (blank lines between them allowed)::

    .. runnable

    .. code-block:: python

        import msgframework

Each runnable block runs on its own in a fresh interpreter (in parallel, to
keep the test fast), from a temporary working directory, with
``MSGFRAMEWORK_TRANSPORT_URL`` and ``XDG_STATE_HOME`` pointing there so an
example can never touch the user's real default transport.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "doc"

#: Documents other engineers write; until they exist, the index's toctree
#: entry for them is the only warning the build may give.
OTHERS_DOCS = ("hubs", "web", "performance")

_RUNNABLE = re.compile(
    r"^\.\. runnable[ \t]*\n(?:[ \t]*\n)*\.\. code-block:: python[ \t]*\n"
    r"((?:[ \t]*:[\w-]+:.*\n)*)"           # directive options
    r"((?:(?:[ \t]+.*)?\n)+)", re.M)       # the indented body (and blank lines)


def runnable_blocks() -> list[tuple[str, int, str]]:
    """(file name, line number, code) of every runnable block in doc/*.rst."""
    blocks = []
    for path in sorted(DOC.glob("*.rst")):
        text = path.read_text(encoding="utf-8")
        for match in _RUNNABLE.finditer(text):
            body = match.group(2)
            lines = body.splitlines()
            indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
            code = "\n".join(line[indent:] for line in lines) + "\n"
            lineno = text.count("\n", 0, match.start()) + 1
            blocks.append((path.name, lineno, code))
    return blocks


BLOCKS = runnable_blocks()


def test_marker_grammar_finds_blocks():
    sample = (".. runnable\n\n.. code-block:: python\n\n    x = 1\n\n    y = 2\n\nText.\n")
    match = _RUNNABLE.search(sample)
    assert match is not None
    assert "x = 1" in match.group(2) and "y = 2" in match.group(2)
    assert "Text." not in match.group(2)


def test_docs_have_runnable_examples():
    files = {name for name, _, _ in BLOCKS}
    # The guides that promise behaviour prove it with code.
    assert {"guarantees.rst", "notifications.rst", "rpc.rst", "testing.rst",
            "configuration.rst", "events.rst"} <= files, files


def _run(block: tuple[str, int, str], workdir: Path) -> tuple[str, int, int, str]:
    name, lineno, code = block
    where = workdir / f"{Path(name).stem}_{lineno}"
    where.mkdir()
    script = where / "example.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ,
               MSGFRAMEWORK_TRANSPORT_URL=f"sqlite://{where / 'default.db'}",
               XDG_STATE_HOME=str(where / "state"))
    env.pop("MSGFRAMEWORK_EVENT_HANDLERS", None)
    try:
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=60, cwd=where, env=env)
    except subprocess.TimeoutExpired:
        return name, lineno, -1, "timed out after 60 s"
    return name, lineno, proc.returncode, proc.stderr[-3000:]


def test_runnable_examples_run(tmp_path):
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        results = list(pool.map(lambda block: _run(block, tmp_path), BLOCKS))
    failures = [f"{name}:{lineno} exited {rc}\n{err}" for name, lineno, rc, err in results
                if rc != 0]
    assert not failures, "\n\n".join(failures)


def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx", reason="sphinx is in the docs extra")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E",
         "-d", str(tmp_path / "doctrees"), str(DOC), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    missing = [name for name in OTHERS_DOCS if not (DOC / f"{name}.rst").exists()]
    warnings = []
    for line in proc.stderr.splitlines():
        if not line.strip():
            continue
        if any(f"nonexisting document '{name}'" in line for name in missing):
            continue
        warnings.append(line)
    assert not warnings, "\n".join(warnings)
    assert (tmp_path / "html" / "index.html").exists()
    for page in ("guarantees", "drivers", "configuration", "porting", "api"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
