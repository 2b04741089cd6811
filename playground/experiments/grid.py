"""The grid of an experiment (promptfoo's matrix, for sequences): rows are stories or prompt
variants, columns are arms (sequence, chain, baseline side by side), each cell the runs of one
arm on one row: status, cost, latency and metric means over its repeats, and the frames of the
first repeat. One structure for Compare, batch experiments and `bench-story`, built from runs.csv
(plain values: the UI and `report --grid` render it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from playground.experiments import analysis
from playground.metrics import METRIC_COLUMNS
from playground.store import merged

if TYPE_CHECKING:
    import pandas as pd

    from playground.core.playground import Playground

SORTABLE = (*METRIC_COLUMNS, "cost_usd", "latency_s")
SPREAD = ""  # sort_arm for "where the arms disagree most" (max - min over the arms)
STATUS_ORDER = ("error", "cancelled", "partial", "ok")  # a cell shows the worst status of its repeats
PER_PAGE = 12
TITLE_CHARS = 60


@dataclass(frozen=True)
class GridFrame:
    number: int  # 1-based (a frame that did not come back leaves a gap)
    preview: str  # the web-sized file the grid shows
    original: str  # the bytes as received: what the close look shows
    caption: str


@dataclass(frozen=True)
class GridCell:
    arm: str
    run_ids: tuple[str, ...]
    status: str
    metrics: dict[str, float | None]  # mean over the repeats with a score (None: none scored)
    n: int  # repeats
    cost_usd: float  # summed over the repeats
    latency_s: float | None  # mean over the repeats that returned frames
    error: str = ""
    frames: tuple[GridFrame, ...] = ()  # the first repeat's frames

    def value(self, key: str) -> float | None:
        if key == "cost_usd":
            return self.cost_usd
        if key == "latency_s":
            return self.latency_s
        return self.metrics.get(key)


@dataclass(frozen=True)
class GridRow:
    key: str  # story id and variant
    title: str
    cells: dict[str, GridCell]


@dataclass
class Grid:
    experiment_id: str
    arms: list[str]
    rows: list[GridRow]
    sort_by: str
    sort_arm: str
    descending: bool
    page: int
    pages: int
    total_rows: int
    notes: list[str] = field(default_factory=list)


def _mean(values: Any) -> float | None:
    clean = [float(v) for v in values if v == v and v is not None]
    return sum(clean) / len(clean) if clean else None


def _cell(arm: str, group: pd.DataFrame) -> GridCell:
    statuses = [str(s) for s in group["status"]]
    worst = min(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 0)
    returned = group[group["frames_returned"] > 0]
    errors = [str(e) for e in group.get("error", []) if str(e).strip() and str(e) != "nan"]
    return GridCell(
        arm=arm,
        run_ids=tuple(str(r) for r in group["run_id"]),
        status=worst,
        metrics={m: _mean(group[m]) for m in METRIC_COLUMNS},
        n=len(group),
        cost_usd=float(group["cost_usd"].fillna(0).sum()),
        latency_s=_mean(returned["latency_s"]),
        error=errors[0][:200] if errors else "",
    )


def _title(row: pd.Series) -> str:
    prompt = " ".join(str(row.get("prompt") or "").split())
    short = prompt if len(prompt) <= TITLE_CHARS else prompt[: TITLE_CHARS - 1] + "…"
    story = str(row.get("story_id") or "")
    variant = str(row.get("variant") or "")
    head = " · ".join(x for x in (story, f"variant {variant}" if variant else "") if x)
    return f"{head}: {short}" if head else short


def build_grid(
    playground: Playground,
    experiment_id: str,
    *,
    sort_by: str = "subject_consistency",
    sort_arm: str = SPREAD,
    descending: bool = True,
    page: int = 0,
    per_page: int = PER_PAGE,
    with_frames: bool = True,
) -> Grid:
    """The grid of one experiment. Rows sorted by `sort_by` of `sort_arm` (SPREAD: the spread over
    the arms, where they disagree most), empty values last; arms ordered by their mean of it.
    Only the page shown has its frames read from disk."""
    if sort_by not in SORTABLE:
        raise ValueError(f"sort by one of {', '.join(SORTABLE)}")
    columns = list(dict.fromkeys([*analysis.COLUMNS, "story_id", "repeat", "error", "created_at"]))
    frame = analysis.runs_frame(merged.runs(playground, columns), experiment_id)
    if frame.empty:
        return Grid(experiment_id, [], [], sort_by, sort_arm, descending, 0, 0, 0)
    frame["story_id"] = frame["story_id"].fillna("").astype(str)
    frame["row_key"] = frame["story_id"] + "\x1f" + frame["variant"]
    rows: list[GridRow] = []
    for key, group in frame.groupby("row_key", sort=True):
        cells = {str(arm): _cell(str(arm), g) for arm, g in group.groupby("arm", sort=True)}
        rows.append(GridRow(str(key).replace("\x1f", " "), _title(group.iloc[0]), cells))
    arm_means = {
        arm: _mean([r.cells[arm].value(sort_by) for r in rows if arm in r.cells])
        for arm in sorted({a for r in rows for a in r.cells})
    }
    sign = -1 if descending else 1
    arms = sorted(arm_means, key=lambda a: (arm_means[a] is None, sign * (arm_means[a] or 0.0), a))

    def row_value(row: GridRow) -> float | None:
        if sort_arm:
            cell = row.cells.get(sort_arm)
            return cell.value(sort_by) if cell else None
        values = [v for v in (c.value(sort_by) for c in row.cells.values()) if v is not None]
        return max(values) - min(values) if len(values) >= 2 else None

    rows.sort(key=lambda r: (row_value(r) is None, sign * (row_value(r) or 0.0), r.key))
    pages = max(1, math.ceil(len(rows) / per_page))
    page = min(max(0, page), pages - 1)
    shown = rows[page * per_page : (page + 1) * per_page]
    if with_frames:
        shown = [GridRow(r.key, r.title, {a: _with_frames(playground, c) for a, c in r.cells.items()}) for r in shown]
    return Grid(experiment_id, arms, shown, sort_by, sort_arm, descending, page, pages, len(rows))


def _with_frames(playground: Playground, cell: GridCell) -> GridCell:
    from dataclasses import replace

    from playground.base.errors import InputError

    try:
        stored = merged.load_run(playground, cell.run_ids[0])
    except InputError:
        return cell
    return replace(
        cell, frames=tuple(GridFrame(f.number, str(f.preview or f.path), str(f.path), f.label) for f in stored.frames)
    )
