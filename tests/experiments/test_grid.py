"""The grid (issue 17): rows are stories or prompt variants, columns arms (sequence, chain,
baseline side by side), cells with status, cost, metric means over repeats and the frames;
sorting by any metric, by the spread over the arms or by one arm; paging; escaping."""

from __future__ import annotations

import asyncio

import pytest

from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.core import Playground
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from playground.experiments.grid import SPREAD, build_grid
from playground.present.grid import grid_html, grid_json, grid_text

ARMS = ("local:procedural-v1:sequence", "local:procedural-v1:chain", "local:procedural-v1:baseline")
# story -> arm -> subject scores of its repeats (None: not scored)
SCORES = {
    "s1": {ARMS[0]: (0.9, 0.7), ARMS[1]: (0.6, 0.6), ARMS[2]: (0.2, 0.4)},
    "s2": {ARMS[0]: (0.5, 0.5), ARMS[1]: (0.5, 0.5), ARMS[2]: (0.45, 0.45)},
    "s3": {ARMS[0]: (None, None), ARMS[1]: (0.8, 0.8), ARMS[2]: (0.1, 0.1)},
}


@pytest.fixture
def logged(playground: Playground) -> Playground:
    for story, arms in SCORES.items():
        for arm, scores in arms.items():
            for repeat, score in enumerate(scores):
                playground.log.append(
                    RunRecord(
                        run_id=f"{story}-{arm.rsplit(':', 1)[1]}-{repeat}",
                        experiment_id="b1",
                        story_id=story,
                        arm=arm,
                        provider="local",
                        model="procedural-v1",
                        mode=arm.rsplit(":", 1)[1],
                        status="ok",
                        api_calls=1,
                        frames_requested=2,
                        frames_returned=2,
                        cost_usd=0.01,
                        latency_s=1.0 + repeat,
                        repeat=repeat,
                        prompt=f"{story} <img src=x onerror=alert(1)>",
                        subject_consistency=score,
                    )
                )
    playground.log.append(
        RunRecord(
            run_id="other",
            experiment_id="b2",
            story_id="s1",
            arm=ARMS[0],
            api_calls=1,
            status="ok",
            frames_returned=1,
            prompt="p",
        )
    )
    return playground


def test_build_grid_rows_columns_and_sort(logged: Playground) -> None:
    grid = build_grid(logged, "b1", with_frames=False)
    assert grid.total_rows == 3 and len(grid.rows) == 3 and set(grid.arms) == set(ARMS)
    s1 = next(r for r in grid.rows if r.key.startswith("s1"))
    cell = s1.cells[ARMS[0]]
    assert cell.n == 2 and cell.metrics["subject_consistency"] == pytest.approx(0.8)
    assert cell.cost_usd == pytest.approx(0.02) and cell.latency_s == pytest.approx(1.5) and cell.status == "ok"
    # default: the spread over the arms, largest first (s3 0.7, s1 0.6, s2 0.05)
    assert [r.key.split()[0] for r in grid.rows] == ["s3", "s1", "s2"]
    by_sequence = build_grid(logged, "b1", sort_arm=ARMS[0], with_frames=False)
    assert [r.key.split()[0] for r in by_sequence.rows] == ["s1", "s2", "s3"]  # s3's sequence not scored: last
    lowest = build_grid(logged, "b1", sort_arm=ARMS[2], descending=False, with_frames=False)
    assert [r.key.split()[0] for r in lowest.rows] == ["s3", "s1", "s2"]
    assert lowest.arms[0] == ARMS[2]  # the arms ordered by their mean, lowest first
    paged = build_grid(logged, "b1", per_page=2, page=1, with_frames=False)
    assert paged.pages == 2 and [r.key.split()[0] for r in paged.rows] == ["s2"]
    with pytest.raises(ValueError):
        build_grid(logged, "b1", sort_by="nope")
    assert build_grid(logged, "nothing").rows == []


def test_grid_json_text_and_html_escape_user_text(logged: Playground) -> None:
    grid = build_grid(logged, "b1", sort_arm=SPREAD, with_frames=False)
    data = grid_json(grid)
    assert data["rows"][0]["cells"][ARMS[1]]["metrics"]["subject_consistency"] == pytest.approx(0.8)
    assert data["arms"] == grid.arms and data["total_rows"] == 3
    html = grid_html(grid)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("<tr>") == 4  # a header and three rows
    text = grid_text(grid)
    assert max(len(line) for line in text.splitlines()) <= 120 and "A = " in text


def test_grid_of_a_comparison_with_variants_has_frames(playground: Playground) -> None:
    result = asyncio.run(
        compare(
            playground,
            Story("a fox", beats=("a", "b")),
            [Arm("local", "", "sequence"), Arm("local", "", "baseline")],
            variants={"A": "flat", "B": "ink"},
            frames=2,
            seed=1,
            size="512x512",
        )
    )
    grid = build_grid(playground, result.experiment_id)
    assert [r.key for r in sorted(grid.rows, key=lambda r: r.key)] == [" A", " B"]
    for row in grid.rows:
        assert len(row.cells) == 2
        for cell in row.cells.values():
            assert [f.number for f in cell.frames] == [1, 2]
            assert all(f.original != f.preview and f.original.endswith(".png") for f in cell.frames)


def test_report_grid_json_is_the_grid_the_ui_renders(logged: Playground, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from playground.cli.main import main

    data_dir = str(logged.settings.data_dir)
    assert (
        main(
            [
                "report",
                "--experiment",
                "b1",
                "--grid",
                "--json",
                "--sort",
                f"subject_consistency:{ARMS[0]}",
                "--data-dir",
                data_dir,
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(grid_json(build_grid(logged, "b1", sort_arm=ARMS[0]))))
    assert main(["report", "--experiment", "b1", "--grid", "--data-dir", data_dir]) == 0
    assert "3 row(s) x 3 arm(s)" in capsys.readouterr().out
    assert main(["report", "--grid", "--data-dir", data_dir]) == 2
    assert main(["report", "--experiment", "b1", "--grid", "--sort", "bogus", "--data-dir", data_dir]) == 2
