"""Shared fixtures: an isolated DATA_DIR, a launched app, and a real Chromium page."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playground.config import Settings  # noqa: E402
from playground.core import Playground  # noqa: E402
from playground.providers.limiter import LIMITERS  # noqa: E402

CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(settings: Settings) -> tuple[object, str]:
    from app import create_app

    app, options = create_app(settings)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
    return app, f"http://127.0.0.1:{port}/"


@pytest.fixture
def app_url(data_dir: Path) -> Iterator[str]:
    app, url = launch_app(Settings.from_env(env={}, data_dir=data_dir))
    try:
        yield url
    finally:
        app.close()


def chromium_or_skip() -> str:
    """Debian's chromium; skipped with the reason when absent, except on CI where it must run."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no Chromium at {CHROMIUM}: .ci/run must install Debian's chromium")
    pytest.skip(f"browser test skipped: no Chromium at {CHROMIUM} (apt-get install -y chromium)")


@pytest.fixture
def page() -> Iterator[object]:
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.console_errors = []  # type: ignore[attr-defined]
        tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))  # type: ignore[attr-defined]
        try:
            yield tab
        finally:
            browser.close()
