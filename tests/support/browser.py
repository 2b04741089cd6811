"""The browser tests' helpers: Debian's Chromium (never a downloaded browser; the `page`
fixture is tests/browser/conftest.py's), screenshots, the story form and the console-error
filter."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("PLAYGROUND_CHROMIUM", "/usr/bin/chromium")

SHOTS = Path(os.environ["PLAYGROUND_SCREENSHOTS"]) if os.environ.get("PLAYGROUND_SCREENSHOTS") else None
BEATS = ["Miko gets a parcel", "Miko runs over roofs", "Miko hides from the rain", "Miko delivers it"]
PROMPT = "Miko, a red panda courier with a green scarf. Flat webcomic style."
# Messages Chromium prints that say nothing about the app. None were seen with Gradio 6.31 on
# Debian's Chromium; an entry here needs a comment saying where it comes from.
KNOWN_CONSOLE_NOISE: tuple[str, ...] = ()


UNSTICK = """() => document.querySelectorAll('.pg-action-bar, .column.pg-results').forEach(e => {
    e.dataset.pgSticky = '1'; e.style.setProperty('position', 'static', 'important'); })"""
RESTICK = """() => document.querySelectorAll('[data-pg-sticky]').forEach(e => {
    e.style.removeProperty('position'); delete e.dataset.pgSticky; })"""


def shot(page, name: str, full_page: bool = True) -> None:
    """Screenshots for the README, written only when PLAYGROUND_SCREENSHOTS names a folder."""
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        if full_page:  # a whole-page picture has no screen bottom: sticky bars would sit mid-page over the form
            page.evaluate(UNSTICK)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
        if full_page:
            page.evaluate(RESTICK)


def console_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if not any(noise in m for noise in KNOWN_CONSOLE_NOISE)]


def fill_story(page, frames: int = 4, beats: list[str] = BEATS, prompt: str = PROMPT) -> None:
    """Prompt, one beat per frame, and the frame count typed into the Frames box."""
    page.get_by_label("Prompt", exact=True).first.fill(prompt)
    page.get_by_label("Frame beats").fill("\n".join(beats[:frames]))
    box = page.get_by_label("Frames", exact=True).first
    box.fill(str(frames))
    box.press("Enter")


def chromium_or_skip() -> str:
    """Debian's chromium; skipped with the reason when absent, except on CI where it must run."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but no Chromium at {CHROMIUM}: .ci/run must install Debian's chromium")
    pytest.skip(f"browser test skipped: no Chromium at {CHROMIUM} (apt-get install -y chromium)")


def open_tab(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """A top-level tab by its name: on a phone, Gradio folds the tabs that do not fit into "More tabs"."""
    page.get_by_role("tab", name="Generate").wait_for(timeout=30_000)
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.get_by_role("button", name="More tabs").click()
    page.locator(".overflow-dropdown button", has_text=name).click()
