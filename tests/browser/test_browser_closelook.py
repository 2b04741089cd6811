"""The close look in a real browser at 1400x900 and 390x844: a click on a frame of the grid opens
the original at full resolution (not the 640 px preview), beside the same frame of another arm;
the arrow keys step both runs together, keys typed into a field are left alone, Esc closes."""

from __future__ import annotations

import asyncio

import pytest
from PIL import Image

from playground.base.prompts import Story
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from support.browser import open_tab, shot

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def comparison(playground):  # type: ignore[no-untyped-def]
    story = Story("Miko, a red panda courier", beats=("gets a parcel", "runs over roofs", "hides", "delivers"))
    return asyncio.run(
        compare(
            playground,
            story,
            [Arm("local", "", "sequence"), Arm("local", "", "baseline")],
            frames=4,
            seed=4,
            size="1024x1024",
        )
    )


def labels(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#close-look .look-label").all_inner_texts()


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_click_a_frame_opens_the_original_and_arrows_step_both_runs(  # type: ignore[no-untyped-def]
    comparison,
    app_url: str,
    page,
    playground,
    width: int,
    height: int,
) -> None:
    original = comparison.records[0].image_dir
    first = sorted(p for p in __import__("pathlib").Path(original).glob("frame_01.*") if ".preview" not in p.name)[0]
    assert Image.open(first).width == 1024
    page.set_viewport_size({"width": width, "height": height})
    page.goto(app_url)
    open_tab(page, "Analysis")
    thumb = page.locator("#analysis-grid tbody td img[data-frame='2']").first
    thumb.scroll_into_view_if_needed()
    thumb.click()
    look = page.locator("#close-look")
    expect(look).to_be_visible(timeout=15_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#close-look img')].every(i => i.complete && i.naturalWidth)", timeout=15_000
    )
    widths = page.locator("#close-look img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert widths == [1024, 1024]  # the originals: the grid's previews are 640 px wide
    assert page.locator("#analysis-grid td img").first.evaluate("i => i.naturalWidth") <= 640
    assert all("frame 2/4" in t for t in labels(page)) and len(labels(page)) == 2
    assert "local:procedural-v1:" in labels(page)[0] and "1024×1024" in labels(page)[0]
    shot(page, f"close_look_{width}", full_page=False)

    page.keyboard.press("ArrowRight")
    expect(look.locator(".look-counter")).to_have_text("frame 3 of 4")
    assert all("frame 3/4" in t for t in labels(page))
    sources = look.locator("img").evaluate_all("imgs => imgs.map(i => i.getAttribute('src'))")
    assert all("frame_03" in s for s in sources) and sources[0] != sources[1]  # two runs, in step
    page.keyboard.press("End")
    expect(look.locator(".look-counter")).to_have_text("frame 4 of 4")
    page.keyboard.press("ArrowRight")  # the end: stays
    page.keyboard.press("1")
    expect(look.locator(".look-counter")).to_have_text("frame 1 of 4")

    look.locator("select").focus()  # a field: its arrows are its own
    page.keyboard.press("ArrowRight")
    expect(look.locator(".look-counter")).to_have_text("frame 1 of 4")
    look.locator(".look-counter").click()
    page.keyboard.press("Escape")
    expect(look).to_have_count(0)
    assert not page.console_errors
