"""A real browser (Playwright driving Debian's Chromium) against the launched app."""

from __future__ import annotations

import pytest

from browser_helpers import console_errors, fill_story, shot


@pytest.mark.browser
def test_generate_four_frames_then_history(app_url: str, page, playground) -> None:
    page.goto(app_url)
    fill_story(page, frames=4, beats=["gets a parcel", "runs over roofs", "hides from rain", "delivers it"],
               prompt="A red panda courier with a green scarf. Flat webcomic style.")
    page.get_by_role("button", name="Generate").click()
    gallery = page.locator("#sequence-gallery")
    gallery.locator("img").nth(3).wait_for(timeout=30_000)
    assert gallery.locator("img").count() == 4
    page.get_by_text("ok: 4 of 4 frames").wait_for(timeout=30_000)
    page.locator("#run-download-zip").wait_for(timeout=30_000)
    shot(page, "generate")
    log = playground.log.read()
    assert len(log) == 1 and log.iloc[0]["status"] == "ok" and int(log.iloc[0]["frames_returned"]) == 4
    run_id = log.iloc[0]["run_id"]
    page.get_by_role("tab", name="History").click()
    page.locator("#history-table span", has_text=run_id).first.wait_for(timeout=15_000)
    assert console_errors(page.console_errors) == []
