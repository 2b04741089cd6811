"""The Arena in a real browser at 1400x900 and 390x844: a blind pair (no arm name before the
vote), the keys A, B, T, S, N, U clicking the real buttons (ignored while typing in the rater
box), one row per vote in ratings.csv, per-criterion votes sharing one pair id, undo by a
retract row, and a leaderboard that shows no rating without its interval."""

from __future__ import annotations

import asyncio
import re

import pytest

from playground.base.prompts import Story
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from playground.experiments.votes import vote
from support.browser import open_tab, shot

expect = pytest.importorskip("playwright.sync_api").expect

ARMS = [Arm("local", "", "sequence"), Arm("local", "", "baseline")]
RATED = re.compile(r"\d+% \[\d+%, \d+%\]")  # a win rate with its interval
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def experiment(playground):  # type: ignore[no-untyped-def]
    story = Story(
        "Miko, a red panda courier " + HOSTILE, beats=("gets a parcel", "runs over roofs", "hides", "delivers")
    )
    result = asyncio.run(
        compare(
            playground, story, ARMS, variants={"A": "flat colours", "B": "ink wash"}, frames=4, seed=5, size="512x512"
        )
    )
    return result


def settled(page) -> None:  # type: ignore[no-untyped-def]
    """Every Arena component done loading (a screenshot mid-update shows them faded)."""
    page.wait_for_function("!document.querySelector('#arena .pending, #arena .generating')", timeout=15_000)


def rows_of(playground):  # type: ignore[no-untyped-def]
    return playground.log.read_ratings()


def wait_rows(page, playground, n: int) -> None:  # type: ignore[no-untyped-def]
    """Wait (on the page's own event loop, no sleeps) until ratings.csv holds n rows."""
    for _ in range(300):
        if len(rows_of(playground)) >= n:
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"ratings.csv has {len(rows_of(playground))} rows, expected {n}")


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_arena_keys_vote_undo_criteria_and_leaderboard(  # type: ignore[no-untyped-def]
    experiment,
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
    open_tab(page, "Arena")
    for side in ("left", "right"):
        page.locator(f"#arena-{side} img").nth(3).wait_for(timeout=30_000)
        box, last = (
            page.locator(f"#arena-{side}").bounding_box(),
            page.locator(f"#arena-{side} img").nth(3).bounding_box(),
        )
        assert box and last and last["x"] + last["width"] <= box["x"] + box["width"] + 1  # 4 frames, one row, none cut
        assert abs(last["y"] - page.locator(f"#arena-{side} img").first.bounding_box()["y"]) < 2
        if width < 640:  # as tall as its row of frames: both panes in view (the gallery kept 240 px)
            assert box["height"] < last["height"] + 80
    blind = " ".join(page.locator(f"#arena-{part}").inner_text() for part in ("left", "right", "info", "reveal"))
    assert "procedural" not in blind and ":sequence" not in blind and ":baseline" not in blind  # blind until voted
    settled(page)
    shot(page, f"arena_pair_{width}", full_page=False)

    # typing in the rater box: the keys stay letters, nothing is voted
    page.locator("#arena-rater input, #arena-rater textarea").first.fill("")
    page.locator("#arena-rater input, #arena-rater textarea").first.type("ana bts")
    page.locator("#arena-rater input, #arena-rater textarea").first.fill("ana")
    page.locator("#arena-info").click()  # out of the box
    assert rows_of(playground).empty

    page.keyboard.press("a")  # A better
    page.locator("#arena-reveal", has_text="Saved").wait_for(timeout=15_000)
    assert "local:procedural-v1:" in page.locator("#arena-reveal").inner_text()
    rows = rows_of(playground)
    assert list(rows["verdict"]) == ["left"] and rows.iloc[0]["criterion"] == "overall"
    assert rows.iloc[0]["rater"] == "ana" and rows.iloc[0]["source"] == "ui" and rows.iloc[0]["decide_ms"]
    expect(page.locator("#arena-overall-left")).to_be_disabled()  # one vote per pair and row

    page.keyboard.press("u")  # undo: a retract row; the row can be voted again
    page.locator("#arena-reveal", has_text="Withdrew").wait_for(timeout=15_000)
    expect(page.locator("#arena-overall-tie")).to_be_enabled()
    page.keyboard.press("t")
    page.locator("#arena-reveal", has_text="Saved").wait_for(timeout=15_000)
    rows = rows_of(playground)
    assert list(rows["verdict"]) == ["left", "retract", "tie"] and rows.iloc[1]["retracts"] == rows.iloc[0]["vote_id"]

    # per criterion: three rows, the keys vote the first open row each time, one pair id
    page.get_by_label("per criterion (character, style, story)").check()
    expect(page.locator("#arena-character-left")).to_be_enabled(timeout=15_000)
    for key, n in (("a", 4), ("b", 5), ("s", 6)):
        page.keyboard.press(key)
        wait_rows(page, playground, n)
    page.locator("#arena-reveal", has_text="Saved").wait_for(timeout=15_000)
    rows = rows_of(playground).iloc[3:]
    assert list(rows["criterion"]) == ["character", "style", "story"]
    assert list(rows["verdict"]) == ["left", "right", "skip"] and rows["pair_id"].nunique() == 1

    board = page.locator("#arena-leaderboard").inner_text()
    assert "needs ≥ 5 votes" in board and not RATED.search(board)  # no rating without its interval
    # enough votes for ratings (through the function behind /vote), then N draws a fresh pair
    runs = {r.run_id: r for r in experiment.records}
    ids = list(runs)
    for i in range(12):
        vote(
            playground,
            experiment_id=experiment.experiment_id,
            left_run_id=ids[i % 4],
            right_run_id=ids[(i + 1) % 4],
            verdict="left",
            rater="bo",
        )
    page.locator("#arena-board-criterion input").first.click()
    page.get_by_role("option", name="character").click()
    page.locator("#arena-board-criterion input").first.click()
    page.get_by_role("option", name="overall").click()
    expect(page.locator("#arena-leaderboard")).to_contain_text(RATED, timeout=15_000)
    page.keyboard.press("n")
    expect(page.locator("#arena-reveal")).to_have_text("", timeout=15_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator("#arena-leaderboard").scroll_into_view_if_needed()
    settled(page)
    shot(page, f"arena_leaderboard_{width}", full_page=False)
    page.reload()  # the rater's name is remembered in this browser
    open_tab(page, "Arena")
    expect(page.locator("#arena-rater input, #arena-rater textarea").first).to_have_value("ana", timeout=15_000)
    assert not dialogs and not page.console_errors
