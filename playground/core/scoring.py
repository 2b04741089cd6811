"""A run's metric columns from its frames (shared by runs and imports)."""

from __future__ import annotations

from pathlib import Path

from playground.base import prompts
from playground.base.types import RunRecord


def score_into(record: RunRecord, paths: list[Path], order: list[int] | None = None) -> None:
    """Fill the record's metric columns from its frames (shared by runs and imports).

    Text alignment compares each frame with its own beat (as the papers' CLIP-T does) in both
    modes: a sequence's one composed prompt would favour neither frame fairly. A metric
    failure is noted in the row and never loses it."""
    if len(paths) < 2:
        return
    order = list(range(len(paths))) if order is None else order
    beats = record.beats or []
    frame_prompts = [prompts.frame_prompt(record.prompt, beats[i] if i < len(beats) else "") for i in order]
    try:
        from playground.metrics.score import score_frames  # numpy and Pillow: loaded with the first score

        scores = score_frames(paths, frame_prompts)
    except Exception as exc:
        record.metrics_note = f"metrics failed: {type(exc).__name__}: {exc}"
        return
    for name, value in scores.items():
        if hasattr(record, name):
            setattr(record, name, round(value, 4) if isinstance(value, float) else value)
