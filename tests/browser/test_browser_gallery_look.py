"""The close look from the Generate and History galleries, in a real browser at 1400x900 and
390x844: a click on a frame opens its original at full resolution (not the 640 px preview the
gallery shows), the arrow keys step through the run, Esc closes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from playground.base.types import GenerationRequest
from support.browser import console_errors, fill_story, open_tab, shot

expect = pytest.importorskip("playwright.sync_api").expect
VIEWPORTS = {1400: {"width": 1400, "height": 900}, 390: {"width": 390, "height": 844}}


def pane(page):  # type: ignore[no-untyped-def]
    return page.locator("#close-look [data-side='A']")


def check_look(page, gallery: str, run_id: str, name: str) -> None:  # type: ignore[no-untyped-def]
    """Frame 2 of `gallery` opens as the original; → steps to 3, End to 4, Esc closes."""
    # the frame list arrives just after the frames (an event of its own): wait for this run's
    strip = gallery.replace("-gallery", "-look")
    page.wait_for_function(
        f"() => document.querySelector('#{strip} .look-strip')?.dataset.runId === '{run_id}'", timeout=30_000
    )
    thumb = page.locator(f"#{gallery} .thumbnail-item").nth(1)
    thumb.evaluate("t => t.scrollIntoView({block: 'center'})")  # clear of the sticky action bar on a phone
    assert thumb.locator("img").evaluate("i => i.naturalWidth") <= 640  # the gallery shows the preview
    thumb.click()
    look = page.locator("#close-look")
    expect(look).to_be_visible(timeout=15_000)
    page.wait_for_function(
        "() => { const i = document.querySelector(\"#close-look [data-side='A'] img\");"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=15_000,
    )
    img = pane(page).locator("img")
    assert img.evaluate("i => i.naturalWidth") == 1024  # the original, full resolution
    assert "frame_02." in img.get_attribute("src") and ".preview" not in img.get_attribute("src")
    assert run_id in img.get_attribute("src")
    expect(look.locator(".look-counter")).to_have_text("frame 2 of 4")
    assert "runs over roofs" in pane(page).locator(".look-caption").inner_text()
    shot(page, name, full_page=False)
    page.keyboard.press("ArrowRight")
    expect(look.locator(".look-counter")).to_have_text("frame 3 of 4")
    assert "frame_03." in img.get_attribute("src")
    page.keyboard.press("End")
    expect(look.locator(".look-counter")).to_have_text("frame 4 of 4")
    page.keyboard.press("ArrowLeft")
    expect(look.locator(".look-counter")).to_have_text("frame 3 of 4")
    page.keyboard.press("Escape")
    expect(look).to_have_count(0)


@pytest.mark.parametrize("width", [1400, 390])
def test_generate_gallery_opens_the_close_look(app_url: str, page, playground, width: int) -> None:
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    page.get_by_role("tab", name="Generate").wait_for(timeout=30_000)
    fill_story(page, frames=4)
    page.locator("#generate-button").click()
    page.locator("#run-summary", has_text="ok: 4 of 4 frames").wait_for(timeout=60_000)
    run_id = playground.log.latest(1).iloc[0]["run_id"]
    check_look(page, "sequence-gallery", run_id, f"close_look_generate_{width}")
    assert console_errors(page.console_errors) == []


def test_history_gallery_opens_the_close_look(app_url: str, page, playground) -> None:
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds a loop in this thread
        record = (
            pool.submit(
                asyncio.run,
                playground.run(
                    GenerationRequest(
                        prompt="Miko, a red panda courier.",
                        frames=4,
                        size="1024x1024",
                        beats=["gets a parcel", "runs over roofs", "hides", "delivers"],
                    )
                ),
            )
            .result()
            .record
        )
    for width in (1400, 390):
        page.set_viewport_size(VIEWPORTS[width])
        page.goto(app_url)
        open_tab(page, "History")
        page.get_by_label("Run ID").fill(record.run_id)
        page.get_by_role("button", name="Open run").click()
        check_look(page, "history-gallery", record.run_id, f"close_look_history_{width}")
    assert console_errors(page.console_errors) == []
