"""`python -m playground run` against the emulator for the models researchers compare (issue 15):
`--provider gemini` and `--provider replicate` in every mode each model allows, with a
reference image where it takes one, and fal's Seedream 4 / 4.5 (text-to-image and edit). Each
run is a real subprocess; a provider's runs go concurrently, and each is checked on both sides:
its JSON line, and the request the emulator received."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from support.paths import REPO

# (model, mode, frames, size, with a reference image)
GEMINI = [
    ("gemini-2.5-flash-image", "sequence", 3, "1024x1024", False),
    ("gemini-2.5-flash-image", "baseline", 2, "1344x768", True),
    ("gemini-3-pro-image-preview", "sequence", 3, "2K", True),
    ("gemini-3-pro-image-preview", "baseline", 2, "1024x1024", False),
]
REPLICATE = [
    ("bytedance/seedream-4", "sequence", 3, "1024x1024", True),
    ("bytedance/seedream-4", "baseline", 2, "1024x1024", False),
    ("bytedance/seedream-4.5", "sequence", 3, "2K", False),
    ("bytedance/seedream-4.5", "baseline", 2, "2K", True),
    ("google/nano-banana", "baseline", 2, "1024x1024", True),
    ("black-forest-labs/flux-kontext-pro", "baseline", 2, "1024x1024", True),
    ("black-forest-labs/flux-1.1-pro", "baseline", 2, "1024x768", False),
]
FAL = [
    ("fal-ai/bytedance/seedream/v4/text-to-image", "sequence", 3, "2048x2048", False),
    ("fal-ai/bytedance/seedream/v4/text-to-image", "baseline", 2, "2048x2048", True),
    ("fal-ai/bytedance/seedream/v4.5/text-to-image", "sequence", 3, "2560x1440", False),
    ("fal-ai/bytedance/seedream/v4.5/edit", "sequence", 2, "2560x1440", True),
    ("fal-ai/bytedance/seedream/v4/edit", "baseline", 2, "2048x2048", True),
]


def run_all(provider: str, runs: list[tuple[str, str, int, str, bool]], emulator, tmp_path: Path) -> list[dict]:
    """Start every run at once, then read each one's single JSON object (exit code 0 asserted)."""
    reference = tmp_path / "character.png"
    Image.new("RGB", (80, 60), (200, 120, 40)).save(reference)
    env = {**os.environ, **emulator.env()}
    env.pop("PLAYGROUND_PRICES", None)
    procs = []
    for i, (model, mode, frames, size, with_ref) in enumerate(runs):
        args = [
            sys.executable,
            "-m",
            "playground",
            "run",
            "--provider",
            provider,
            "--model",
            model,
            "--mode",
            mode,
            "--frames",
            str(frames),
            "--size",
            size,
            "--prompt",
            f"run {i}: a fox courier's day",
            "--data-dir",
            str(tmp_path / f"data{i}"),
            "--json",
        ] + (["--ref", str(reference)] if with_ref else [])
        procs.append(
            subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = []
    for (model, mode, *_), proc in zip(runs, procs):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, (model, mode, err)
        outputs.append(json.loads(out))
    return outputs


def sent_by(emulator, provider: str, run: int) -> list:
    """The generation requests of run `run` (its prompt names it)."""

    def prompt(r) -> str:
        body = r.json or {}
        if provider == "gemini":
            return body["contents"][0]["parts"][0]["text"]
        return body.get("input", body).get("prompt", "")

    creates = [r for r in emulator.requests_for(provider, "POST") if r.json and not r.path.endswith("/cancel")]
    return [r for r in creates if f"run {run}:" in prompt(r)]


@pytest.mark.parametrize(
    "provider,runs",
    [("gemini", GEMINI), ("replicate", REPLICATE), ("fal", FAL)],
    ids=["gemini", "replicate", "fal-seedream"],
)
def test_every_mode_each_model_allows_runs_from_the_cli(emulator, tmp_path, provider, runs):
    emulator.image_size = (64, 48)  # small frames: the point is the protocol, not the pixels
    outputs = run_all(provider, runs, emulator, tmp_path)
    for i, ((model, mode, frames, _size, with_ref), out) in enumerate(zip(runs, outputs)):
        assert out["status"] == "ok" and out["frames_returned"] == frames, (model, mode, out.get("error"))
        assert out["cost_usd"] > 0 and out["cost_usd"] <= out["max_cost_usd"] + 1e-9
        requests = sent_by(emulator, provider, i)
        assert len(requests) == (1 if mode == "sequence" else frames), (model, mode)
        for request in requests:
            assert model.removesuffix("/text-to-image") in request.path
            body = json.dumps(request.json)
            assert ("base64," in body or '"inlineData"' in body) == with_ref, (model, mode)
