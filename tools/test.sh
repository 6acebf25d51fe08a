#!/usr/bin/env bash
# Install msgframework with every test extra into .venv and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,web,interop,eventlet]'
# A test that fails is run once more (pytest-rerunfailures): the suite
# drives real brokers, processes and a browser on a shared 2-core host, where
# a rare stall can break a timing margin. A test that fails twice fails the
# run, and every rerun is listed ("RERUN") in the summary as a bug to fix.
exec .venv/bin/python -m pytest --reruns 1 -raR "$@"
