"""Faults as the user sees them: a real Chromium against the app on the emulator. A rejected
key ends as a clear summary (never the key), a spend cap as an error toast naming the cap."""

from __future__ import annotations

import pytest

from playground.base.config import Settings
from support.browser import console_errors, fill_story, shot


@pytest.fixture
def faulty_app_url(emulator, data_dir):
    from support.app import launch_app

    env = {**emulator.env(), "PLAYGROUND_DEFAULT_PROVIDER": "byteplus", "PLAYGROUND_MAX_USD_PER_RUN": "0.30"}
    app, url = launch_app(Settings.from_env(env=env, data_dir=data_dir))
    try:
        yield url
    finally:
        app.close()


def test_key_rejected_and_spend_cap_messages(faulty_app_url, page, emulator, data_dir):
    emulator.set_fault("byteplus", "auth")
    page.goto(faulty_app_url)
    fill_story(page, frames=2)
    page.get_by_role("button", name="Generate").click()
    summary = page.locator("#run-summary")
    summary.get_by_text("key rejected", exact=False).wait_for(timeout=30_000)
    text = summary.inner_text()
    assert "error: 0 of 2 frames" in text and "ARK_API_KEY" in text
    assert emulator.env()["ARK_API_KEY"] not in page.content()
    shot(page, "fault-key-rejected")

    emulator.clear_faults()
    frames = page.get_by_label("Frames", exact=True).first
    frames.fill("15")  # 15 x $0.035 = $0.525 passes the $0.30 run cap
    frames.press("Enter")
    page.get_by_role("button", name="Generate").click()
    toast = page.locator(".toast-body", has_text="PLAYGROUND_MAX_USD_PER_RUN").first
    toast.wait_for(state="visible", timeout=30_000)
    assert "estimated $0.5250 passes PLAYGROUND_MAX_USD_PER_RUN ($0.30)" in toast.inner_text()
    page.wait_for_timeout(500)  # let the toast finish sliding in
    shot(page, "fault-spend-cap", full_page=False)  # the viewport, where the toast is
    assert len(emulator.requests_for("byteplus", "POST")) == 1  # only the first, rejected-key run
    assert console_errors(page.console_errors) == []
