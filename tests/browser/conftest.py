"""The browser layer: every test here drives a real Chromium (Debian's, through Playwright) and
is marked `browser`; `page` is a fresh tab with the console errors it logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.browser import chromium_or_skip

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
def page() -> Iterator[object]:
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.console_errors = []  # type: ignore[attr-defined]
        tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))  # type: ignore[attr-defined]
        try:
            yield tab
        finally:
            browser.close()
