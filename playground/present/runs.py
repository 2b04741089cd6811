"""A run as the UI and the CLI show it, without gradio: summary, progress line, refusal, frame
captions and gallery items, frame failures, the History table, and the CLI's JSON and summary line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playground.base.errors import PlaygroundError
from playground.base.types import Frame, RunRecord
from playground.core.playground import Playground
from playground.core.sink import Progress
from playground.providers import provider_class
from playground.store import merged
from playground.store.merged import load_run
from playground.store.rundir import RUNS, first_preview

RUN_JSON_KEYS = (
    "run_id",
    "status",
    "frames_requested",
    "frames_returned",
    "cost_usd",
    "latency_s",
    "first_frame_s",
    "images_billed",
    "api_calls",
    "provider",
    "model",
    "mode",
    "error",
    "image_dir",
    "palette_consistency",
    "structure_consistency",
    "subject_consistency",
    "estimate_usd",
    "max_cost_usd",
    "reference_frames",
)


APPENDED_JSON_KEYS = ("seed", "seed_sent", "size", "cost_source", "experiment_id", "arm", "variant")  # issue 17


def record_json(record: RunRecord) -> dict[str, object]:
    """The CLI's `--json` of a run (and the API's): the first keys as they always were, new ones
    appended, `beats_used` last (how many of the beats given were sent: the first N)."""
    row = record.as_row()
    data = {key: row[key] for key in (*RUN_JSON_KEYS, *APPENDED_JSON_KEYS)}
    if isinstance(data["reference_frames"], dict):  # JSON keys are text: frame numbers as strings
        data["reference_frames"] = {str(k): v for k, v in data["reference_frames"].items()}
    data["beats_used"] = min(len(record.beats or []), record.frames_requested)
    return data


def mode_words(record: RunRecord) -> str:
    """The run's mode; a chain's with the frames its references were (the reference_frames column)."""
    chained = record.reference_frames
    if record.mode != "chain" or not chained:
        return record.mode
    if all(source == 1 for source in chained.values()):
        return "chain: frames 2+ from frame 1"
    return "chain: " + ", ".join(f"{frame} from {source}" for frame, source in sorted(chained.items()))


def summary_line(record: RunRecord) -> str:
    line = (
        f"{record.status.upper()}  {record.frames_returned}/{record.frames_requested} frames  "
        f"${record.cost_usd:.4f}  {record.latency_s or 0:.2f}s  {record.provider}/{record.model} ({mode_words(record)})"
    )
    if record.subject_consistency is not None:
        line += (
            f"  consistency: subject {record.subject_consistency:.3f}, palette {record.palette_consistency:.3f},"
            f" structure {record.structure_consistency:.3f}"
        )
    notes = [note for note in (beats_note(record), seed_note(record)) if note]
    return line + "".join(f"  ({note})" for note in notes)


def format_summary(record: RunRecord, estimate_usd: float | None = None) -> str:
    lines = [
        f"### {record.status}: {record.frames_returned} of {record.frames_requested} frames",
        " · ".join(
            [
                cost_words(record, estimate_usd),
                f"**Latency** {record.latency_s or 0:.2f} s · **First frame** "
                f"{'—' if record.first_frame_s is None else f'{record.first_frame_s:.2f} s'} · "
                f"**Calls** {record.api_calls} · **Billed images** {record.images_billed}",
            ]
        ),
    ]
    scores = [
        (n, getattr(record, n))
        for n in (
            "subject_consistency",
            "palette_consistency",
            "structure_consistency",
            "clip_i",
            "dino_i",
            "clip_t",
            "dreamsim",
        )
    ]
    shown = [f"{n.replace('_consistency', '')} {v:.3f}" for n, v in scores if isinstance(v, float)]
    if shown:
        lines.append("**Consistency** " + " · ".join(shown))
    elif record.frames_returned < 2 and record.status != "error":
        lines.append("Consistency needs at least 2 frames.")
    if record.metrics_note:
        lines.append(f"*{record.metrics_note}*")
    failures = frame_failures(record)
    if failures:
        lines.append("**Frames not returned**\n\n" + "\n".join(f"- {line}" for line in failures))
    reasons = {line.split(": ", 1)[1] for line in failures}
    if record.error and not set(record.error.split("; ")) <= reasons:  # said already, frame by frame
        lines.append(f"**{'Note' if record.status == 'cancelled' else 'Error'}:** {record.error}")
    made = [f"run `{record.run_id}`", f"{record.provider}/{record.model}", mode_words(record)]
    made += [note for note in (beats_note(record), seed_note(record)) if note]
    if record.ref_count:
        made.append(f"{record.ref_count} reference image(s)")
    if record.image_dir:  # DATA_DIR/runs/<run_id>: the last two parts say where (a refused run has none)
        folder = Path(record.image_dir)
        made.append(f"frames in `{folder.parent.name}/{folder.name}`")
    lines.append(f"<small>{' · '.join(made)}</small>")
    return "\n\n".join(lines)


def source_words(cost_source: str) -> str:
    """A cost source without its own parentheses, to sit inside one pair: "possibly billed
    (estimate)" -> "possibly billed, estimate"."""
    return re.sub(r"\s*\((.*)\)", r", \1", cost_source).strip()


def cost_words(record: RunRecord, estimate_usd: float | None = None) -> str:
    """ "**Cost** $0.1400 (possibly billed, estimate) · **Estimate** $0.1400, at most $0.1400": the
    source only when the run has one, the estimate only when the run got as far as one."""
    text = f"**Cost** ${record.cost_usd or 0:.4f}"
    if record.cost_source:
        text += f" ({source_words(record.cost_source)})"
    estimate = record.estimate_usd if estimate_usd is None else estimate_usd
    if estimate is not None:
        most = f", at most ${record.max_cost_usd:.4f}" if isinstance(record.max_cost_usd, float) else ""
        text += f" · **Estimate** ${estimate:.4f}{most}"
    return text


def beats_note(record: RunRecord) -> str:
    """ "beats 1–4 of 6 used" when the run had fewer frames than beats (the first N are sent)."""
    given = len(record.beats or [])
    if given <= record.frames_requested or record.frames_requested < 1:
        return ""
    return f"beats 1–{record.frames_requested} of {given} used"


def seed_note(record: RunRecord) -> str:
    """Whether the seed asked for reached the model: `seed 7 sent`, or why not. Nothing for a run
    without a seed or one refused before sending."""
    if record.seed is None or not record.api_calls:
        return ""
    if record.seed_sent is not None:
        return f"seed {record.seed_sent} sent"
    try:
        takes = provider_class(record.provider).model(record.model).takes_seed
    except PlaygroundError:
        takes = True  # a provider this version does not know: say only what the row says
    return f"seed {record.seed} not sent" + ("" if takes else f": {record.model} takes none")


def progress_text(progress: Progress, first_frame_s: float | None = None) -> str:
    """Frames done / requested, a bar, elapsed time and time to first frame of a run in flight."""
    done, wanted = progress.frames_done, max(int(progress.frames_requested), 1)
    bar = "▰" * done + "▱" * max(0, wanted - done)
    parts = [
        f"**Running… {done} / {progress.frames_requested} frames** <span class='bar'>{bar}</span>",
        f"{progress.elapsed_s:.1f} s elapsed",
    ]
    if first_frame_s is not None:
        parts.append(f"first frame after {first_frame_s:.1f} s")
    if progress.note:
        parts.append(progress.note)
    return " · ".join(parts)


def refusal_text(exc: BaseException, shown_run: str = "") -> str:
    """What the summary says when the core refused a run before sending it."""
    kept = f" The frames shown are from run `{shown_run}`." if shown_run else ""
    return (
        f"### Not sent\n\n**{exc}**\n\nNothing was sent to the provider; the attempt is logged as an error row "
        f"(see History).{kept}"
    )


def gallery_items(frames: Sequence[Frame]) -> list[tuple[str, str]]:
    """(preview, caption) per frame: the caption carries its number, so a frame that did not come
    back shows as a gap."""
    return [(str(f.preview or f.path), f.label) for f in frames]


def progress_items(progress: Progress) -> list[tuple[str, str]]:
    return gallery_items(progress.frames)


def frame_failures(record: RunRecord) -> list[str]:
    """ "Frame 2: <why>" for each frame that did not come back with a reason (frame_errors);
    frames failing for one reason are named together."""
    by_reason: dict[str, list[int]] = {}
    for number, reason in sorted((record.frame_errors or {}).items()):
        by_reason.setdefault(reason, []).append(number)
    return [
        f"Frame{'s' if len(numbers) > 1 else ''} {number_ranges(numbers)}: {reason}"
        for reason, numbers in by_reason.items()
    ]


def number_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5" (sorted input)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def history_table(playground: Playground, n: int = 100, frame: Any = None) -> Any:
    """The newest runs, newest first, as short text cells; the full row stays in runs.csv.
    With a pulled Hub dataset, every writer's runs, each once, and a `writer` column (merged.py).
    `frame`: the runs to show instead (History's filters, present.history)."""
    import pandas as pd

    frame = merged.latest(playground, n) if frame is None else frame

    def fixed(column: str, places: int) -> list[str]:
        values = pd.to_numeric(frame[column], errors="coerce")
        return ["" if pd.isna(v) else f"{v:.{places}f}" for v in values]

    table = pd.DataFrame(
        {
            "frame": pd.Series(
                [thumbnail(playground, str(rid)) for rid in frame["run_id"]], index=frame.index, dtype=object
            ),
            "run_id": frame["run_id"],
            "when (UTC)": frame["created_at"].astype(str).str.replace("T", " ").str.slice(5, 16),  # MM-DD HH:MM
            "provider": frame["provider"],
            "model": frame["model"],
            "mode": frame["mode"],
            "status": frame["status"],
            "frames": [f"{r}/{q}" for r, q in zip(frame["frames_returned"], frame["frames_requested"])],
            "cost $": fixed("cost_usd", 4),
            "latency s": fixed("latency_s", 2),
            "subject": fixed("subject_consistency", 3),
            "prompt": frame["prompt"].astype(str).str.slice(0, 80),
            "error": frame["error"].astype(str),
        }
    )
    if merged.WRITER_COLUMN in frame:
        table[merged.WRITER_COLUMN] = frame[merged.WRITER_COLUMN].astype(str).to_numpy()
    return table.reset_index(drop=True)


def file_url(path: str) -> str:
    """The URL Gradio serves a file of DATA_DIR/runs at (an allowed path)."""
    return "/gradio_api/file=" + quote(path)


def thumbnail_url(playground: Playground, run_id: str) -> str:
    """The URL of a run's first-frame preview (640 px WebP, never the original), or "" when the run
    has no frame here (refused, failed, or made by another writer of a synced log)."""
    runs = (Path(playground.settings.data_dir) / RUNS).resolve()
    folder = (runs / run_id).resolve()
    if not run_id or folder.parent != runs:  # a run id from a shared CSV never leaves DATA_DIR/runs
        return ""
    preview = first_preview(folder)
    return file_url(str(preview)) if preview else ""


def thumbnail(playground: Playground, run_id: str) -> str:
    """History's "frame" cell: the first frame's preview as a Markdown image, or empty."""
    url = thumbnail_url(playground, run_id)
    return f"![first frame]({url})" if url else ""


def look_strip(playground: Playground, run_id: str) -> str:
    """The close look's view of a run shown in a gallery (Generate, History): its frames' original
    URLs in gallery order, hidden (no src: nothing loads until a frame is opened). Text escaped:
    beats and model ids are stranger-controlled on a Space."""
    if not run_id:
        return ""
    run = load_run(playground, run_id)
    label = f"{run.record.provider}:{run.record.model} · {run.record.mode}"
    frames = "".join(
        f'<img data-original="{escape(file_url(str(f.path)))}" data-frame="{f.number}" alt="{escape(f.label)}">'
        for f in run.frames
    )
    return f'<div class="look-strip" hidden data-run-id="{escape(run_id)}" data-arm="{escape(label)}">{frames}</div>'


def run_frames(playground: Playground, run_id: str) -> tuple[list[tuple[str, str]], str]:
    """A past run's previews with captions, and its summary (History reopen)."""
    run = load_run(playground, run_id)
    return gallery_items(run.frames), format_summary(run.record)
