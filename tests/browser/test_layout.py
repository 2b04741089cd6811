"""Issue 17's layout at 1400x900 and 390x844: the action bar (Generate, Cancel, estimate) and the
newest result in view, frames before text on a phone, galleries that show every frame and whole
captions under them, Compare rows that do not crop frames, a Provider label that is not clipped."""

from __future__ import annotations

import pytest

from support.browser import console_errors, fill_story, open_tab, shot

VIEWPORTS = {1400: {"width": 1400, "height": 900}, 390: {"width": 390, "height": 844}}
IN_VIEW = """(el) => { const r = el.getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight + 1; }"""


def in_view(page, selector: str) -> bool:
    return bool(page.locator(selector).first.evaluate(IN_VIEW))


@pytest.mark.parametrize("width", [1400, 390])
def test_action_bar_in_view_at_the_top_and_the_bottom_of_the_page(app_url: str, page, width: int) -> None:
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    page.locator("#run-estimate", has_text="ready").wait_for(timeout=15_000)
    for where in ("top", "bottom"):
        page.evaluate("window.scrollTo(0, 0)" if where == "top" else "window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_timeout(100)  # one frame for the scroll (a layout read, not a wait on the app)
        for selector in ("#generate-button", "#cancel-button", "#run-estimate"):
            assert in_view(page, selector), (width, where, selector)
    shot(page, f"layout_bottom_{width}", full_page=False)
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize("width", [1400, 390])
def test_after_generate_the_frames_and_summary_are_in_view(app_url: str, page, width: int) -> None:
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    fill_story(page, frames=4)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # the form filled, at its end
    page.locator("#generate-button").click()
    page.locator("#run-summary", has_text="ok: 4 of 4 frames").wait_for(timeout=30_000)
    assert in_view(page, "#sequence-gallery img"), width
    heading = page.locator("#run-summary h3").first
    assert heading.evaluate("(el) => el.getBoundingClientRect().top < window.innerHeight"), width
    shot(page, f"layout_after_generate_{width}", full_page=False)
    assert console_errors(page.console_errors) == []


def test_fifteen_frames_all_shown_with_whole_captions_under_them(app_url: str, page) -> None:
    page.set_viewport_size(VIEWPORTS[1400])
    page.goto(app_url)
    beats = [f"Miko, beat number {i + 1}, with a long caption that used to be cut" for i in range(15)]
    fill_story(page, frames=15, beats=beats)
    page.locator("#generate-button").click()
    page.locator("#run-summary", has_text="ok: 15 of 15 frames").wait_for(timeout=60_000)
    box = page.locator("#sequence-gallery .fixed-height").first
    assert box.evaluate("(el) => el.scrollHeight <= el.clientHeight + 1")  # no inner scroll: every row shown
    items = page.locator("#sequence-gallery .thumbnail-item")
    assert items.count() == 15
    for i in range(15):
        laid = items.nth(i).evaluate("""(el) => { const img = el.querySelector('img').getBoundingClientRect();
            const cap = el.querySelector('.caption-label');
            return {below: cap.getBoundingClientRect().top >= img.bottom - 1,
                    whole: cap.scrollWidth <= cap.clientWidth + 1}; }""")
        assert laid == {"below": True, "whole": True}, (i, laid)
    shot(page, "gallery_15_frames_1400")
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize("width", [1400, 390])
def test_compare_rows_show_whole_frames(app_url: str, page, width: int) -> None:
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    open_tab(page, "Compare")  # on a phone, folded into "More tabs"
    page.locator("#compare-prompt textarea").fill("A red panda courier. Flat style.")
    page.get_by_label("Frame beats").nth(1).fill("a\nb\nc\nd")
    page.locator("#compare-run").click()
    page.locator("#compare-status", has_text="2/2 arm(s) ok").wait_for(timeout=60_000)
    for row in range(2):
        gallery = page.locator(f"#compare-gallery-{row}")
        assert gallery.locator("img").count() == 4
        inside = gallery.evaluate("""(g) => { const box = g.getBoundingClientRect();
            return [...g.querySelectorAll('img')].every(i => i.getBoundingClientRect().bottom <= box.bottom + 1); }""")
        assert inside, (width, row)
        tops = gallery.evaluate(
            "(g) => [...g.querySelectorAll('img')].map(i => Math.round(i.getBoundingClientRect().top))"
        )
        rows = len(set(tops))
        assert rows == (1 if width == 1400 else 2), tops  # one row of 4, or 2 + 2 on a phone (never 3 + 1)
    shot(page, f"compare_rows_{width}")
    assert page.locator(".toast-body", has_text="Error").count() == 0  # the form's estimate answered
    assert page.locator("#compare-estimate", has_text="Estimated total").count() == 1
    assert console_errors(page.console_errors) == []


@pytest.mark.parametrize("width", [1400, 390])
def test_provider_label_is_not_clipped(app_url: str, page, width: int) -> None:
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    box = page.get_by_label("Provider", exact=True).first
    box.wait_for(timeout=15_000)
    assert box.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1"), box.input_value()


def test_compare_provider_label_is_not_clipped(app_url: str, page) -> None:
    page.set_viewport_size(VIEWPORTS[1400])
    page.goto(app_url)
    open_tab(page, "Compare")  # on a phone, folded into "More tabs"
    box = page.get_by_label("Provider", exact=True).last
    box.wait_for(timeout=15_000)
    assert box.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1"), box.input_value()
