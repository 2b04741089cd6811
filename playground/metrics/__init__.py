"""Consistency metrics: the names of the run log's metric columns (importing this costs nothing).

image    frames loaded and converted (CIELAB) the same way for every metric
classic  the default metrics, offline on the CPU, no weights (numpy and Pillow)
deep     the optional CLIP/DINOv2 metrics (torch, imported only when asked for)
score    score_frames: every metric of a set of frames, as the run log stores them
"""

from __future__ import annotations

METRIC_COLUMNS: tuple[str, ...] = (
    "palette_consistency",
    "structure_consistency",
    "subject_consistency",
    "clip_i",
    "dino_i",
    "clip_t",
    "dreamsim",
)


DEFAULT_METRICS = ("palette_consistency", "structure_consistency", "subject_consistency")


DEEP_METRICS = tuple(name for name in METRIC_COLUMNS if name not in DEFAULT_METRICS)
