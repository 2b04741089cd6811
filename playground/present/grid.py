"""The grid (experiments/grid.py) for people: JSON (`report --grid --json`), an HTML table for the
Analysis tab (every text escaped: prompts, beats and model ids are stranger-controlled on a
Space), and a text matrix for the shell."""

from __future__ import annotations

from html import escape
from typing import Any

from playground.core.playground import Playground
from playground.experiments.grid import SORTABLE, SPREAD, Grid, GridCell, build_grid
from playground.present.analysis import ALL
from playground.present.runs import file_url

SHOWN = ("subject_consistency", "palette_consistency", "structure_consistency")  # in a cell, when scored
SHORT = {
    "subject_consistency": "subject",
    "palette_consistency": "palette",
    "structure_consistency": "structure",
    "cost_usd": "cost",
    "latency_s": "latency",
}


def sort_choices() -> list[tuple[str, str]]:
    return [(SHORT.get(k, k), k) for k in SORTABLE]


def grid_json(grid: Grid) -> dict[str, Any]:
    """The grid as plain JSON values (frames as their file paths, in order)."""

    def cell(c: GridCell) -> dict[str, Any]:
        return {
            "arm": c.arm,
            "run_ids": list(c.run_ids),
            "status": c.status,
            "n": c.n,
            "cost_usd": c.cost_usd,
            "latency_s": c.latency_s,
            "metrics": {k: v for k, v in c.metrics.items() if v is not None},
            "error": c.error or None,
            "frames": [{"number": f.number, "original": f.original, "preview": f.preview} for f in c.frames],
        }

    return {
        "experiment_id": grid.experiment_id,
        "arms": grid.arms,
        "sort_by": grid.sort_by,
        "sort_arm": grid.sort_arm or None,
        "descending": grid.descending,
        "page": grid.page,
        "pages": grid.pages,
        "total_rows": grid.total_rows,
        "rows": [
            {"key": r.key, "title": r.title, "cells": {a: cell(c) for a, c in r.cells.items()}} for r in grid.rows
        ],
    }


def grid_text(grid: Grid, width: int = 28) -> str:
    """One line per row: each arm's status, cost and the sorted-by value (arms as letters, legend below)."""
    codes = {arm: chr(ord("A") + i) if i < 26 else f"A{i}" for i, arm in enumerate(grid.arms)}
    lines = [
        f"{grid.experiment_id}: {grid.total_rows} row(s) x {len(grid.arms)} arm(s), sorted by "
        f"{SHORT.get(grid.sort_by, grid.sort_by)} ({grid.sort_arm or 'spread over the arms'}), "
        f"page {grid.page + 1}/{grid.pages}"
    ]
    for row in grid.rows:
        title = row.title if len(row.title) <= width else row.title[: width - 1] + "…"
        cells = []
        for arm in grid.arms:
            c = row.cells.get(arm)
            value = None if c is None else c.value(grid.sort_by)
            cells.append(
                f"{codes[arm]} "
                + ("—" if c is None else f"{c.status} ${c.cost_usd:.3f} " + ("·" if value is None else f"{value:.3f}"))
            )
        lines.append(f"{title.ljust(width)}  " + "  ".join(cells))
    lines += [f"{code} = {arm}" for arm, code in codes.items()]
    return "\n".join(lines)


def _cell_html(c: GridCell | None, arm: str, sort_by: str) -> str:
    label = escape(arm)
    if c is None:
        return f'<td data-arm="{label}" class="grid-empty">—</td>'
    strip = "".join(
        f'<img src="{escape(file_url(f.preview))}" alt="{escape(f.caption)}" title="{escape(f.caption)}" '
        f'loading="lazy" data-original="{escape(file_url(f.original))}" data-frame="{f.number}">'
        for f in c.frames
    )
    figures = [f"${c.cost_usd:.4f}"] + ([f"{c.latency_s:.1f} s"] if c.latency_s is not None else [])
    for metric in dict.fromkeys([sort_by, *SHOWN]):
        value = c.value(metric)
        if value is not None and metric not in ("cost_usd", "latency_s"):
            figures.append(f"{SHORT.get(metric, metric)} {value:.3f}")
    repeats = f" ×{c.n}" if c.n > 1 else ""
    error = f'<div class="grid-error" title="{escape(c.error)}">{escape(c.error[:80])}</div>' if c.error else ""
    return (
        f'<td data-arm="{label}" data-run-id="{escape(c.run_ids[0])}"><div class="grid-strip">{strip}</div>'
        f'<div class="grid-figures"><span class="grid-status grid-{escape(c.status)}">{escape(c.status)}{repeats}'
        f"</span> {' · '.join(escape(f) for f in figures)}</div>{error}</td>"
    )


def grid_html(grid: Grid) -> str:
    """An HTML table: a sticky first column with each row's title, one column per arm."""
    if not grid.rows:
        return '<p class="grid-none">No runs in this experiment yet.</p>'
    head = "".join(f"<th>{escape(arm)}</th>" for arm in grid.arms)
    body = "".join(
        f'<tr><th scope="row" class="grid-title">{escape(row.title)}</th>'
        + "".join(_cell_html(row.cells.get(arm), arm, grid.sort_by) for arm in grid.arms)
        + "</tr>"
        for row in grid.rows
    )
    order = "highest" if grid.descending else "lowest"
    by = SHORT.get(grid.sort_by, grid.sort_by)
    said = f"{escape(grid.sort_arm)}'s {by}" if grid.sort_arm else f"the spread of {by} over the arms"
    caption = (
        f"{grid.total_rows} row(s) × {len(grid.arms)} arm(s) · sorted by {said}, {order} first · "
        f"page {grid.page + 1} of {grid.pages}"
    )
    return (
        f'<p class="grid-caption">{caption}</p><div class="grid-box"><table class="grid">'
        f"<thead><tr><th>story</th>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


CSS = """
.grid-box { overflow-x: auto; max-width: 100%; }
table.grid { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.grid-caption { margin: 4px 0; color: var(--body-text-color-subdued); font-size: 13px; }
table.grid th, table.grid td { border: 1px solid var(--border-color-primary); padding: 6px; vertical-align: top;
  text-align: left; }
table.grid thead th { position: sticky; top: 0; background: var(--background-fill-secondary); min-width: 220px; }
table.grid .grid-title { position: sticky; left: 0; z-index: 1; background: var(--background-fill-primary);
  min-width: 160px; max-width: 220px; font-weight: 500; }
table.grid .grid-strip { display: flex; gap: 3px; overflow-x: auto; max-width: 420px; scroll-snap-type: x mandatory; }
table.grid .grid-strip img { height: 72px; width: auto; border-radius: 3px; scroll-snap-align: start; cursor: zoom-in; }
table.grid .grid-status { font-weight: 600; }
table.grid .grid-ok { color: #047857; }
table.grid .grid-partial, table.grid .grid-cancelled { color: #b45309; }
table.grid .grid-error { color: #b91c1c; }
@media (max-width: 640px) {
  table.grid, table.grid tbody, table.grid tr, table.grid td, table.grid th { display: block; }
  table.grid thead { display: none; }
  table.grid tr { margin-bottom: 12px; border: 1px solid var(--border-color-primary); }
  table.grid .grid-title { position: static; max-width: none; }
  table.grid td::before { content: attr(data-arm); display: block; font-weight: 600; margin-bottom: 4px; }
  table.grid .grid-strip { max-width: calc(100vw - 60px); }
}
"""


def analysis_grid(
    playground: Playground, choice: str | None, sort_by: str, sort_arm: str, order: str, page: int
) -> tuple[str, list[str]]:
    """The Analysis tab's grid: its HTML and the arms (for the sort-by-arm choices)."""
    if not choice or choice == ALL:
        return '<p class="grid-none">Choose an experiment to see its grid.</p>', []
    grid = build_grid(
        playground,
        choice,
        sort_by=sort_by if sort_by in SORTABLE else "subject_consistency",
        sort_arm=sort_arm or SPREAD,
        descending=order != "lowest first",
        page=max(0, int(page or 1) - 1),
    )
    return grid_html(grid), grid.arms
