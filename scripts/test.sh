#!/usr/bin/env bash
# Installs everything the tests need and runs every test.
# Browser tests drive Debian's chromium (installed here when missing and we may use apt);
# without it they are skipped with the reason, except under CI=true where they must run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 GRADIO_ANALYTICS_ENABLED=False
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; browser tests will be skipped" >&2
fi
python -m pip install -q -r requirements.txt -r requirements-dev.txt -r tests/conformance/requirements.txt
python -m pytest -q "$@"
