"""A real browser (Playwright driving Debian's Chromium) against the launched app."""

from __future__ import annotations

import pytest

from support.browser import console_errors, fill_story, shot

expect = pytest.importorskip("playwright.sync_api").expect


def test_generate_four_frames_then_history(app_url: str, page, playground) -> None:
    page.goto(app_url)
    fill_story(
        page,
        frames=4,
        beats=["gets a parcel", "runs over roofs", "hides from rain", "delivers it"],
        prompt="A red panda courier with a green scarf. Flat webcomic style.",
    )
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


def test_the_estimate_follows_the_prompt_and_beats(app_url: str, page) -> None:
    page.goto(app_url)
    line = page.locator("#run-estimate")
    line.get_by_text("Estimated cost").wait_for(timeout=15_000)
    prompt = page.get_by_label("Prompt", exact=True).first
    prompt.fill("")
    page.locator("#run-estimate", has_text="the prompt is empty").wait_for(timeout=10_000)
    prompt.fill("A fox courier. Flat style.")
    page.locator("#run-estimate", has_text="ready").wait_for(timeout=10_000)
    fill_story(page, frames=2, beats=["a", "b"], prompt="A fox courier. Flat style.")
    page.get_by_label("Frame beats").first.fill("a\nb\nc")  # three beats for two frames: the first two are sent
    page.locator("#run-estimate", has_text="uses beats 1–2 of 3").wait_for(timeout=10_000)
    assert line.inner_text().rstrip().endswith("ready")
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize("width", [1400, 390])
def test_history_headers_and_figures_are_not_cut(app_url: str, page, playground, width: int) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from playground.base.types import GenerationRequest

    async def runs() -> None:
        await playground.run(GenerationRequest(prompt="A fox courier. Flat style.", frames=3, beats=["a", "b", "c"]))
        try:
            await playground.run(GenerationRequest(prompt="A fox courier.", frames=2, provider="byteplus"))
        except Exception:
            pass  # not configured: an error row

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's event loop
        pool.submit(asyncio.run, runs()).result()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(app_url)
    page.get_by_role("tab", name="History").click()
    page.locator("#history-show-refused input").check()  # the refused byteplus row (hidden by default)
    page.locator("#history-table .virtual-row", has_text="byteplus").first.wait_for(timeout=15_000)
    shot(page, f"history_{width}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the table scrolls, not the page
    if width < 1000:
        return
    cut = page.evaluate("""() => [...document.querySelectorAll('#history-table th .text, #history-table .virtual-row .text')]
        .filter(e => e.getBoundingClientRect().width > 0 && e.scrollWidth > e.clientWidth + 1)
        .map(e => e.textContent.trim())""")
    long_text = {"A fox courier. Flat style.", "A fox courier.", "byteplus is not configured: set ARK_API_KEY"}
    assert set(cut) <= long_text, cut  # headers, ids and figures whole; only prompt and error may be cut


def test_every_input_of_a_run_is_in_sight_under_its_exact_name(app_url: str, page) -> None:
    """Labels as a screen reader (and Playwright) reads them: the info line is a description, a
    radio group is named, the reference drop zone says what it takes; none hides in an accordion."""
    page.goto(app_url)
    page.locator("#generate-button").wait_for()
    form = page.locator("#generate-form")
    for name in ("Preset", "Prompt", "Frame beats", "Frames", "Seed", "Size", "Provider", "Model", "Reference images"):
        control = form.get_by_label(name, exact=True)
        expect(control).to_have_count(1)
        if name != "Reference images":  # a file input is hidden behind its drop zone
            expect(control).to_be_visible()
    mode = form.get_by_role("radiogroup", name="Mode")
    expect(mode).to_be_visible()
    expect(mode.get_by_role("radio")).to_have_count(4)  # sequence, baseline, chain from frame 1, from the frame before
    expect(form.get_by_label("Prompt", exact=True)).to_have_accessible_description(
        "Shift+Enter or Ctrl+Enter to generate"
    )
    expect(form.get_by_role("button", name="Reference images: click to upload or drop files")).to_be_visible()
    assert console_errors(page.console_errors) == []
