"""Issue 17 in a real browser, at 1400x900 and 390x844: lowering Frames below the beats runs the
first beats and says so; the Seed box shows only for a model that takes a seed; Compare has a
Size and says when the arms' defaults differ."""

from __future__ import annotations

import pytest

from support.browser import console_errors, fill_story, shot

SIZES = {1400: (1400, 900), 390: (390, 844)}
SIX = ["Miko wakes", "Miko packs", "Miko runs", "Miko hides", "Miko finds", "Miko delivers"]


@pytest.mark.parametrize("width", [1400, 390])
def test_lowering_frames_runs_the_first_beats(app_url: str, page, playground, width: int) -> None:
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[width])))
    page.goto(app_url)
    fill_story(page, frames=4, beats=SIX)  # Frames 4, then all six beats typed: the estimate follows the beats
    page.locator("#run-estimate", has_text="= 4 ×").wait_for(timeout=30_000)
    page.get_by_label("Frame beats").first.fill("\n".join(SIX))
    page.locator("#run-estimate", has_text="uses beats 1–4 of 6").wait_for(timeout=30_000)
    page.get_by_role("button", name="Generate").click()
    page.locator("#run-summary", has_text="ok: 4 of 4 frames").wait_for(timeout=30_000)
    assert "beats 1–4 of 6 used" in page.locator("#run-summary").inner_text()
    shot(page, f"first_beats_{width}", full_page=False)
    log = playground.log.read()
    assert list(log["status"]) == ["ok"] and int(log.iloc[0]["frames_returned"]) == 4
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize("width", [1400, 390])
def test_seed_box_only_for_a_model_that_takes_one(app_url: str, page, width: int) -> None:
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[width])))
    page.goto(app_url)
    seed = page.locator("#seed-box")
    seed.wait_for(state="visible", timeout=15_000)  # local takes a seed
    provider = page.get_by_label("Provider", exact=True).first
    provider.click()
    page.get_by_role("option", name="BytePlus", exact=False).first.click()
    seed.wait_for(state="hidden", timeout=15_000)  # Seedream on BytePlus takes none
    shot(page, f"seed_hidden_{width}", full_page=False)
    assert console_errors(page.console_errors) == []


def test_compare_has_a_size_and_says_when_defaults_differ(app_url: str, page) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(app_url)
    page.get_by_role("tab", name="Compare").click()
    size = page.locator("#compare-size")
    size.wait_for(timeout=15_000)
    arms = page.locator("#compare-arms textarea")
    arms.fill("local::sequence\nbyteplus::sequence")
    page.locator("#compare-size-note", has_text="2048x2048 (byteplus)").wait_for(timeout=15_000)
    arms.fill("local::sequence\nlocal::baseline")
    page.wait_for_function(
        "() => !document.querySelector('#compare-size-note').innerText.includes('byteplus')", timeout=15_000
    )
    size.locator("input").click()
    page.get_by_role("option", name="768x768").wait_for(timeout=15_000)
    shot(page, "compare_size_1400", full_page=False)
    assert console_errors(page.console_errors) == []
