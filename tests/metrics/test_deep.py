"""The optional deep metrics: empty with a reason when the stack or weights are missing;
when torch and transformers are installed, the real code path runs on tiny randomly
initialised models saved to a temporary directory (fully offline, no downloads)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playground.metrics import METRIC_COLUMNS
from playground.metrics import deep as deep_metrics
from playground.metrics.score import score_frames

HAS_DEEP_STACK = all(importlib.util.find_spec(name) for name in ("torch", "transformers"))


def _frames() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8) for _ in range(2)]
    return [Image.fromarray(noise[0]), Image.fromarray(noise[0]), Image.fromarray(noise[1])]


@pytest.fixture
def no_deep_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (deep_metrics.CLIP_PATH_ENV, deep_metrics.DINO_PATH_ENV, deep_metrics.DOWNLOAD_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.skipif(HAS_DEEP_STACK, reason="checks the torch-free install")
def test_without_torch_deep_columns_are_none_with_install_hint(no_deep_env: None) -> None:
    scores = score_frames(_frames(), prompts=["a cat"])
    assert all(scores[name] is None for name in deep_metrics.DEEP_COLUMNS)
    assert scores["palette_consistency"] is not None
    assert "not installed" in scores["metrics_note"]
    assert "requirements-deep.txt" in scores["metrics_note"]


def test_deep_false_never_tries(no_deep_env: None) -> None:
    scores = score_frames(_frames(), deep=False)
    assert set(scores) == set(METRIC_COLUMNS) | {"metrics_note"}
    assert all(scores[name] is None for name in deep_metrics.DEEP_COLUMNS)
    assert scores["metrics_note"] == "deep metrics off: not requested"


def test_missing_weight_directory_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(deep_metrics.CLIP_PATH_ENV, str(tmp_path / "nowhere"))
    source = deep_metrics.weight_source(deep_metrics.CLIP_PATH_ENV, deep_metrics.CLIP_MODEL_ID, False)
    assert source.location is None
    assert "is not a directory" in source.problem


def test_no_download_unless_allowed(no_deep_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deep_metrics, "_in_hub_cache", lambda model_id: False)
    refused = deep_metrics.weight_source(deep_metrics.CLIP_PATH_ENV, deep_metrics.CLIP_MODEL_ID, False)
    allowed = deep_metrics.weight_source(deep_metrics.CLIP_PATH_ENV, deep_metrics.CLIP_MODEL_ID, True)
    assert refused.location is None and deep_metrics.CLIP_PATH_ENV in refused.problem
    assert allowed.location == deep_metrics.CLIP_MODEL_ID and not allowed.local_only


def test_prompts_are_matched_to_frames() -> None:
    assert deep_metrics._prompts_per_frame(["a", "b"], 2) == ["a", "b"]
    assert deep_metrics._prompts_per_frame(["one story"], 3) == ["one story"] * 3
    assert deep_metrics._prompts_per_frame(["a", "b"], 3) is None
    assert deep_metrics._prompts_per_frame(None, 3) is None


# ---------------------------------------------------------------- with torch (optional)


def _byte_symbols() -> list[str]:
    """GPT-2 / CLIP's printable stand-ins for the 256 byte values (byte-level BPE)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _byte_level_clip_tokenizer(directory: Path) -> None:
    """A CLIP tokenizer whose vocabulary is the 256 byte symbols (no merges): enough to
    turn any prompt into ids offline. transformers ships no vocabulary files."""
    from transformers import CLIPTokenizer

    symbols = _byte_symbols()
    vocab = {
        token: i
        for i, token in enumerate(["<|startoftext|>", "<|endoftext|>"] + symbols + [s + "</w>" for s in symbols])
    }
    try:  # transformers 5: the vocabulary is passed in directly
        tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    except TypeError:  # transformers 4: files on disk
        (directory / "vocab.json").write_text(json.dumps(vocab))
        (directory / "merges.txt").write_text("#version: 0.2\n")
        tokenizer = CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"))
    tokenizer.save_pretrained(directory)


def _tiny_clip(directory: Path) -> None:
    import torch
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    torch.manual_seed(0)
    _byte_level_clip_tokenizer(directory)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=514,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(
            image_size=32,
            patch_size=8,
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=2,
        ),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(directory)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=CLIPTokenizer.from_pretrained(directory)).save_pretrained(
        directory
    )


def _tiny_dino(directory: Path) -> None:
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    config = Dinov2Config(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37
    )
    Dinov2Model(config).save_pretrained(directory)
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(directory)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    clip_dir, dino_dir = tmp_path_factory.mktemp("clip"), tmp_path_factory.mktemp("dino")
    _tiny_clip(clip_dir)
    _tiny_dino(dino_dir)
    return clip_dir, dino_dir


def test_deep_path_runs_offline_with_random_weights(
    tiny_models: tuple[Path, Path], no_deep_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip_dir, dino_dir = tiny_models
    monkeypatch.setenv(deep_metrics.CLIP_PATH_ENV, str(clip_dir))
    monkeypatch.setenv(deep_metrics.DINO_PATH_ENV, str(dino_dir))
    same = score_frames(_frames()[:2], prompts=["a red fox", "a red fox"])
    mixed = score_frames(_frames(), prompts=["a red fox in the snow"])
    # identical frames embed identically, whatever the (random) weights
    assert same["clip_i"] == pytest.approx(1.0, abs=1e-5)
    assert same["dino_i"] == pytest.approx(1.0, abs=1e-5)
    assert mixed["clip_i"] < 1.0 - 1e-4 and mixed["dino_i"] < 1.0 - 1e-4
    for name in ("clip_i", "dino_i", "clip_t"):
        assert -1.0 <= mixed[name] <= 1.0
    assert mixed["dreamsim"] is None
    assert mixed["metrics_note"] == deep_metrics.DREAMSIM_NOTE


def test_clip_t_follows_prompts_and_reports_mismatch(
    tiny_models: tuple[Path, Path], no_deep_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With random weights only the plumbing is testable: different prompts must give
    different clip_t, and a frame count / prompt count mismatch must give None + a note."""
    clip_dir, _ = tiny_models
    monkeypatch.setenv(deep_metrics.CLIP_PATH_ENV, str(clip_dir))
    frames = _frames()
    first = score_frames(frames, prompts=["a red fox"])["clip_t"]
    second = score_frames(frames, prompts=["zzzz 1234 !!"])["clip_t"]
    assert first != pytest.approx(second)
    mismatched = score_frames(frames, prompts=["a", "b"])
    assert mismatched["clip_t"] is None and "no prompt per frame" in mismatched["metrics_note"]
    assert mismatched["clip_i"] is not None
    assert "dino_i off" in mismatched["metrics_note"]  # no DINO path in this test
