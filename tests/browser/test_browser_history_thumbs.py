"""History's thumbnails in a real browser at 1400x900 and 390x844: each run that made frames shows
its first frame's 640 px preview (never the original), a refused run shows none; the Tag filter."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from playground.base.errors import InputError
from playground.base.types import GenerationRequest
from playground.experiments.annotations import add_tag
from support.browser import console_errors, shot

VIEWPORTS = {1400: {"width": 1400, "height": 900}, 390: {"width": 390, "height": 844}}


def run_now(coroutine):  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.mark.parametrize("width", [1400, 390])
def test_history_rows_show_first_frame_previews(app_url: str, page, playground, width: int) -> None:
    made = [run_now(playground.run(GenerationRequest(prompt=f"A fox courier {i}.", frames=2))).record for i in range(2)]
    with pytest.raises(InputError):
        run_now(playground.run(GenerationRequest(prompt="A dog.", frames=2, provider="nope")))
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    page.get_by_role("tab", name="History").click()
    page.locator("#history-show-refused input").check()  # the refused row is listed, without a picture
    page.locator("#history-table .virtual-row", has_text="nope").first.wait_for(state="attached", timeout=15_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#history-table .virtual-row img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= 2",
        timeout=15_000,
    )
    thumbs = page.locator("#history-table .virtual-row img").evaluate_all(
        "(imgs) => imgs.map(i => ({src: i.getAttribute('src') || '', w: i.naturalWidth, "
        "shown: i.getBoundingClientRect().width, row: i.closest('.virtual-row').innerText}))"
    )
    assert len(thumbs) == 2, thumbs  # one per run with frames; the refused row has none
    for thumb, record in zip(thumbs, reversed(made)):  # newest first
        assert record.run_id in thumb["row"]
        assert "frame_01.preview.webp" in thumb["src"] and record.run_id in thumb["src"]
        assert thumb["w"] <= 640 and 0 < thumb["shown"] <= 80, thumb  # the preview, drawn small
    refused_row = page.locator("#history-table .virtual-row", has_text="nope").first
    assert refused_row.locator("img").count() == 0
    shot(page, f"history_thumbnails_{width}", full_page=False)
    add_tag(playground, made[0].run_id, "keep")  # the Tag filter: only the runs that carry it
    page.locator("#history-show-refused input").uncheck()
    tag = page.locator("#history-filter-tag input")
    tag.fill("keep")
    tag.press("Enter")
    page.wait_for_function(
        f"() => !document.querySelector('#history-table').innerText.includes('{made[1].run_id}')", timeout=15_000
    )
    assert made[0].run_id in page.locator("#history-table").inner_text()
    assert console_errors(page.console_errors) == []
