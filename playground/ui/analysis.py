"""The Analysis tab: the per-arm tables, the grid of an experiment (with the close look on a
frame's click), the two plots and a CSV export, all from playground.experiments.analysis and
.grid (the code behind `python -m playground report` and `report --grid`)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from playground.core.playground import Playground
from playground.present import grid
from playground.present.analysis import ALL, analysis_view, column_widths, experiment_choices, padded
from playground.ui.closelook import CLOSE_LOOK_JS


def build_tab(playground: Playground, session: gr.State) -> dict[str, Any]:
    with gr.Tab("Analysis") as tab:
        with gr.Row():
            experiment = gr.Dropdown(
                choices=[ALL],
                value=None,
                label="Experiment",
                scale=4,
                elem_id="analysis-experiment",
                info="the newest experiment first; (all runs) includes runs from Generate",
            )
            refresh = gr.Button("Refresh", size="sm", scale=1)
            download = gr.DownloadButton("Download table (CSV)", size="sm", scale=1, elem_id="analysis-download")
        notes = gr.Markdown(elem_id="analysis-notes")
        with gr.Accordion("Grid: stories or variants × arms", open=True, elem_id="analysis-grid-box"):
            with gr.Row():
                sort_by = gr.Dropdown(
                    grid.sort_choices(),
                    value="subject_consistency",
                    label="Sort rows by",
                    scale=2,
                    elem_id="grid-sort-by",
                )
                sort_arm = gr.Dropdown(
                    [("spread over the arms", "")], value="", label="of", scale=3, elem_id="grid-sort-arm"
                )
                order = gr.Radio(
                    ["highest first", "lowest first"],
                    value="highest first",
                    label="Order",
                    scale=2,
                    elem_id="grid-order",
                )
                page = gr.Number(1, label="Page", precision=0, minimum=1, scale=1, elem_id="grid-page")
            # a click on a frame opens the close look (ui/closelook.py: in the browser, no round trip)
            grid_box = gr.HTML(elem_id="analysis-grid", css_template=grid.CSS, js_on_load=CLOSE_LOOK_JS)
        # wrap: a long arm label takes two lines rather than the width the figures need
        table = gr.Dataframe(
            label="Per arm: runs, votes (win % and BT with 95% bootstrap intervals), cost, latency",
            interactive=False,
            wrap=True,
            elem_id="analysis-table",
        )
        consistency = gr.Dataframe(
            label="Per arm: consistency (mean ± 95% t half-width, or [low, high] clipped to the metric's range)",
            interactive=False,
            wrap=True,
            elem_id="analysis-consistency",
        )
        cost = gr.HTML(elem_id="analysis-cost-plot")  # an SVG with round ticks (present/plot.py)
        latency = gr.ScatterPlot(
            x="provider",
            y="latency_s",
            color="mode",
            title="Latency per provider (each run)",
            y_title="latency (s)",
            height=320,
            elem_id="analysis-latency-plot",
        )

    def show(choice: str | None) -> dict[Any, Any]:
        view = analysis_view(playground, choice)
        return {
            table: gr.Dataframe(view.table, column_widths=column_widths(list(view.table.columns))),
            consistency: gr.Dataframe(view.consistency, column_widths=column_widths(list(view.consistency.columns))),
            notes: view.notes,
            cost: view.cost_plot,
            latency: gr.ScatterPlot(view.latency_points, y_lim=padded(view.latency_points["latency_s"], 0.1)),
            download: gr.DownloadButton(
                value=str(view.csv_path) if view.csv_path else None, interactive=view.csv_path is not None
            ),
        }

    def reload(choice: str | None) -> dict[Any, Any]:
        choices = experiment_choices(playground)
        # first visit: the newest experiment (most likely the comparison just run)
        chosen = choice if choice in choices else (choices[1] if len(choices) > 1 else ALL)
        return {experiment: gr.Dropdown(choices=choices, value=chosen), **show(chosen)}

    def show_grid(choice: str | None, by: str, arm: str, how: str, number: float | None) -> dict[Any, Any]:
        html, arms = grid.analysis_grid(playground, choice, by, arm, how, int(number or 1))
        return {
            grid_box: html,
            sort_arm: gr.Dropdown(choices=[("spread over the arms", ""), *arms], value=arm if arm in arms else ""),
        }

    grid_inputs, grid_outputs = [experiment, sort_by, sort_arm, order, page], [grid_box, sort_arm]
    outputs = [experiment, table, notes, cost, latency, download, consistency]
    tab.select(reload, experiment, outputs, api_visibility="private").then(
        show_grid, grid_inputs, grid_outputs, api_visibility="private"
    )
    refresh.click(reload, experiment, outputs, api_visibility="private").then(
        show_grid, grid_inputs, grid_outputs, api_visibility="private"
    )
    # consistency last: the public `analysis` endpoint's earlier outputs keep their places
    experiment.input(
        show,
        experiment,
        [table, notes, cost, latency, download, consistency],
        api_name="analysis",
        api_visibility="undocumented",  # an old contract: callable, out of the listing (/report)
    ).then(show_grid, grid_inputs, grid_outputs, api_visibility="private")
    for control in (sort_by, sort_arm, order, page):
        control.input(show_grid, grid_inputs, grid_outputs, api_visibility="private")
    return {"table": table, "experiment": experiment}
