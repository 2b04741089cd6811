"""Compare and Analysis tabs in a real browser: an offline comparison side by side, a blind
vote that reaches the Analysis table, and the cost confirmation that sends nothing until yes."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import launch_app
from playground.config import Settings
from test_browser import shot

expect = pytest.importorskip("playwright.sync_api").expect

PROMPT = "Miko, a small red panda courier with a green scarf. Flat-colour webcomic panels."
BEATS = "receives a parcel\nraces across rooftops\nshelters from rain\ndelivers the cake"


def fill_story(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill(PROMPT)
    page.get_by_label("Frame beats").nth(1).fill(BEATS)  # the Compare tab's (Generate has one too)


@pytest.mark.browser
def test_offline_comparison_side_by_side_then_vote_reaches_analysis(app_url: str, page, playground) -> None:  # type: ignore[no-untyped-def]
    page.goto(app_url)
    fill_story(page)
    page.get_by_role("button", name="Run comparison").click()
    page.locator("#compare-status", has_text="wall time").wait_for(timeout=60_000)
    for i in (0, 1):
        page.locator(f"#compare-gallery-{i} img").nth(3).wait_for(timeout=15_000)
        assert page.locator(f"#compare-gallery-{i} img").count() == 4
    assert page.get_by_text("local:procedural-v1:sequence — ok").count() == 1
    assert page.get_by_text("local:procedural-v1:baseline — ok").count() == 1
    shot(page, "compare")
    log = playground.log.read()
    assert sorted(log["mode"]) == ["baseline", "sequence"] and set(log["status"]) == {"ok"}

    page.get_by_role("tab", name="Blind vote").click()
    page.locator("#vote-left img").nth(3).wait_for(timeout=15_000)
    assert "procedural" not in page.locator("#vote-left").inner_text()  # no arm names before the vote
    page.get_by_role("button", name="Left better").click()
    page.locator("#vote-reveal", has_text="Saved").wait_for(timeout=15_000)
    assert "local:procedural-v1:" in page.locator("#vote-reveal").inner_text()
    ratings = playground.log.read_ratings()
    assert list(ratings["verdict"]) == ["left"] and ratings.iloc[0]["experiment_id"] == log.iloc[0]["experiment_id"]
    for name in ("Left better", "Tie", "Right better"):  # voted: no second vote on the same pair
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    page.get_by_role("button", name="Another pair").click()
    expect(page.get_by_role("button", name="Tie", exact=True)).to_be_enabled()
    assert page.locator("#vote-reveal").inner_text().strip() == ""

    page.get_by_role("tab", name="Analysis").click()
    page.locator("#analysis-notes", has_text="1 vote(s)").wait_for(timeout=15_000)
    table = page.locator("#analysis-table")
    assert "local:procedural-v1:sequence" in table.inner_text() and "100%" in table.inner_text()
    shot(page, "analysis")
    with page.expect_download(timeout=15_000) as download:
        page.get_by_role("button", name="Download table (CSV)").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("arm,variant,runs,success_rate") and "local:procedural-v1:sequence" in exported
    assert not page.console_errors


@pytest.mark.browser
def test_confirmation_above_the_threshold_sends_nothing_until_yes(page, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"PLAYGROUND_PRICES": '{"local/procedural-v1": 0.25}', "PLAYGROUND_CONFIRM_USD": "1.0"}
    settings = Settings.from_env(env=env, data_dir=data_dir)
    app, url = launch_app(settings)
    try:
        page.goto(url)
        fill_story(page)  # 2 arms x 4 frames x $0.25 = $2.00
        page.locator("#compare-estimate", has_text="asked to confirm").wait_for(timeout=15_000)
        page.get_by_role("button", name="Run comparison").click()
        page.get_by_text("Nothing has been sent. Run it?").wait_for(timeout=15_000)
        page.get_by_role("button", name="No", exact=True).click()
        page.locator("#compare-status", has_text="Cancelled: nothing was sent").wait_for(timeout=15_000)
        assert not (data_dir / "runs.csv").exists()
        page.get_by_role("button", name="Run comparison").click()
        page.get_by_role("button", name="Yes, run it").click()
        page.locator("#compare-status", has_text="wall time").wait_for(timeout=60_000)
        assert (data_dir / "runs.csv").read_text().count("\n") == 3  # header + two runs
    finally:
        app.close()  # type: ignore[attr-defined]
