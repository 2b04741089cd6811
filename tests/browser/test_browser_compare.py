"""Compare and Analysis tabs in a real browser: an offline comparison side by side, a blind
vote that reaches the Analysis table, and the cost confirmation that sends nothing until yes."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.base.config import Settings
from support.app import launch_app
from support.browser import open_tab, shot

expect = pytest.importorskip("playwright.sync_api").expect

PROMPT = "Miko, a small red panda courier with a green scarf. Flat-colour webcomic panels."
BEATS = "receives a parcel\nraces across rooftops\nshelters from rain\ndelivers the cake"


def fill_story(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-prompt textarea").fill(PROMPT)
    page.get_by_label("Frame beats").nth(1).fill(BEATS)  # the Compare tab's (Generate has one too)


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
    assert "local:procedural-v1:sequence" in table.inner_text() and "n < 5" in table.inner_text()  # no rating yet
    shot(page, "analysis")
    with page.expect_download(timeout=15_000) as download:
        page.get_by_role("button", name="Download table (CSV)").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert exported.startswith("arm,variant,runs,success_rate") and "local:procedural-v1:sequence" in exported
    assert not page.console_errors


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


SIX_ARMS = [
    "local:procedural-v1:sequence",
    "local:procedural-v1:baseline",
    "byteplus:seedream-5-0-260128:sequence",
    "byteplus:seedream-5-0-260128:baseline",
    "wavespeed:bytedance/seedream-v4.5/sequential:sequence",
    "fal:fal-ai/flux-pro/v1.1:baseline",
]


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_analysis_of_six_arms_shows_the_key_columns_and_every_arm_in_the_legend(  # type: ignore[no-untyped-def]
    app_url: str,
    page,
    playground,
    width: int,
    height: int,
) -> None:
    """At 1400 px every column of both tables is in sight (`$/frame`, `p95 s` were cut); the cost
    axis has a few round ticks from $0 (it had about 30, from -$0.01); win % and BT come with
    their intervals, or "n < 5"; at 390 px the tables scroll inside themselves, not the page."""
    from playground.base.types import RunRecord
    from playground.experiments.votes import add_vote

    page.set_viewport_size({"width": width, "height": height})
    for i, arm in enumerate(SIX_ARMS):
        provider, mode = arm.split(":")[0], arm.split(":")[-1]
        for repeat, subject in enumerate((0.05, 0.95) if i == 0 else (0.4 + i / 20, 0.42 + i / 20)):
            playground.log.append(
                RunRecord(
                    run_id=f"r{i}{repeat}",
                    experiment_id="six",
                    arm=arm,
                    provider=provider,
                    model=arm.split(":", 1)[1].rsplit(":", 1)[0],
                    mode=mode,
                    status="ok",
                    frames_requested=3,
                    frames_returned=3,
                    api_calls=1,
                    cost_usd=0.03 * i,
                    latency_s=2.0 + i / 10,
                    subject_consistency=subject,
                    repeat=repeat,
                )
            )
    for i in range(1, 6):
        add_vote(playground, "six", "r00", f"r{i}0", "left")
    for _ in range(5):
        add_vote(playground, "six", "r10", "r20", "right")
    page.goto(app_url)
    open_tab(page, "Analysis")  # on a phone it may be folded into "More tabs"
    page.locator("#analysis-notes", has_text="10 vote(s)").wait_for(timeout=15_000)
    page.locator("#analysis-cost-plot svg circle").nth(5).wait_for(timeout=15_000)
    tables = {
        "#analysis-table": ("votes", "win %", "BT", "score", "$/run", "$/frame", "p50 s", "p95 s", "frames"),
        "#analysis-consistency": ("subject",),
    }
    for table, headers in tables.items():
        for header in headers:
            cell = page.locator(f"{table} th", has_text=header).filter(visible=True).first
            box = cell.bounding_box()
            if width >= 1400:
                assert box and box["x"] + box["width"] <= width, header  # in sight without scrolling sideways
            else:  # reachable by the table's own sideways scroll
                cell.scroll_into_view_if_needed()
                box = cell.bounding_box()
                assert box and 0 <= box["x"] and box["x"] + box["width"] <= width + 1, header
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # the page itself does not scroll sideways
    text = page.locator("#analysis-table").inner_text()
    assert "100% [" in text and "n < 5" in text  # r00: 5 wins, with its interval; others below 5 votes: no rating
    assert "[0.00, 1.00]" in page.locator("#analysis-consistency").inner_text()  # n = 2 spanning 0.05..0.95: clipped
    ticks = page.locator("#analysis-cost-plot .x-tick").evaluate_all("ts => ts.map(t => t.textContent)")
    assert 2 <= len(ticks) <= 6 and ticks[0] == "$0.00" and not any("-" in t for t in ticks)
    plot = page.locator("#analysis-cost-plot").bounding_box()
    for label in (
        "local:sequence",
        "local:baseline",
        "byteplus:sequence",
        "byteplus:baseline",
        "wavespeed:sequence",
        "fal:baseline",
    ):  # drawn whole, inside the plot's box
        entry = page.locator("#analysis-cost-plot li", has_text=label).first.bounding_box()
        assert entry and plot["x"] <= entry["x"] and entry["x"] + entry["width"] <= plot["x"] + plot["width"], label
    page.locator("#analysis-table").scroll_into_view_if_needed()
    shot(page, f"analysis_six_arms_{width}")
    assert not page.console_errors
