"""The official SDKs against the project's emulator, over real HTTP on 127.0.0.1.

Each test module imports its SDK with `pytest.importorskip`, so the suite is skipped (with
the reason) where an SDK is not installed; scripts/test.sh installs them all from
tests/conformance/requirements.txt, and under CI=true a missing SDK fails instead.
"""

from __future__ import annotations

import importlib
import os

import pytest

# the emulator fixtures (a subfolder conftest may not use pytest_plugins)
from conftest_emulator import emulator, emulator_env, emulator_server, make_call, make_provider, sink  # noqa: E402,F401


def sdk(module: str):
    """Import an official SDK, or skip (fail under CI=true, where requirements are installed)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the SDK module {module!r} is missing: {exc}")
        pytest.skip(f"official SDK {module!r} not installed (pip install -r tests/conformance/requirements.txt)")
