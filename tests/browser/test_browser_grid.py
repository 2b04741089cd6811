"""The grid in the Analysis tab, in a real browser at 1400x900 and 390x844: every row and arm of
a comparison with its frames loaded, sorting reorders the rows as the core does, user text shows
as text (no script runs), and the page never scrolls sideways."""

from __future__ import annotations

import asyncio

import pytest

from playground.base.prompts import Story
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from playground.experiments.grid import build_grid
from support.browser import open_tab, shot

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def comparison(playground):  # type: ignore[no-untyped-def]
    story = Story(
        "Miko, a red panda courier " + HOSTILE, beats=("gets a parcel", "runs over roofs", "hides", "delivers")
    )
    return asyncio.run(
        compare(
            playground,
            story,
            [Arm("local", "", "sequence"), Arm("local", "", "baseline")],
            variants={"A": "flat colours " + HOSTILE, "B": "ink wash", "C": "pastel"},
            frames=4,
            seed=2,
            size="512x512",
        )
    )


def row_titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#analysis-grid tbody .grid-title").all_inner_texts()


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_grid_shows_every_arm_and_row_sorts_and_escapes(  # type: ignore[no-untyped-def]
    comparison,
    app_url: str,
    page,
    playground,
    width: int,
    height: int,
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": width, "height": height})
    page.goto(app_url)
    open_tab(page, "Analysis")
    page.locator("#analysis-grid tbody tr").nth(2).wait_for(timeout=30_000)
    assert page.locator("#analysis-grid tbody tr").count() == 3  # variants A, B, C
    assert page.locator("#analysis-grid tbody td").count() == 6  # x 2 arms
    images = page.locator("#analysis-grid tbody td img")
    assert images.count() == 24
    page.locator("#analysis-grid tbody td").first.scroll_into_view_if_needed()  # (frames load lazily)
    first_cell = "[...document.querySelectorAll('#analysis-grid tbody td')][0].querySelectorAll('img')"
    page.wait_for_function(f"[...{first_cell}].every(i => i.complete && i.naturalWidth > 0)", timeout=30_000)
    text = page.locator("#analysis-grid").inner_text()
    assert HOSTILE in text  # shown as text: no image element, no script
    if width >= 640:
        assert "local:procedural-v1:sequence" in text and "local:procedural-v1:baseline" in text  # the headers
    else:  # a card per row: each cell labelled with its arm
        labels = page.locator("#analysis-grid tbody td").first.evaluate(
            "td => getComputedStyle(td, '::before').content"
        )
        assert "local:procedural-v1:" in labels
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator("#analysis-grid").scroll_into_view_if_needed()
    shot(page, f"grid_{width}", full_page=False)

    # sort by latency of the baseline arm, lowest first: the rows the core orders so
    page.locator("#grid-sort-by input").click()
    page.get_by_role("option", name="latency", exact=True).click()
    page.locator("#analysis-grid .grid-caption", has_text="latency").wait_for(timeout=15_000)
    page.get_by_label("lowest first").check()
    page.locator("#analysis-grid .grid-caption", has_text="lowest first").wait_for(timeout=15_000)
    expected = build_grid(
        playground, comparison.experiment_id, sort_by="latency_s", descending=False, with_frames=False
    )
    assert [t.split(":")[0] for t in row_titles(page)] == [r.title.split(":")[0] for r in expected.rows]
    assert not dialogs and not page.console_errors
