"""Generate's Size in a real browser at 1400x900 and 390x844: a dropdown of the model's sizes
(the ones its pre-send check takes), refreshed when the model changes; any other size can still
be typed; the size picked is the size the run is logged with."""

from __future__ import annotations

import pytest

from support.browser import console_errors, fill_story, shot

VIEWPORTS = {1400: {"width": 1400, "height": 900}, 390: {"width": 390, "height": 844}}


def offered(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The Size dropdown's options, opened and closed again."""
    page.locator("#generate-size input").click()
    page.get_by_role("option", name="model default").wait_for(timeout=15_000)
    names = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return [n.replace("✓", "").strip() for n in names]  # the chosen one carries a tick


@pytest.mark.parametrize("width", [1400, 390])
def test_size_offers_the_models_sizes_and_follows_the_model(app_url: str, page, playground, width: int) -> None:
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    page.locator("#generate-size").wait_for(timeout=30_000)
    local = offered(page)
    assert local[0] == "model default" and "768x768" in local and "512x512" in local
    page.get_by_label("Provider", exact=True).first.click()
    page.get_by_role("option", name="OpenAI Images", exact=False).first.click()
    page.locator("#seed-box").wait_for(state="hidden", timeout=15_000)  # the model changed
    page.locator("#generate-size input").click()
    page.get_by_role("option", name="auto", exact=True).wait_for(timeout=15_000)  # gpt-image's own list
    names = [n.replace("✓", "").strip() for n in page.get_by_role("option").all_inner_texts()]
    page.keyboard.press("Escape")
    assert "768x768" not in names and "1536x1024" in names
    page.get_by_label("Provider", exact=True).first.click()
    page.get_by_role("option", name="Local", exact=False).first.click()
    page.locator("#seed-box").wait_for(state="visible", timeout=15_000)
    fill_story(page, frames=2)
    page.locator("#generate-size input").click()
    page.get_by_role("option", name="768x768", exact=True).click()
    page.wait_for_function("() => document.querySelector('#generate-size input').value === '768x768'", timeout=15_000)
    page.wait_for_function("() => !document.querySelector('[role=option]')", timeout=15_000)  # the list closed
    shot(page, f"generate_size_{width}", full_page=False)
    page.locator("#generate-button").click()
    page.locator("#run-summary", has_text="ok: 2 of 2 frames").wait_for(timeout=60_000)
    assert playground.log.latest(1).iloc[0]["size"] == "768x768"
    assert console_errors(page.console_errors) == []
