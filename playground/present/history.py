"""History as a workbench: the log filtered (provider, model, mode, status, experiment, tag; runs
refused before sending hidden unless asked for), what a reopened run was made with, and the
request that makes it again (Load into Generate, Re-run, `/runs`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from playground.base.types import GenerationRequest, RunRecord
from playground.core.playground import Playground
from playground.experiments.annotations import all_tags, tagged
from playground.present.runs import seed_note
from playground.store import merged
from playground.store.codec import record_from_row

if TYPE_CHECKING:
    import pandas as pd

FILTERS = ("provider", "model", "mode", "status", "experiment_id")  # columns of runs.csv
FILTER_FIELDS = (*FILTERS, "tag")  # and the tags of annotations.csv
RECENT_ROWS = 2000  # History without a filter looks at the newest rows only (a 1M-row log stays fast)


@dataclass(frozen=True)
class RunFilter:
    """Which runs History and `/runs` show: each field empty = any."""

    run_id: str = ""
    provider: str = ""
    model: str = ""
    mode: str = ""
    status: str = ""
    experiment_id: str = ""
    include_refused: bool = False
    tag: str = ""  # a tag the run carries now (annotations.csv)

    @property
    def narrowed(self) -> bool:
        return any(getattr(self, name) for name in ("run_id", *FILTER_FIELDS))


def refused_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows of requests refused before anything was sent (error, no call made)."""
    import pandas as pd

    calls = pd.to_numeric(frame["api_calls"], errors="coerce").fillna(0)
    return (frame["status"].astype(str) == "error") & (calls == 0)


def filtered_runs(playground: Playground, run_filter: RunFilter, n: int | None = None) -> tuple[pd.DataFrame, int]:
    """(the matching runs newest first, at most n of them; how many refused rows were hidden)."""
    import pandas as pd

    frame = merged.runs(playground) if run_filter.narrowed or n is None else merged.latest(playground, RECENT_ROWS)
    for column in ("run_id", *FILTERS):
        wanted = getattr(run_filter, column)
        if wanted:
            frame = frame[frame[column].astype(str) == wanted]
    if run_filter.tag:
        frame = frame[frame["run_id"].astype(str).isin(tagged(playground, run_filter.tag))]
    refused = refused_mask(frame)
    hidden = 0 if run_filter.include_refused else int(refused.sum())
    if not run_filter.include_refused:
        frame = frame[~refused]
    when = pd.to_datetime(frame["created_at"], utc=True, errors="coerce", format="ISO8601")
    frame = frame.loc[when.sort_values(ascending=False, kind="stable", na_position="last").index]
    return (frame if n is None else frame.head(n)).reset_index(drop=True), hidden


def find_runs(playground: Playground, run_filter: RunFilter) -> list[RunRecord]:
    frame, _ = filtered_runs(playground, run_filter)
    return [record_from_row({str(k): v for k, v in row.items()}) for row in frame.to_dict("records")]


def filter_choices(playground: Playground) -> dict[str, list[str]]:
    """The values each filter can take in the log (newest rows), for the dropdowns."""
    frame = merged.latest(playground, RECENT_ROWS)
    return {
        **{name: sorted({str(v) for v in frame[name].dropna() if str(v)}) for name in FILTERS},
        "tag": all_tags(playground),
    }


def made_with(record: RunRecord) -> str:
    """Everything a run was made with, as plain text (user text is never rendered as Markdown)."""
    beats = record.beats or []
    used = min(len(beats), record.frames_requested)
    lines = [f"Prompt: {record.prompt}"]
    if beats:
        lines.append("Beats" + (f" (the first {used} of {len(beats)} sent)" if used < len(beats) else "") + ":")
        lines += [f"  {i + 1}. {beat}" for i, beat in enumerate(beats)]
    lines.append(
        f"Frames: {record.frames_requested} · {record.provider}/{record.model} · {record.mode} · "
        f"size {record.size or 'model default'}"
    )
    lines.append(f"Seed: {seed_note(record) or (record.seed if record.seed is not None else 'none')}")
    if record.ref_count:
        lines.append(f"Reference images: {record.ref_count} (their sha256 in runs.csv; the files are not kept)")
    if record.experiment_id:
        lines.append(
            f"Experiment: {record.experiment_id} · arm {record.arm or '—'}"
            + (f" · variant {record.variant}" if record.variant else "")
        )
    lines.append(f"Made {record.created_at} · status {record.status}")
    return "\n".join(lines)


def request_from_record(record: RunRecord) -> GenerationRequest:
    """The request that makes this run again (without its reference images, which are not kept)."""
    return GenerationRequest(
        prompt=record.prompt,
        frames=record.frames_requested,
        mode=record.mode,  # type: ignore[arg-type]
        provider=record.provider,
        model=record.model,
        beats=list(record.beats or []),
        size=record.size,
        seed=record.seed,
    )
