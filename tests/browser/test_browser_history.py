"""History in a real browser at 1400x900 and 390x844: refusals hidden by default, a filter, a
reopened run showing what it was made with, Load into Generate and Re-run."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from playground.base.errors import InputError
from playground.base.types import GenerationRequest
from support.browser import console_errors, shot


def run_now(coroutine):  # type: ignore[no-untyped-def]
    """Playwright's sync API runs a loop in this thread: the core's runs go to a thread of their own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


VIEWPORTS = {1400: {"width": 1400, "height": 900}, 390: {"width": 390, "height": 844}}


@pytest.mark.parametrize("width", [1400, 390])
def test_history_fork(app_url: str, page, playground, width: int) -> None:
    made = run_now(
        playground.run(
            GenerationRequest(
                prompt="A fox courier. Flat style.",
                frames=2,
                seed=11,
                beats=["wakes", "runs", "sleeps"],
                size="512x512",
            )
        )
    ).record
    run_now(playground.run(GenerationRequest(prompt="A cat.", frames=1, mode="baseline")))
    with pytest.raises(InputError):
        run_now(playground.run(GenerationRequest(prompt="A dog.", frames=2, provider="nope")))
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(app_url)
    page.get_by_role("tab", name="History").click()
    page.locator("#history-hidden-note", has_text="1 request(s) refused before sending are hidden").wait_for(
        timeout=15_000
    )
    table = page.locator("#history-table")
    assert "nope" not in table.inner_text()
    page.locator("#history-show-refused input").check()
    page.locator("#history-table span", has_text="nope").first.wait_for(timeout=15_000)
    page.locator("#history-show-refused input").uncheck()
    mode = page.locator("#history-filter-mode input")
    mode.fill("sequence")
    mode.press("Enter")
    page.wait_for_function(
        "() => !document.querySelector('#history-table').innerText.includes('baseline')", timeout=15_000
    )
    page.get_by_label("Run ID").fill(made.run_id)
    page.get_by_role("button", name="Open run").click()
    made_with = page.locator("#history-made-with textarea")
    made_with.wait_for(timeout=15_000)
    page.wait_for_function(
        "() => document.querySelector('#history-made-with textarea').value.includes('Prompt:')", timeout=15_000
    )
    text = made_with.input_value()
    assert "A fox courier. Flat style." in text and "(the first 2 of 3 sent)" in text and "seed 11 sent" in text
    assert "size 512x512" in text
    share = page.locator("#history-gallery").evaluate("""(g) => g.querySelector('img').getBoundingClientRect().width
        / g.getBoundingClientRect().width""")
    assert share < (0.25 if width == 1400 else 0.55), share  # 5 a row (2 on a phone): two frames stay frame-sized
    page.locator("#history-tag input").fill("keep")
    page.get_by_role("button", name="Add tag").click()
    page.locator("#history-note textarea").fill("the scarf changes colour in frame 2")
    page.get_by_role("button", name="Add note").click()
    page.wait_for_function(
        "() => document.querySelector('#history-notes textarea').value.includes('scarf')", timeout=15_000
    )
    assert "Tags: keep" in page.locator("#history-notes textarea").input_value()
    page.reload()  # read back from annotations.csv
    page.get_by_role("tab", name="History").click()
    page.get_by_label("Run ID").fill(made.run_id)
    page.get_by_role("button", name="Open run").click()
    page.wait_for_function(
        "() => document.querySelector('#history-notes textarea')?.value.includes('scarf')", timeout=15_000
    )
    assert "Tags: keep" in page.locator("#history-notes textarea").input_value()
    shot(page, f"history_reopened_{width}", full_page=False)
    page.locator("#history-load").click()
    prompt = page.get_by_label("Prompt", exact=True).first
    page.wait_for_function(
        "() => [...document.querySelectorAll('#generate-form textarea')]"
        ".some(t => t.value === 'A fox courier. Flat style.')",
        timeout=15_000,
    )
    assert prompt.input_value() == "A fox courier. Flat style."
    assert page.get_by_label("Frame beats").first.input_value() == "wakes\nruns\nsleeps"
    assert page.get_by_label("Frames", exact=True).first.input_value() == "2"
    assert page.locator("#seed-box input").input_value() == "11"
    page.locator("#run-estimate", has_text="uses beats 1–2 of 3").wait_for(timeout=15_000)
    before = len(playground.log.read())
    page.get_by_role("tab", name="History").click()
    page.locator("#history-rerun").click()
    page.locator("#run-summary", has_text="ok: 2 of 2 frames").wait_for(timeout=30_000)
    log = playground.log.read()
    assert len(log) == before + 1
    again = log.iloc[-1]
    assert again["prompt"] == made.prompt and int(again["seed"]) == 11 and again["size"] == "512x512"
    assert console_errors(page.console_errors) == []
