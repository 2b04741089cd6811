"""The guide this project implements shows one code sample: a POST of model, prompt and n=4 to
EvoLink's /images/generations, the frames read straight from data[].url, with a follow-up GET
"may be required" when a job id comes back instead. Here it runs as a user would (its own
process, endpoint and key from the environment; httpx in the place of requests, the same
calls) against the emulator in both answer shapes, and so does the playground's CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image

from support.paths import REPO

ROOT = REPO

# The guide's sample, the endpoint from the environment, plus the follow-up GET it advises.
GUIDE_SAMPLE = """
import os, time, httpx as requests

base = os.environ["EVOLINK_BASE_URL"]
headers = {"Authorization": "Bearer " + os.environ["EVOLINK_API_KEY"]}
resp = requests.post(base + "/images/generations", headers=headers, json={
    "model": "doubao-seedream-5.0-lite",
    "prompt": "Generate a series of 4 images: a fox's day, morning to night",
    "n": 4,
})
result = resp.json()
if "data" in result:                      # the frames at once
    urls = [item["url"] for item in result["data"]]
else:                                     # a job id: the follow-up GET
    while result.get("status") not in ("completed", "failed"):
        time.sleep(0.05)
        result = requests.get(base + "/tasks/" + result["id"], headers=headers).json()
    urls = result["results"]
print("\\n".join(urls))
"""

SHAPES = {"task": set(), "immediate": {"evolink_immediate"}}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_guide_sample_gets_its_four_frames(emulator, shape):
    emulator.shapes = SHAPES[shape]
    env = {**os.environ, **emulator.env()}
    proc = subprocess.run([sys.executable, "-c", GUIDE_SAMPLE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    urls = proc.stdout.split()
    assert len(urls) == 4
    for url in urls:
        Image.open(io.BytesIO(httpx.get(url).content)).verify()  # a real image each
    assert bool(emulator.requests_for("evolink", "GET")) == (shape == "task")


@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_cli_run_of_the_issue_is_ok_in_both_shapes(emulator, tmp_path, shape):
    """`python -m playground run --provider evolink --frames 4`: an ok run with its four frames and
    the cost of four generated images, the row saying which shape came back."""
    emulator.shapes = SHAPES[shape]
    env = {**os.environ, **emulator.env(), "PLAYGROUND_DATA_DIR": str(tmp_path / "data")}
    env.pop("PLAYGROUND_PRICES", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "run",
            "--provider",
            "evolink",
            "--frames",
            "4",
            "--size",
            "256x256",
            "--prompt",
            "a fox's day, morning to night",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "ok" and out["frames_returned"] == 4 and out["images_billed"] == 4
    assert out["cost_usd"] == pytest.approx(4 * 0.032) and out["error"] == ""
    assert len([p for p in Path(out["image_dir"]).glob("frame_*") if ".preview" not in p.name]) == 4
    said = "immediate answer: frames in `data`" if shape == "immediate" else "task: `results` polled"
    with open(tmp_path / "data" / "runs.csv", encoding="utf-8", newline="") as f:
        row = list(csv.DictReader(f))[-1]
    assert row["run_id"] == out["run_id"] and said in row["billing_rule"]
