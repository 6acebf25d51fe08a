#!/usr/bin/env bash
# Install msgframework with every test extra into .venv and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,web,interop,eventlet]'
exec .venv/bin/python -m pytest "$@"
