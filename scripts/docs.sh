#!/usr/bin/env bash
# Regenerate the tables written from the code: the README's provider, billing and configuration
# tables (playground/present/catalog.py, from the adapters) and the conformance tests'
# requirements (from tests/support/cases.py). CI checks them: scripts/lint.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cog -r -I . -I tests README.md tests/conformance/requirements.txt
