"""The ConsiStory+ results table, in the layout of 1Prompt1Story's Table 1.

Rows are methods (our arms, then the papers' own figures as labelled reference rows);
columns are metrics, each the mean over stories with a 95% confidence interval (Student t
over per-story means: repeats of one story are averaged first, because they are not
independent samples of the benchmark). Deep metrics appear under the papers' names
(CLIP-T, CLIP-I, DreamSim) with the backbone named; the offline metrics (palette,
structure, subject) are always reported too, and the note says which ones carry the run.

Outputs: Markdown (the tables plus notes), CSV (one row per table row, mean/ci_low/ci_high
per metric) and a PNG plot drawn with Pillow (no matplotlib dependency).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from playground.experiments.analysis import runs_frame, t_interval


@dataclass(frozen=True)
class Metric:
    column: str  # RunRecord column
    label: str  # the papers' name, or ours for the offline metrics
    higher_is_better: bool
    deep: bool


METRICS: tuple[Metric, ...] = (
    Metric("clip_t", "CLIP-T", True, True),
    Metric("clip_i", "CLIP-I", True, True),
    Metric("dreamsim", "DreamSim", False, True),
    Metric("dino_i", "DINO-I", True, True),
    Metric("palette_consistency", "Palette", True, False),
    Metric("structure_consistency", "Structure", True, False),
    Metric("subject_consistency", "Subject", True, False),
)
PAPER_COLUMNS = ("clip_t", "clip_i", "dreamsim")  # always shown: the reference rows fill them
CELL_KEYS = ("arm", "story_id", "variant", "repeat")


@dataclass(frozen=True)
class ReferenceRow:
    method: str
    scores: Mapping[str, float]
    source: str


_P1S = "1Prompt1Story (ICLR 2025) Table 1, ConsiStory+, SDXL backbone; CLIP/DreamSim as in that paper"
REFERENCE_ROWS: tuple[ReferenceRow, ...] = (
    ReferenceRow("Independent SDXL images", {"clip_t": 0.9074, "clip_i": 0.8165, "dreamsim": 0.5292}, _P1S),
    ReferenceRow("StoryDiffusion", {"clip_t": 0.8877, "clip_i": 0.8755, "dreamsim": 0.3212}, _P1S),
    ReferenceRow("ConsiStory", {"clip_t": 0.8769, "clip_i": 0.8737, "dreamsim": 0.3188}, _P1S),
    ReferenceRow("1Prompt1Story", {"clip_t": 0.8942, "clip_i": 0.9117, "dreamsim": 0.1993}, _P1S),
)
NOT_COMPARABLE = (
    "Reference rows are the papers' own figures, copied for orientation: scores from different "
    "backbones, image models and prompt wrappers are not comparable with ours."
)


@dataclass
class Summary:
    """One row of the table: an arm (overall or within one category)."""

    method: str
    category: str  # "" = all categories
    stories: int
    runs: int
    metrics: dict[str, tuple[float, float, float] | None]  # column -> (mean, ci_low, ci_high) or None
    frames_requested: int
    frames_returned: int
    cost_per_story_usd: float
    latency_s: tuple[float, float, float] | None
    points: list[tuple[float | None, float | None, float]] = field(default_factory=list)  # per story, for the plot


# ---------------------------------------------------------------- summarising


def latest_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell (arm, story, variant, repeat): the newest that was sent, so a resumed
    or retried cell counts once with its final result (analysis.runs_frame drops cancelled
    runs and rows refused before sending)."""
    if runs.empty:
        return runs
    ordered = runs_frame(runs).sort_values("created_at", kind="stable")
    return ordered.drop_duplicates(subset=list(CELL_KEYS), keep="last").reset_index(drop=True)


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(dtype=float)


def _ci(values: pd.Series) -> tuple[float, float, float] | None:
    """(mean, low, high) by analysis.t_interval; None when nothing was scored."""
    return None if values.dropna().empty else t_interval(values)


def summarise(rows: pd.DataFrame, method: str, category: str = "") -> Summary:
    """Per-story means first (repeats averaged), then mean and 95% CI across stories."""
    per_story = rows.assign(
        **{m.column: _numeric(rows, m.column) for m in METRICS},
        latency_s=_numeric(rows, "latency_s"),
        cost_usd=_numeric(rows, "cost_usd"),
    )
    by_story = per_story.groupby("story_id", sort=False)
    story_means = by_story[[m.column for m in METRICS] + ["latency_s", "cost_usd"]].mean()
    requested = int(_numeric(rows, "frames_requested").fillna(0).sum())
    returned = int(_numeric(rows, "frames_returned").fillna(0).sum())
    # pandas-stubs passes apply's keywords to the function; pandas 2.2 needs include_groups=False
    ratio = by_story.apply(_frames_ratio, include_groups=False)  # type: ignore[call-overload]
    x_col, y_col = plot_axes_for(story_means)
    points = [
        (
            None if x_col is None else _float(story_means.at[s, x_col]),
            _float(story_means.at[s, y_col]),
            float(ratio.get(s, 0.0)),
        )
        for s in story_means.index
    ]
    return Summary(
        method=method,
        category=category,
        stories=len(story_means),
        runs=len(rows),
        metrics={m.column: _ci(story_means[m.column]) for m in METRICS},
        frames_requested=requested,
        frames_returned=returned,
        cost_per_story_usd=float(story_means["cost_usd"].fillna(0).mean()) if len(story_means) else 0.0,
        latency_s=_ci(story_means["latency_s"]),
        points=points,
    )


def _frames_ratio(rows: pd.DataFrame) -> float:
    requested = _numeric(rows, "frames_requested").fillna(0).sum()
    return float(_numeric(rows, "frames_returned").fillna(0).sum() / requested) if requested else 0.0


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def summarise_experiment(
    runs: pd.DataFrame, categories: Mapping[str, str], arm_order: Sequence[str] = ()
) -> tuple[list[Summary], list[Summary]]:
    """(overall rows per arm, rows per category and arm) for one experiment's runs.
    `categories` maps story_id -> category (from the benchmark file)."""
    cells = latest_cells(runs)
    if cells.empty:
        return [], []
    arms = list(dict.fromkeys([*arm_order, *cells["arm"].astype(str)]))
    cells = cells.assign(category=cells["story_id"].map(lambda s: categories.get(str(s), "?")))
    overall = [summarise(cells[cells["arm"] == arm], arm) for arm in arms if (cells["arm"] == arm).any()]
    per_category = [
        summarise(part, arm, category)
        for category in dict.fromkeys(categories.values())
        for arm in arms
        if not (part := cells[(cells["category"] == category) & (cells["arm"] == arm)]).empty
    ]
    return overall, per_category


# ---------------------------------------------------------------- which metrics carry the run


def deep_available(summaries: Sequence[Summary]) -> list[str]:
    return [m.column for m in METRICS if m.deep and any(s.metrics.get(m.column) for s in summaries)]


def shown_metrics(summaries: Sequence[Summary]) -> list[Metric]:
    present = set(deep_available(summaries))
    return [m for m in METRICS if not m.deep or m.column in PAPER_COLUMNS or m.column in present]


def plot_axes_for(story_means: pd.DataFrame) -> tuple[str | None, str]:
    """(x, y) columns: text alignment vs consistency when CLIP-T exists; else x is None
    (the frames-returned ratio is plotted) and y the best consistency metric present."""

    def has(column: str) -> bool:
        return column in story_means and bool(story_means[column].notna().any())

    y = "clip_i" if has("clip_i") else "subject_consistency"
    return ("clip_t" if has("clip_t") else None), y


def backbones() -> dict[str, str]:
    """Which backbone the deep metrics use, as configured in this environment."""
    try:
        from playground.metrics import deep as dm
    except ImportError:
        return {}
    clip = os.environ.get(dm.CLIP_PATH_ENV, "").strip() or dm.CLIP_MODEL_ID
    dino = os.environ.get(dm.DINO_PATH_ENV, "").strip() or dm.DINO_MODEL_ID
    return {"clip_t": clip, "clip_i": clip, "dino_i": dino}


def metrics_note(summaries: Sequence[Summary]) -> str:
    present = deep_available(summaries)
    if not present:
        return (
            "Deep metrics (CLIP-T, CLIP-I, DreamSim) were not available for these runs (no torch/weights, "
            "see docs/metrics.md), so consistency is reported with the offline metrics Palette, Structure and "
            "Subject (palette_consistency, structure_consistency, subject_consistency; 0-1, higher = more "
            "consistent); text alignment (CLIP-T) is not available."
        )
    names = backbones()
    parts = [f"{label_of(c)}: {names.get(c, 'backbone unknown')}" for c in present]
    return (
        "Deep metrics computed with " + "; ".join(parts) + " (raw cosines). CLIP-T compares each frame with "
        "the prompt actually sent for it (a sequence run sends one prompt for all frames). Offline metrics "
        "(Palette, Structure, Subject) are shown alongside."
    )


def label_of(column: str) -> str:
    return next(m.label for m in METRICS if m.column == column)


# ---------------------------------------------------------------- Markdown and CSV


def _cell(value: tuple[float, float, float] | None, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    mean, low, high = value
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"


def _header(metrics: Sequence[Metric], first: Sequence[str]) -> list[str]:
    heads = [f"{m.label} {'↑' if m.higher_is_better else '↓'}" for m in metrics]
    return [*first, "Stories", *heads, "Frames returned", "Cost / story (USD)", "Latency (s)"]


def _row(s: Summary, metrics: Sequence[Metric], first: Sequence[str]) -> list[str]:
    share = f"{s.frames_returned}/{s.frames_requested}"
    if s.frames_requested:
        share += f" ({100 * s.frames_returned / s.frames_requested:.0f}%)"
    return [
        *first,
        str(s.stories),
        *(_cell(s.metrics.get(m.column)) for m in metrics),
        share,
        f"{s.cost_per_story_usd:.4f}",
        _cell(s.latency_s, 2),
    ]


def _reference_row(ref: ReferenceRow, metrics: Sequence[Metric], first: Sequence[str]) -> list[str]:
    scores = [f"{ref.scores[m.column]:.4f}" if m.column in ref.scores else "" for m in metrics]
    return [*first, "", *scores, "", "", ""]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines


def markdown(overall: Sequence[Summary], per_category: Sequence[Summary], title: str = "") -> str:
    metrics = shown_metrics([*overall, *per_category])
    rows = [_row(s, metrics, [f"**{s.method}** (ours)"]) for s in overall]
    rows += [_reference_row(r, metrics, [f"*{r.method}* (reference)"]) for r in REFERENCE_ROWS]
    lines = [f"### {title or 'ConsiStory+ results'}", ""] + _table(_header(metrics, ["Method"]), rows)
    lines += [
        "",
        "Mean over stories ± half-width of the 95% confidence interval (Student t, per-story means). "
        + metrics_note(overall),
        "",
        f"Reference rows: {_P1S}. {NOT_COMPARABLE}",
    ]
    if per_category:
        cat_rows = [_row(s, metrics, [s.category, s.method]) for s in per_category]
        lines += ["", "#### Per category", ""] + _table(_header(metrics, ["Category", "Method"]), cat_rows)
    return "\n".join(lines) + "\n"


def csv_rows(overall: Sequence[Summary], per_category: Sequence[Summary]) -> pd.DataFrame:
    """Every table row with mean, ci_low, ci_high per metric (reference rows carry `source`)."""
    records = [_summary_record("overall", s) for s in overall]
    records += [_summary_record("category", s) for s in per_category]
    for ref in REFERENCE_ROWS:
        record: dict[str, object] = {
            "table": "reference",
            "category": "",
            "method": ref.method,
            "source": ref.source,
            "note": NOT_COMPARABLE,
        }
        for column, value in ref.scores.items():
            record[f"{column}_mean"] = value
        records.append(record)
    return pd.DataFrame.from_records(records, columns=_csv_columns())


def _csv_columns() -> list[str]:
    columns = ["table", "category", "method", "source", "stories", "runs"]
    for m in METRICS:
        columns += [f"{m.column}_mean", f"{m.column}_ci_low", f"{m.column}_ci_high"]
    return columns + [
        "frames_requested",
        "frames_returned",
        "cost_per_story_usd",
        "latency_s_mean",
        "latency_s_ci_low",
        "latency_s_ci_high",
        "note",
    ]


def _summary_record(table: str, s: Summary) -> dict[str, object]:
    record: dict[str, object] = {
        "table": table,
        "category": s.category,
        "method": s.method,
        "source": "this run",
        "stories": s.stories,
        "runs": s.runs,
        "frames_requested": s.frames_requested,
        "frames_returned": s.frames_returned,
        "cost_per_story_usd": round(s.cost_per_story_usd, 6),
        "note": "",
    }
    for column, value in [*s.metrics.items(), ("latency_s", s.latency_s)]:
        if value is not None:
            record[f"{column}_mean"], record[f"{column}_ci_low"], record[f"{column}_ci_high"] = (
                round(v, 6) if not math.isnan(v) else None for v in value
            )
    return record


def write_outputs(
    out_dir: Path, overall: Sequence[Summary], per_category: Sequence[Summary], title: str = ""
) -> dict[str, Path]:
    """consistory_table.md, consistory_table.csv and consistory_plot.png in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out_dir / "consistory_table.md",
        "csv": out_dir / "consistory_table.csv",
        "plot": out_dir / "consistory_plot.png",
    }
    paths["markdown"].write_text(markdown(overall, per_category, title), encoding="utf-8")
    csv_rows(overall, per_category).to_csv(paths["csv"], index=False)
    draw_plot(overall, paths["plot"], title=title)
    return paths


# ---------------------------------------------------------------- the plot (Pillow)

ARM_COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207))
PLOT_SIZE, PLOT_BOX = (1120, 680), (100, 70, 720, 590)  # image size; plot area (left, top, right, bottom)
DODGE = 0.02  # frames-ratio plot: each arm's story dots are shifted sideways by this much (said on the plot)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the bitmap font still labels
        return ImageFont.load_default()


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 0.01)
    return low - pad, high + pad


def _finite(triple: tuple[float, float, float] | None) -> list[float]:
    return [v for v in (triple or ()) if not math.isnan(v)]


def _axes_values(overall: Sequence[Summary], y_col: str) -> tuple[list[float], list[float]]:
    """Every x (CLIP-T) and y value the plot draws: story dots and the CI ends of each arm."""
    xs = [p[0] for s in overall for p in s.points if p[0] is not None]
    ys = [p[1] for s in overall for p in s.points if p[1] is not None]
    for s in overall:
        xs += _finite(s.metrics.get("clip_t"))
        ys += _finite(s.metrics.get(y_col))
    return xs or [0.0, 1.0], ys or [0.0, 1.0]


@dataclass(frozen=True)
class _Axes:
    """Data ranges -> pixels of PLOT_BOX."""

    x: tuple[float, float]
    y: tuple[float, float]

    def px(self, x: float, y: float) -> tuple[float, float]:
        left, top, right, bottom = PLOT_BOX
        return (
            left + (x - self.x[0]) / (self.x[1] - self.x[0]) * (right - left),
            bottom - (y - self.y[0]) / (self.y[1] - self.y[0]) * (bottom - top),
        )


def draw_plot(overall: Sequence[Summary], path: Path, title: str = "") -> Path:
    """Consistency (y) against text alignment (x) per arm: one dot per story, the arm's mean
    with its 95% CI. Without an alignment metric, x is the share of frames returned, and the
    axis says so."""
    y_col = "clip_i" if any(s.metrics.get("clip_i") for s in overall) else "subject_consistency"
    aligned = any(s.metrics.get("clip_t") for s in overall)
    xs, ys = _axes_values(overall, y_col)
    axes = _Axes(_span(xs) if aligned else (0.0, 1.05), _span(ys))
    image = Image.new("RGB", PLOT_SIZE, "white")
    draw = ImageDraw.Draw(image)
    x_ticks = [axes.x[0] + (axes.x[1] - axes.x[0]) * k / 5 for k in range(6)] if aligned else [k / 5 for k in range(6)]
    _draw_axes(draw, axes, x_ticks)
    colours = [ARM_COLOURS[i % len(ARM_COLOURS)] for i in range(len(overall))]
    for i, (s, colour) in enumerate(zip(overall, colours)):  # all dots first: no mean hides under other dots
        _draw_points(draw, s, colour, aligned, axes, 0.0 if aligned else DODGE * (i - (len(overall) - 1) / 2))
    for s, colour in zip(overall, colours):
        _draw_mean(draw, s, colour, y_col, aligned, axes)
    _draw_labels(draw, overall, colours, y_col, aligned, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _draw_labels(
    draw: ImageDraw.ImageDraw,
    overall: Sequence[Summary],
    colours: Sequence[tuple[int, int, int]],
    y_col: str,
    aligned: bool,
    title: str,
) -> None:
    left, top, right, bottom = PLOT_BOX
    for i, (s, colour) in enumerate(zip(overall, colours)):
        draw.rectangle((right + 30, top + 10 + 28 * i, right + 46, top + 26 + 28 * i), fill=colour)
        name = s.method if len(s.method) <= 40 else s.method[:39] + "…"
        draw.text((right + 54, top + 10 + 28 * i), f"{name} (n={s.stories})", fill="black", font=_font(14))
    x_label = (
        f"text alignment: CLIP-T ({backbones().get('clip_t', '?')})"
        if aligned
        else "frames returned / requested   (no text-alignment metric: deep metrics off;"
        " story dots offset sideways per arm)"
    )
    y_label = (
        f"{label_of(y_col)} ({backbones().get(y_col, '?')})"
        if y_col == "clip_i"
        else "Subject (offline subject_consistency)"
    )
    draw.text(((left + right) / 2, bottom + 48), x_label, fill="black", font=_font(15), anchor="mm")
    draw.text(
        (left, top - 14),
        f"y = consistency: {y_label}   (dots: stories; large dot and bars: arm mean, 95% CI)",
        fill="black",
        font=_font(14),
        anchor="ls",
    )
    draw.text(
        (PLOT_SIZE[0] / 2, 24),
        title or "ConsiStory+: consistency vs text alignment per arm",
        fill="black",
        font=_font(18),
        anchor="mm",
    )


def _draw_axes(draw: ImageDraw.ImageDraw, axes: _Axes, x_ticks: Sequence[float]) -> None:
    left, top, right, bottom = PLOT_BOX
    for x in x_ticks:
        px, _ = axes.px(x, axes.y[0])
        draw.line((px, top, px, bottom), fill=(230, 230, 230))
        draw.text(
            (px, bottom + 16),
            f"{x:.3g}" if not 0 < abs(x) < 0.1 else f"{x:.3f}",
            fill="black",
            font=_font(13),
            anchor="mm",
        )
    for k in range(6):
        y = axes.y[0] + (axes.y[1] - axes.y[0]) * k / 5
        _, py = axes.px(axes.x[0], y)
        draw.line((left, py, right, py), fill=(230, 230, 230))
        draw.text((left - 8, py), f"{y:.3f}", fill="black", font=_font(13), anchor="rm")
    draw.rectangle(PLOT_BOX, outline="black")


def _draw_points(
    draw: ImageDraw.ImageDraw, s: Summary, colour: tuple[int, int, int], aligned: bool, axes: _Axes, dodge: float
) -> None:
    light = tuple(int(c + (255 - c) * 0.55) for c in colour)
    for x, y, ratio in s.points:
        if y is None or (aligned and x is None):
            continue
        px, py = axes.px(x if aligned and x is not None else ratio + dodge, y)
        draw.ellipse((px - 4, py - 4, px + 4, py + 4), fill=light)


def _draw_mean(
    draw: ImageDraw.ImageDraw, s: Summary, colour: tuple[int, int, int], y_col: str, aligned: bool, axes: _Axes
) -> None:
    y_ci = s.metrics.get(y_col)
    if not y_ci:
        return
    x_ci = s.metrics.get("clip_t") if aligned else None
    mx = x_ci[0] if x_ci else (s.frames_returned / s.frames_requested if s.frames_requested else 0.0)
    cx, cy = axes.px(mx, y_ci[0])
    if not math.isnan(y_ci[1]):
        (_, lo), (_, hi) = axes.px(mx, y_ci[1]), axes.px(mx, y_ci[2])
        draw.line((cx, lo, cx, hi), fill=colour, width=3)
        for end in (lo, hi):
            draw.line((cx - 7, end, cx + 7, end), fill=colour, width=3)
    if x_ci and not math.isnan(x_ci[1]):
        (lo, _), (hi, _) = axes.px(x_ci[1], y_ci[0]), axes.px(x_ci[2], y_ci[0])
        draw.line((lo, cy, hi, cy), fill=colour, width=3)
        for end in (lo, hi):
            draw.line((end, cy - 7, end, cy + 7), fill=colour, width=3)
    draw.ellipse((cx - 8, cy - 8, cx + 8, cy + 8), fill=colour, outline="black")
