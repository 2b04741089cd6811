"""Optional deep consistency metrics: CLIP-I, DINO-I and CLIP-T (DreamSim: not yet).

    clip_i   mean cosine similarity of CLIP image embeddings over all frame pairs
    dino_i   mean cosine similarity of DINO(v2) class-token embeddings over all frame pairs
    clip_t   mean cosine similarity between each frame's CLIP image embedding and the
             CLIP text embedding of the prompt sent for it
    dreamsim always None here (see docs/metrics.md)

Values are raw cosines (not x100, not rescaled), so they compare only with numbers from
the same backbone: CLIP_MODEL_ID / DINO_MODEL_ID, or whatever the environment points at.

Nothing heavy is imported at module level: torch and transformers are imported only when
the weights are known to be available, so the default (torch-free) install pays nothing.
Where the weights come from, in order:
  1. PLAYGROUND_CLIP_PATH / PLAYGROUND_DINO_PATH: a local directory saved with
     `save_pretrained` (model, plus processor; the tokenizer for CLIP),
  2. the Hugging Face cache, if the model was downloaded before,
  3. the Hugging Face Hub, only when asked for explicitly (score_frames(..., deep=True) or
     PLAYGROUND_DEEP_DOWNLOAD=1): several hundred MB should never download by surprise.
Whatever is missing leaves its columns None, and the note says why. Never a made-up number.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from playground.metrics.image import load_frame

CLIP_MODEL_ID = "openai/clip-vit-base-patch32"
DINO_MODEL_ID = "facebook/dinov2-small"
CLIP_PATH_ENV = "PLAYGROUND_CLIP_PATH"
DINO_PATH_ENV = "PLAYGROUND_DINO_PATH"
DOWNLOAD_ENV = "PLAYGROUND_DEEP_DOWNLOAD"
INSTALL_HINT = "pip install -r requirements-deep.txt"
DEEP_COLUMNS = ("clip_i", "dino_i", "clip_t", "dreamsim")
LOAD_SIDE = 512  # frames are decoded at this size; both backbones resize to 224 anyway
DREAMSIM_NOTE = "dreamsim not computed (no offline weights; not implemented)"


@dataclass(frozen=True)
class WeightSource:
    """Where one backbone's weights load from, or why they cannot."""

    location: str | None  # a directory or a Hub id; None = unavailable
    local_only: bool = True
    problem: str = ""


def deep_scores(
    frames: Sequence[Any], prompts: Sequence[str] | None, explicit: bool = False
) -> tuple[dict[str, float | None], str]:
    """The deep columns and a note ("" only if every column has a value).

    `explicit` is True when the caller asked for deep metrics (deep=True): then a failure
    to load is reported the same way, but a Hub download is allowed."""
    scores: dict[str, float | None] = dict.fromkeys(DEEP_COLUMNS)
    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    if missing:
        return scores, f"deep metrics off: {' and '.join(missing)} not installed ({INSTALL_HINT})"
    if len(frames) < 2 and not prompts:
        return scores, "deep metrics off: fewer than 2 frames"
    allow_download = explicit or os.environ.get(DOWNLOAD_ENV, "") == "1"
    clip = weight_source(CLIP_PATH_ENV, CLIP_MODEL_ID, allow_download)
    dino = weight_source(DINO_PATH_ENV, DINO_MODEL_ID, allow_download)
    notes = [f"clip_i/clip_t off: {clip.problem}"] if clip.location is None else []
    notes += [f"dino_i off: {dino.problem}"] if dino.location is None else []
    if clip.location is not None or dino.location is not None:  # only then decode frames again
        images = [_load_image(frame) for frame in frames]
        if clip.location is not None:
            notes += _run_clip(clip, images, prompts, scores)
        if dino.location is not None:
            notes += _run_dino(dino, images, scores)
    notes.append(DREAMSIM_NOTE)
    return scores, "; ".join(notes)


def weight_source(env_name: str, model_id: str, allow_download: bool) -> WeightSource:
    """Resolve env path -> Hugging Face cache -> Hub (if allowed), without importing torch."""
    configured = os.environ.get(env_name, "").strip()
    if configured:
        if pathlib.Path(configured).is_dir():
            return WeightSource(configured)
        return WeightSource(None, problem=f"{env_name}={configured} is not a directory")
    if _in_hub_cache(model_id):
        return WeightSource(model_id)
    if allow_download:
        return WeightSource(model_id, local_only=False)
    return WeightSource(
        None,
        problem=(
            f"no local weights (set {env_name} to a saved copy of {model_id}, "
            f"or allow a download with deep=True or {DOWNLOAD_ENV}=1)"
        ),
    )


def _in_hub_cache(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def _load_image(frame: Any) -> Image.Image:
    return Image.fromarray(load_frame(frame, side=LOAD_SIDE))


def _run_clip(
    source: WeightSource, images: list[Image.Image], prompts: Sequence[str] | None, scores: dict[str, float | None]
) -> list[str]:
    try:
        model, processor = _load_clip(source.location, source.local_only)
        image_features = _clip_image_features(model, processor, images)
        texts = _prompts_per_frame(prompts, len(images))
        text_features = _clip_text_features(model, processor, texts) if texts else None
    except Exception as exc:  # a missing file, no network, an incompatible checkpoint
        return [f"clip_i/clip_t off: could not load or run CLIP from {source.location} ({_brief(exc)})"]
    notes = []
    if len(images) >= 2:
        scores["clip_i"] = mean_pairwise_cosine(image_features)
    if text_features is None:
        notes.append("clip_t off: no prompt per frame")
    else:
        scores["clip_t"] = float(np.mean(np.sum(image_features * text_features, axis=1)))
    return notes


def _run_dino(source: WeightSource, images: list[Image.Image], scores: dict[str, float | None]) -> list[str]:
    if len(images) < 2:
        return []
    try:
        model, processor = _load_dino(source.location, source.local_only)
        features = _dino_features(model, processor, images)
    except Exception as exc:
        return [f"dino_i off: could not load or run DINO from {source.location} ({_brief(exc)})"]
    scores["dino_i"] = mean_pairwise_cosine(features)
    return []


def _brief(exc: Exception) -> str:
    """An exception on one line, short enough for a CSV cell."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


def _prompts_per_frame(prompts: Sequence[str] | None, frames: int) -> list[str] | None:
    """One prompt per frame: as given, or the single prompt of a one-call sequence repeated."""
    if not prompts:
        return None
    if len(prompts) == frames:
        return list(prompts)
    return list(prompts) * frames if len(prompts) == 1 else None


def mean_pairwise_cosine(features: np.ndarray) -> float:
    """Mean cosine over all unordered pairs of rows (features already unit length)."""
    similarity = features @ features.T
    upper = np.triu_indices(len(features), k=1)
    return float(similarity[upper].mean())


def _unit_rows(tensor: Any) -> np.ndarray:
    array = tensor.detach().float().cpu().numpy()
    unit: np.ndarray = array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
    return unit


def _pooled(output: Any) -> Any:
    """transformers 4 returns the projected features as a tensor, 5 inside an output object."""
    return output if hasattr(output, "detach") else output.pooler_output


@lru_cache(maxsize=2)
def _load_clip(location: str, local_only: bool) -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(location, local_files_only=local_only).eval()
    return model, CLIPProcessor.from_pretrained(location, local_files_only=local_only)


@lru_cache(maxsize=2)
def _load_dino(location: str, local_only: bool) -> tuple[Any, Any]:
    from transformers import AutoImageProcessor, AutoModel

    model = AutoModel.from_pretrained(location, local_files_only=local_only).eval()
    return model, AutoImageProcessor.from_pretrained(location, local_files_only=local_only)


def _clip_image_features(model: Any, processor: Any, images: list[Image.Image]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        inputs = processor(images=images, return_tensors="pt")
        return _unit_rows(_pooled(model.get_image_features(pixel_values=inputs["pixel_values"])))


def _clip_text_features(model: Any, processor: Any, texts: list[str]) -> np.ndarray:
    import torch

    max_length = model.config.text_config.max_position_embeddings
    with torch.inference_mode():
        inputs = processor(text=texts, return_tensors="pt", padding=True, truncation=True, max_length=max_length)
        return _unit_rows(
            _pooled(model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]))
        )


def _dino_features(model: Any, processor: Any, images: list[Image.Image]) -> np.ndarray:
    """The class token (after the final layer norm where the model has a pooler)."""
    import torch

    with torch.inference_mode():
        output = model(pixel_values=processor(images=images, return_tensors="pt")["pixel_values"])
        pooled = getattr(output, "pooler_output", None)
        return _unit_rows(pooled if pooled is not None else output.last_hidden_state[:, 0])
