"""The Analysis tab: the per-arm table, the two plots and a CSV export, all from
playground.analysis (the code behind `python -m playground report`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from playground import analysis
from playground.core.playground import Playground

ALL = "(all runs)"
# px per column of the table (a metric's "0.477 ± 0.090" takes METRIC_WIDTH); what does not fit
# in the window scrolls sideways, after the columns arms are compared by
WIDTHS = {"arm": 230, "runs": 56, "ok": 56, "votes": 62, "win %": 66, "BT": 56, "score": 62, "$/run": 72, "p50 s": 64,
          "frames": 70, "$/frame": 76, "p95 s": 64}
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

    table: Any  # pandas DataFrame for people
    notes: str
    cost_points: Any
    latency_points: Any
    csv_path: Path | None


def analysis_view(playground: Playground, choice: str | None) -> AnalysisView:
    experiment_id = None if not choice or choice == ALL else choice
    result = analysis.analyse(playground, experiment_id)
    csv_path = analysis.export_csv(result.summary, playground.settings.data_dir / "exports", experiment_id) \
        if not result.summary.empty else None
    head = f"**{experiment_id or 'All runs'}**: {len(result.runs)} run(s), {result.votes} vote(s)."
    notes = "\n\n".join([head] + [f"<small>{n}</small>" for n in result.notes])
    return AnalysisView(analysis.display_table(result.summary), notes, analysis.cost_consistency_points(result.summary),
                        analysis.latency_points(result.runs), csv_path)


def experiment_choices(playground: Playground) -> list[str]:
    return [ALL] + analysis.experiments(playground)


def build_tab(playground: Playground, session: gr.State) -> dict[str, Any]:
    with gr.Tab("Analysis") as tab:
        with gr.Row():
            experiment = gr.Dropdown(choices=[ALL], value=None, label="Experiment", scale=4, elem_id="analysis-experiment",
                                     info="the newest experiment first; (all runs) includes runs from Generate")
            refresh = gr.Button("Refresh", size="sm", scale=1)
            download = gr.DownloadButton("Download table (CSV)", size="sm", scale=1, elem_id="analysis-download")
        notes = gr.Markdown(elem_id="analysis-notes")
        # wrap: a long arm label takes two lines rather than the width the figures need
        table = gr.Dataframe(label="Per arm (consistency: mean ± 95% t half-width, or [low, high] clipped to the "
                                   "metric's range)", interactive=False, wrap=True,
                             elem_id="analysis-table")
        # one plot per row: the legend of six arms needs the width
        cost = gr.ScatterPlot(x="cost_per_run", y="subject_consistency", color="short", color_title="arm",
                              tooltip=["arm", "cost_per_run", "subject_consistency"],
                              title="Cost per run against subject consistency", x_title="$ per run",
                              y_title="subject consistency (mean)", height=320, elem_id="analysis-cost-plot")
        latency = gr.ScatterPlot(x="provider", y="latency_s", color="mode", title="Latency per provider (each run)",
                                 y_title="latency (s)", height=320, elem_id="analysis-latency-plot")

    def show(choice: str | None) -> dict[Any, Any]:
        view = analysis_view(playground, choice)
        return {table: gr.Dataframe(view.table, column_widths=column_widths(list(view.table.columns))),
                notes: view.notes,
                cost: gr.ScatterPlot(view.cost_points, x_lim=padded(view.cost_points["cost_per_run"]),
                                     y_lim=padded(view.cost_points["subject_consistency"], 0.01)),
                latency: gr.ScatterPlot(view.latency_points, y_lim=padded(view.latency_points["latency_s"], 0.1)),
                download: gr.DownloadButton(value=str(view.csv_path) if view.csv_path else None,
                                            interactive=view.csv_path is not None)}

    def reload(choice: str | None) -> dict[Any, Any]:
        choices = experiment_choices(playground)
        # first visit: the newest experiment (most likely the comparison just run)
        chosen = choice if choice in choices else (choices[1] if len(choices) > 1 else ALL)
        return {experiment: gr.Dropdown(choices=choices, value=chosen), **show(chosen)}

    outputs = [experiment, table, notes, cost, latency, download]
    tab.select(reload, experiment, outputs, api_visibility="private")
    refresh.click(reload, experiment, outputs, api_visibility="private")
    experiment.input(show, experiment, [table, notes, cost, latency, download], api_name="analysis")
    return {"table": table, "experiment": experiment}
