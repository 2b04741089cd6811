"""Every metric of a set of frames, as the run log stores them: the default ones always, the
deep ones when their optional stack is installed and asked for."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

from PIL import Image

from playground.metrics import METRIC_COLUMNS
from playground.metrics.classic import default_scores


def score_frames(
    frames: Sequence[pathlib.Path | Image.Image], prompts: Sequence[str] | None = None, deep: bool | None = None
) -> dict[str, float | str | None]:
    """One key per METRIC_COLUMNS entry plus "metrics_note".

    Default metrics are in [0, 1], higher = more consistent, None for fewer than 2 frames.
    Deep metrics are None unless the optional stack is importable and its weights load:
    deep=None tries if installed, deep=False never tries; metrics_note says why they are
    empty ("" when nothing is missing)."""
    scores: dict[str, float | str | None] = dict.fromkeys(METRIC_COLUMNS)
    scores.update(default_scores(frames))
    note = "deep metrics off: not requested"
    if deep is not False:
        from playground.metrics import deep as deep_metrics  # lazy: keeps torch out of start-up and default installs

        deep_scores, note = deep_metrics.deep_scores(frames, prompts, explicit=deep is True)
        scores.update(deep_scores)
    scores["metrics_note"] = note
    return scores
