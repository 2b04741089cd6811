"""What the Analysis tab shows, without gradio: the per-arm table with its column widths, the
plots' points and axis ranges, and the experiment choices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.core.playground import Playground
from playground.experiments import analysis
from playground.present.plot import cost_plot_svg

ALL = "(all runs)"


# px per column of the table (a metric's "0.477 ± 0.090" takes METRIC_WIDTH); what does not fit
# in the window scrolls sideways, after the columns arms are compared by
WIDTHS = {
    "arm": 230,
    "runs": 56,
    "ok": 56,
    "votes": 62,
    "win %": 124,
    "BT": 130,
    "score": 62,
    "$/run": 72,
    "p50 s": 64,
    "frames": 70,
    "$/frame": 76,
    "p95 s": 64,
}
# The per-arm table comes as two: runs, votes, cost and latency; then consistency. As one table
# the columns took 1,354 px of a ~1,190 px table at 1400 px and `$/frame`, `p95 s` were cut.
FIGURES = ["arm", "runs", "ok", "votes", "win %", "BT", "score", "$/run", "$/frame", "p50 s", "p95 s", "frames"]


METRIC_WIDTH = 140


def column_widths(columns: list[str]) -> list[str]:
    return [f"{WIDTHS.get(c, METRIC_WIDTH)}px" for c in columns]


def padded(values: Any, least: float = 0.001) -> list[float] | None:
    """An axis range with a margin: points on the edge of a tight range (the cheapest arm at $0,
    the best score) were drawn cut in half. None (Gradio's own range) when there are no points."""
    if not len(values):
        return None
    low, high = float(values.min()), float(values.max())
    margin = max(high - low, least) * 0.08
    return [low - margin, high + margin]


@dataclass
class AnalysisView:
    """Everything the tab shows for one choice of experiment."""

    table: Any  # pandas DataFrame for people: runs, votes, cost, latency (FIGURES)
    notes: str
    cost_points: Any
    latency_points: Any
    csv_path: Path | None
    consistency: Any = None  # pandas DataFrame for people: the arm and its consistency metrics
    cost_plot: str = ""  # SVG (present.plot)


def analysis_view(playground: Playground, choice: str | None) -> AnalysisView:
    experiment_id = None if not choice or choice == ALL else choice
    result = analysis.analyse(playground, experiment_id)
    csv_path = (
        analysis.export_csv(result.summary, playground.settings.data_dir / "exports", experiment_id)
        if not result.summary.empty
        else None
    )
    head = f"**{experiment_id or 'All runs'}**: {len(result.runs)} run(s), {result.votes} vote(s)."
    notes = "\n\n".join([head] + [f"<small>{n}</small>" for n in result.notes])
    shown = analysis.display_table(result.summary)
    figures = [c for c in FIGURES if c in shown]
    consistency = shown[["arm", *(c for c in shown.columns if c not in FIGURES)]]
    points = analysis.cost_consistency_points(result.summary)
    return AnalysisView(
        shown[figures],
        notes,
        points,
        analysis.latency_points(result.runs),
        csv_path,
        consistency,
        cost_plot_svg(points),
    )


def experiment_choices(playground: Playground) -> list[str]:
    return [ALL] + analysis.experiments(playground)
