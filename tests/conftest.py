"""Fixtures of every layer: an isolated DATA_DIR, a Playground on it, and the launched app.
The emulator's fixtures (support/emulator.py), the app launched as a Space
(support/gradio_raw.py: space_app) and the Hub stand-in (support/hub.py: hub) are plugins
registered here, the one place pytest allows it; a folder's own fixtures are in its conftest
(tests/browser: the page; tests/conformance: the SDKs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playground.base.config import Settings
from playground.core import Playground
from playground.providers.limiter import LIMITERS
from support.app import launch_app

pytest_plugins = ["support.emulator", "support.gradio_raw", "support.hub"]


@pytest.fixture(autouse=True)
def fresh_rate_limiters() -> Iterator[None]:
    """Each test starts with no learned limits: the process's limiters are per provider, host and
    key, and the session's emulator keeps one host and the same fake keys for every test."""
    LIMITERS.clear()
    yield
    LIMITERS.clear()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def playground(data_dir: Path) -> Playground:
    return Playground(Settings.from_env(env={}, data_dir=data_dir))


@pytest.fixture
def app_url(data_dir: Path) -> Iterator[str]:
    app, url = launch_app(Settings.from_env(env={}, data_dir=data_dir))
    try:
        yield url
    finally:
        app.close()
