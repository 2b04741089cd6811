"""Analysis: the per-arm figures, the t interval, Bradley-Terry, votes changing the analysis,
the report command and the Analysis tab's helpers (which share this code)."""

from __future__ import annotations

import asyncio
import json
import math

import pandas as pd
import pytest

from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.cli.main import main
from playground.core import Playground
from playground.experiments import analysis
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from playground.experiments.votes import add_score, add_vote
from playground.present.analysis import ALL, FIGURES, analysis_view, experiment_choices
from playground.present.plot import cost_plot_svg, nice_ticks
from playground.store.runlog import RATING_COLUMNS

SEQ, BASE = Arm("local", "", "sequence"), Arm("local", "", "baseline")


def run_row(**fields: object) -> dict[str, object]:
    base = RunRecord(
        provider="local",
        model="procedural-v1",
        mode="sequence",
        frames_requested=4,
        api_calls=1,
        status="ok",
        frames_returned=4,
    ).as_row()
    return {**base, **fields}


def frame_of(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def no_ratings() -> pd.DataFrame:
    return pd.DataFrame(columns=RATING_COLUMNS)


def test_t_interval_matches_the_formula() -> None:
    mean, low, high = analysis.t_interval(pd.Series([1.0, 2.0, 3.0, 4.0]))
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2  # t(0.975, 3) * s / sqrt(n)
    assert mean == 2.5 and low == pytest.approx(2.5 - half) and high == pytest.approx(2.5 + half)
    assert math.isnan(analysis.t_interval(pd.Series([0.7]))[1]) and analysis.t_interval(pd.Series([0.7]))[0] == 0.7


def test_bradley_terry_orders_by_wins_and_is_symmetric_for_ties() -> None:
    strong, weak = analysis.bradley_terry([[0, 3], [1, 0]])
    assert strong > 1 > weak  # 3 wins to 1 against the virtual average opponent of strength 1
    assert strong / weak == pytest.approx(3, rel=0.35)  # the prior pulls the ratio a little toward 1
    even = analysis.bradley_terry([[0, 2], [2, 0]])
    assert even[0] == pytest.approx(even[1]) == pytest.approx(1.0)
    unbeaten, _ = analysis.bradley_terry([[0, 5], [0, 0]])
    assert math.isfinite(unbeaten)


def test_summary_figures_per_arm() -> None:
    runs = frame_of(
        run_row(run_id="a", arm="x", cost_usd=0.4, latency_s=2.0, subject_consistency=0.8),
        run_row(
            run_id="b",
            arm="x",
            cost_usd=0.2,
            latency_s=4.0,
            frames_returned=2,
            status="partial",
            subject_consistency=0.6,
        ),
        run_row(run_id="c", arm="x", status="cancelled", latency_s=99.0),  # stopped by the user: left out
        run_row(run_id="d", arm="x", status="error", api_calls=0, frames_returned=0),  # never sent: left out
        run_row(run_id="e", arm="", mode="baseline", latency_s=1.0, cost_usd=0.0),  # a Generate run
    )
    result = analysis.analyse_frames(runs, no_ratings())
    x = result.summary.set_index("arm").loc["x"]
    assert x["runs"] == 2 and x["success_rate"] == 0.5 and x["frames_ratio"] == 0.75
    assert x["cost_per_run"] == pytest.approx(0.3) and x["cost_per_frame"] == pytest.approx(0.6 / 6)
    assert x["latency_p50_s"] == 3.0 and x["latency_p95_s"] == pytest.approx(3.9)
    assert x["subject_consistency_mean"] == pytest.approx(0.7) and x["subject_consistency_ci95_low"] < 0.6
    assert "local:procedural-v1:baseline" in set(result.summary["arm"])
    assert x["votes"] == 0 and math.isnan(x["win_rate"])


def test_votes_change_the_analysis(playground: Playground) -> None:
    story = Story("a fox courier", beats=("a parcel", "a door"))
    result = asyncio.run(compare(playground, story, [SEQ, BASE], frames=2, seed=3, size="512x512"))
    seq, base = (r.run_id for r in result.records)
    eid = result.experiment_id

    def table() -> pd.DataFrame:
        return analysis.analyse(playground, eid).summary.set_index("arm")

    assert table()["votes"].tolist() == [0, 0]
    add_vote(playground, eid, seq, base, "left")
    add_vote(playground, eid, base, seq, "right")
    after = table()  # two votes: counted, but no rating (and no interval) below MIN_VOTES
    assert after.loc[SEQ.label, ["wins", "votes", "too_few_votes"]].tolist() == [2, 2, True]
    assert after[["win_rate", "win_rate_ci95_low", "bt_rating", "bt_rating_ci95_high"]].isna().all().all()
    for _ in range(3):
        add_vote(playground, eid, seq, base, "left")
    after = table()
    assert after.loc[SEQ.label, "win_rate"] == 1.0 and after.loc[BASE.label, "win_rate"] == 0.0
    assert after.loc[SEQ.label, "bt_rating"] > 1000 > after.loc[BASE.label, "bt_rating"]
    for _ in range(9):
        add_vote(playground, eid, base, seq, "left")
    add_vote(playground, eid, seq, base, "tie")
    flipped = table()
    assert flipped.loc[BASE.label, "bt_rating"] > flipped.loc[SEQ.label, "bt_rating"]
    assert flipped.loc[BASE.label, ["wins", "losses", "ties", "votes"]].tolist() == [9, 5, 1, 15]
    assert flipped.loc[BASE.label, "win_rate"] == pytest.approx(9.5 / 15)
    low, high = flipped.loc[BASE.label, ["win_rate_ci95_low", "win_rate_ci95_high"]]
    assert 0 <= low < 9.5 / 15 < high <= 1
    add_score(playground, eid, seq, 2)
    add_score(playground, eid, seq, 5)
    assert table().loc[SEQ.label, "score_mean"] == 3.5
    pairwise = analysis.analyse(playground, eid).pairwise
    assert pairwise.loc[BASE.label, SEQ.label] == pytest.approx(9.5 / 15)
    assert analysis.analyse(playground, "another-experiment").votes == 0


def test_report_command_json_and_text(playground: Playground, capsys: pytest.CaptureFixture[str]) -> None:
    result = asyncio.run(
        compare(playground, Story("a fox", beats=("a", "b")), [SEQ, BASE], frames=2, seed=1, size="512x512")
    )
    for _ in range(6):
        add_vote(playground, result.experiment_id, result.records[0].run_id, result.records[1].run_id, "left")
    data_dir = str(playground.settings.data_dir)
    assert main(["report", "--experiment", result.experiment_id, "--json", "--data-dir", data_dir]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["experiment_id"] == result.experiment_id and report["votes"] == 6 and report["runs"] == 2
    seq = next(a for a in report["arms"] if a["arm"] == SEQ.label)
    assert seq["win_rate"] == 1.0 and seq["latency_p50_s"] > 0 and "subject_consistency_ci95_low" in seq
    assert 0.5 < seq["win_rate_ci95_low"] < 0.9 and seq["win_rate_ci95_high"] == 1.0  # 6 of 6: not [100%, 100%]
    assert seq["bt_rating_ci95_low"] <= seq["bt_rating"] <= seq["bt_rating_ci95_high"]
    assert seq["too_few_votes"] is False
    assert main(["report", "--data-dir", data_dir]) == 0
    text = capsys.readouterr().out
    assert SEQ.label in text and "Student t" in text and "Bradley" in text
    assert main(["report", "--experiment", "nope", "--data-dir", data_dir]) == 2
    assert "no experiment 'nope'" in capsys.readouterr().err


def test_analysis_tab_view_and_csv_export(playground: Playground) -> None:
    result = asyncio.run(
        compare(playground, Story("a fox", beats=("a", "b")), [SEQ, BASE], frames=2, seed=1, size="512x512")
    )
    assert experiment_choices(playground) == [ALL, result.experiment_id]
    view = analysis_view(playground, result.experiment_id)
    assert sorted(view.table["arm"]) == sorted([SEQ.label, BASE.label])
    assert list(view.table.columns) == FIGURES and list(view.consistency.columns)[:2] == ["arm", "subject"]
    assert view.cost_plot.count("<circle") == 2 and "x-tick" in view.cost_plot
    assert set(view.latency_points["provider"]) == {"local"} and len(view.latency_points) == 2
    assert len(view.cost_points) == 2
    exported = pd.read_csv(view.csv_path)
    assert sorted(exported["arm"]) == sorted([SEQ.label, BASE.label]) and "subject_consistency_mean" in exported
    empty = analysis_view(playground, "nothing-here")
    assert empty.csv_path is None and empty.table.empty


def test_intervals_past_a_metric_bounds_are_shown_clipped_and_kept_raw() -> None:
    """n = 2 with a large spread: the t interval of a 0-to-1 metric passes 0 and 1."""
    runs = frame_of(
        run_row(run_id="a", arm="x", palette_consistency=0.0, subject_consistency=0.70),
        run_row(run_id="b", arm="x", palette_consistency=0.95, subject_consistency=0.72),
    )
    result = analysis.analyse_frames(runs, no_ratings())
    raw = result.summary.iloc[0]
    assert raw["palette_consistency_ci95_low"] < 0 and raw["palette_consistency_ci95_high"] > 1  # raw, as computed
    shown = analysis.display_table(result.summary).iloc[0]
    assert shown["palette"] == "0.475 [0.00, 1.00]"
    assert shown["subject"].startswith("0.710 ± ")  # inside [0, 1]: the usual ± form
    assert analysis.CLIP_NOTE in result.notes
    tight = analysis.analyse_frames(
        frame_of(
            run_row(run_id="a", arm="x", subject_consistency=0.7),
            run_row(run_id="b", arm="x", subject_consistency=0.71),
        ),
        no_ratings(),
    )
    assert analysis.CLIP_NOTE not in tight.notes
    assert analysis._interval(-0.2, -0.9, 0.5, (-1.0, 1.0)) == "-0.200 ± 0.700"  # a cosine may be negative


def test_the_table_puts_what_arms_are_compared_by_first() -> None:
    runs = frame_of(run_row(run_id="a", arm="x", subject_consistency=0.7, palette_consistency=0.5))
    columns = list(analysis.display_table(analysis.analyse_frames(runs, no_ratings()).summary).columns)
    assert columns[:10] == ["arm", "runs", "ok", "votes", "win %", "BT", "score", "$/run", "p50 s", "subject"]
    assert columns[-3:] == ["frames", "$/frame", "p95 s"]


def test_plot_labels_are_short_unless_that_is_ambiguous() -> None:
    keys = [
        ("byteplus:seedream-5-0-260128:sequence", ""),
        ("byteplus:seedream-5-0-260128:baseline", ""),
        ("wavespeed:bytedance/seedream-v4.5/sequential:sequence", "B"),
        ("fal:a:baseline", ""),
        ("fal:b:baseline", ""),
    ]
    assert analysis.short_labels(keys) == [
        "byteplus:sequence",
        "byteplus:baseline",
        "wavespeed:sequence [B]",
        "fal:a:baseline",
        "fal:b:baseline",
    ]


def test_plot_ranges_leave_a_margin_around_the_points() -> None:
    from playground.present.analysis import padded

    low, high = padded(pd.Series([0.0, 0.15]))
    assert low < 0.0 and high > 0.15 and high - 0.15 == pytest.approx(0.0 - low)
    assert padded(pd.Series([0.0, 0.0]))[0] < 0 < padded(pd.Series([0.0, 0.0]))[1]  # one cost: still a range
    assert padded(pd.Series([], dtype=float)) is None


def test_all_runs_keeps_different_prompts_apart() -> None:
    """(all runs) pooled a Generate run of one prompt and a Compare arm of another into one arm."""
    long = "A red panda courier with a green scarf delivers parcels over the roofs"
    runs = frame_of(
        run_row(run_id="a", prompt="A fox.", subject_consistency=0.9),
        run_row(run_id="b", prompt="A fox.", subject_consistency=0.7),
        run_row(run_id="c", prompt=long, experiment_id="cmp-1", arm="local:procedural-v1:sequence"),
        run_row(run_id="d", prompt=long + " at night", subject_consistency=0.1),
        run_row(run_id="e", prompt="story 1", experiment_id="batch-1", story_id="s1"),
        run_row(run_id="f", prompt="story 2", experiment_id="batch-1", story_id="s2"),
    )
    summary = analysis.analyse_frames(runs, no_ratings()).summary
    assert sorted(summary["runs"]) == [1, 1, 2, 2]
    fox = summary[summary["variant"] == "“A fox.”"].iloc[0]
    assert fox["runs"] == 2 and fox["subject_consistency_mean"] == pytest.approx(0.8)
    cut = [v for v in summary["variant"] if v.startswith("“A red panda")]
    assert len(cut) == 2 and all("…” #" in v for v in cut) and cut[0] != cut[1]
    assert "set batch-1" in set(summary["variant"])
    # one experiment: its arms as before, no prompt in the label
    assert analysis.analyse_frames(runs, no_ratings(), "cmp-1").summary["variant"].tolist() == [""]


def test_report_pairwise_matrix_keeps_lines_short(playground: Playground, capsys: pytest.CaptureFixture[str]) -> None:
    """With six arms of long labels the matrix printed lines of several hundred characters."""
    long = "wavespeed:bytedance/seedream-v4.5/edit-sequential:sequence"
    runs, votes = [], []
    for i in range(6):
        record = RunRecord(
            run_id=f"r{i}",
            experiment_id="six",
            provider="local",
            model="procedural-v1",
            mode="sequence",
            arm=f"{long}-{i}",
            prompt="p",
            frames_requested=2,
            frames_returned=2,
            api_calls=1,
            status="ok",
        )
        playground.log.append(record)
        runs.append(record.run_id)
    for i in range(1, 6):
        for _ in range(i):
            votes.append(add_vote(playground, "six", "r0", f"r{i}", "left"))
    assert main(["report", "--experiment", "six", "--data-dir", str(playground.settings.data_dir)]) == 0
    text = capsys.readouterr().out
    matrix = text.split("pairwise win rate")[1].split("note:")[0]
    assert max(len(line) for line in matrix.splitlines()) <= 100
    assert f"A = {long}-0" in matrix and "100%" in matrix
    table = text.split("pairwise win rate")[0]
    assert "n < 5" in table and "100% [" in table  # r0: 15 votes; r1..r4 fewer than 5
    assert (
        main(
            [
                "report",
                "--experiment",
                "six",
                "--json",
                "--criterion",
                "style",
                "--data-dir",
                str(playground.settings.data_dir),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["votes"] == 0 and report["criterion"] == "style" and report["min_votes"] == 5


@pytest.mark.parametrize("low, high", [(0.0, 0.15), (0.0, 0.01), (0.4, 0.95), (0.0, 3.2), (0.671, 0.671), (0, 0.1234)])
def test_plot_ticks_are_few_round_and_cover_the_range(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 6 and ticks[0] <= low and ticks[-1] >= high
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1


def test_cost_plot_starts_at_zero_dollars_and_escapes_arm_names() -> None:
    """gr.ScatterPlot drew about 30 cost ticks at 1400 px, from -$0.01."""
    points = pd.DataFrame(
        {
            "arm": ["<img src=x onerror=alert(1)>:m:sequence", "local:m:baseline"],
            "short": ["<img src=x onerror=alert(1)>", "local:baseline"],
            "cost_per_run": [0.0, 0.15],
            "subject_consistency": [0.3, 0.9],
        }
    )
    svg = cost_plot_svg(points)
    ticks = [t.split(">")[1].split("<")[0] for t in svg.split('class="x-tick"')[1:]]
    assert ticks == ["$0.00", "$0.05", "$0.10", "$0.15"]
    assert "<img" not in svg and "&lt;img src=x" in svg
    assert cost_plot_svg(points.iloc[:0]) == ""
