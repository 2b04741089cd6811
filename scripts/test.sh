#!/usr/bin/env bash
# Installs the Python dependencies and runs every test (browser tests need Debian's chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-dev.txt
python -m pytest -q "$@"
