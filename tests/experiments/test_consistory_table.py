"""The ConsiStory+ table: per-story means, t intervals, deep vs offline columns, reference
rows, CSV and the plot, on hand-made run rows (no generation needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import stats

from playground.base.types import RunRecord
from playground.experiments import consistory_table as table

CATEGORIES = {"animals-000-fox": "animals", "animals-001-owl": "animals", "foods-000-tart": "foods"}


def row(arm: str, story: str, repeat: int = 0, created: str = "2026-01-01T00:00:00Z", **fields: object) -> dict:
    base = RunRecord(
        run_id=f"{arm}-{story}-{repeat}-{created}",
        experiment_id="consistory-x",
        created_at=created,
        provider="local",
        model="procedural-v1",
        mode=arm,
        frames_requested=5,
        frames_returned=5,
        api_calls=1,
        status="ok",
        arm=arm,
        repeat=repeat,
        story_id=story,
        latency_s=1.0,
    )
    return {**base.as_row(), **fields}


def offline_runs() -> pd.DataFrame:
    rows = []
    for arm, level in (("seq", 0.8), ("base", 0.5)):
        for i, story in enumerate(CATEGORIES):
            rows.append(
                row(
                    arm,
                    story,
                    subject_consistency=level + 0.05 * i,
                    palette_consistency=0.6,
                    structure_consistency=0.7,
                    cost_usd=0.1 * (i + 1),
                )
            )
    return pd.DataFrame(rows)


def test_repeats_are_averaged_per_story_before_the_interval() -> None:
    runs = pd.DataFrame(
        [
            row("seq", "animals-000-fox", 0, subject_consistency=0.2),
            row("seq", "animals-000-fox", 1, subject_consistency=0.4),
            row("seq", "animals-001-owl", 0, subject_consistency=0.9),
            row("seq", "foods-000-tart", 0, subject_consistency=0.6),
        ]
    )
    overall, _ = table.summarise_experiment(runs, CATEGORIES)
    per_story = [0.3, 0.9, 0.6]
    low, high = stats.t.interval(0.95, len(per_story) - 1, loc=np.mean(per_story), scale=stats.sem(per_story))
    mean, ci_low, ci_high = overall[0].metrics["subject_consistency"]
    assert (overall[0].stories, overall[0].runs) == (3, 4)
    assert mean == pytest.approx(0.6) and ci_low == pytest.approx(low) and ci_high == pytest.approx(high)


def test_a_retried_cell_counts_once_with_its_latest_row_and_cancelled_rows_are_dropped() -> None:
    runs = pd.DataFrame(
        [
            row("seq", "animals-000-fox", created="2026-01-01T00:00:00Z", status="error", frames_returned=0),
            row("seq", "animals-000-fox", created="2026-01-02T00:00:00Z", subject_consistency=0.7),
            row("seq", "animals-001-owl", created="2026-01-02T00:00:00Z", status="cancelled", frames_returned=2),
            row(
                "seq",
                "foods-000-tart",
                created="2026-01-01T00:00:00Z",
                status="partial",
                frames_returned=3,
                subject_consistency=0.5,
            ),
        ]
    )
    overall, per_category = table.summarise_experiment(runs, CATEGORIES)
    assert overall[0].stories == 2
    assert (overall[0].frames_returned, overall[0].frames_requested) == (8, 10)
    assert {(s.category, s.stories) for s in per_category} == {("animals", 1), ("foods", 1)}


def test_offline_table_says_deep_metrics_are_missing_and_keeps_reference_rows_apart() -> None:
    overall, per_category = table.summarise_experiment(offline_runs(), CATEGORIES, ["seq", "base"])
    text = table.markdown(overall, per_category)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| Method"))
    assert [c.strip() for c in header.strip("|").split("|")][:8] == [
        "Method",
        "Stories",
        "CLIP-T ↑",
        "CLIP-I ↑",
        "DreamSim ↓",
        "Palette ↑",
        "Structure ↑",
        "Subject ↑",
    ]
    ours = next(line for line in lines if line.startswith("| **seq**"))
    assert "n/a" in ours and "0.8500 ± " in ours  # subject: mean of 0.80, 0.85, 0.90
    assert "| *1Prompt1Story* (reference) |  | 0.8942 | 0.9117 | 0.1993 |" in text
    assert "were not available" in text and "not comparable" in text
    assert "#### Per category" in text and "| foods | seq | 1 |" in text
    assert "DINO-I" not in text  # shown only when some run has it


def test_deep_table_names_the_backbone_and_the_plot_uses_clip(tmp_path: Path) -> None:
    runs = offline_runs()
    runs["clip_t"] = np.where(runs["arm"] == "seq", 0.28, 0.31) + runs.index * 0.001
    runs["clip_i"] = np.where(runs["arm"] == "seq", 0.9, 0.8) + runs.index * 0.002
    overall, per_category = table.summarise_experiment(runs, CATEGORIES, ["seq", "base"])
    text = table.markdown(overall, per_category)
    assert "Deep metrics computed with CLIP-T: " in text
    assert table.backbones()["clip_i"] in text
    assert "0.9020 ± " in text  # CLIP-I of seq: 0.9 + index 0..2 * 0.002 -> mean 0.902
    paths = table.write_outputs(tmp_path, overall, per_category, "test")
    csv = pd.read_csv(paths["csv"])
    seq = csv[(csv["table"] == "overall") & (csv["method"] == "seq")].iloc[0]
    assert seq["clip_t_mean"] == pytest.approx(0.281) and seq["clip_i_ci_low"] < 0.902 < seq["clip_i_ci_high"]
    references = csv[csv["table"] == "reference"]
    assert len(references) == len(table.REFERENCE_ROWS) and references["source"].str.contains("1Prompt1Story").all()
    assert all(isinstance(v, str) and "not comparable" in v for v in references["note"])
    image = Image.open(paths["plot"]).convert("RGB")
    assert image.size == table.PLOT_SIZE
    colours = {c for _, c in image.getcolors(1 << 20)}
    assert set(table.ARM_COLOURS[:2]) <= colours  # both arms' means drawn


def test_plot_without_alignment_uses_the_frames_ratio(tmp_path: Path) -> None:
    overall, _ = table.summarise_experiment(offline_runs(), CATEGORIES, ["seq", "base"])
    path = table.draw_plot(overall, tmp_path / "plot.png")
    image = np.asarray(Image.open(path).convert("RGB"))
    left, top, right, bottom = table.PLOT_BOX
    seq_colour = np.array(table.ARM_COLOURS[0])
    ys, xs = np.nonzero(np.all(image == seq_colour, axis=2))
    # every seq point has frames ratio 1.0 on a 0..1.05 axis: drawn near the right edge of the box
    expected_x = left + 1.0 / 1.05 * (right - left)
    assert len(xs) and abs(np.median(xs) - expected_x) < 10 and top <= ys.min() and ys.max() <= bottom


def test_single_story_has_a_mean_without_an_interval() -> None:
    overall, _ = table.summarise_experiment(
        pd.DataFrame([row("seq", "animals-000-fox", subject_consistency=0.4)]), CATEGORIES
    )
    mean, low, high = overall[0].metrics["subject_consistency"]
    assert mean == 0.4 and math.isnan(low) and math.isnan(high)
    assert "| **seq** (ours) | 1 | n/a | n/a | n/a | n/a | n/a | 0.4000 |" in table.markdown(overall, [])
