#!/usr/bin/env bash
# Static checks, as CI runs them: ruff (lint and format), the import contracts of pyproject.toml (layers,
# no cycles, the product without the emulator and the benchmarks), mypy (strict) on every package
# of the product but ui, and the generated tables.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements.txt -r requirements-dev.txt
ruff check .
ruff format --check .  # `ruff format .` mends it
lint-imports
mypy
cog --check -I . -I tests README.md tests/conformance/requirements.txt  # bash scripts/docs.sh mends it
