"""Issue 17's honest controls: fewer frames than beats runs with the first N beats (and says
which), `run` takes its frame count from the beats, the seed is said sent or not, and Compare
runs every arm at the size chosen."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from playground.base.config import Settings
from playground.base.types import GenerationRequest, RunRecord
from playground.core import Playground
from playground.experiments.compare import compare
from playground.present.compare import read_form
from playground.present.estimate import estimate_text
from playground.present.providers import common_sizes, default_sizes_note, size_choices, takes_seed
from playground.present.runs import format_summary, record_json, summary_line
from support.paths import REPO

SIX = ["wakes", "packs", "runs", "hides", "finds", "delivers"]


def test_plan_uses_first_n_beats_and_logs_every_beat(playground: Playground) -> None:
    request = GenerationRequest(prompt="A red panda courier. Flat style.", frames=4, beats=SIX, seed=7)
    plan = playground.plan(request)
    assert plan.sendable and plan.beats_used == (4, 6)
    assert "uses beats 1–4 of 6" in estimate_text(playground, request)
    sent = plan.calls[0].prompt
    assert "Image 4: hides" in sent and "finds" not in sent and "delivers" not in sent
    record = asyncio.run(playground.run(request)).record
    assert record.status == "ok" and record.frames_returned == 4
    assert playground.log.read().iloc[0]["beats"].count("delivers") == 1  # nothing typed is lost
    assert record.beats == SIX and record_json(record)["beats_used"] == 4
    assert "beats 1–4 of 6 used" in format_summary(record) and "beats 1–4 of 6 used" in summary_line(record)


def test_baseline_with_more_beats_sends_one_call_per_frame(playground: Playground) -> None:
    plan = playground.plan(GenerationRequest(prompt="A fox.", frames=2, beats=SIX, mode="baseline"))
    assert [c.prompt for c in plan.calls] == ["A fox. wakes", "A fox. packs"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "playground", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_run_takes_frames_from_beats(data_dir: Path) -> None:
    out = cli(
        "run",
        "--prompt",
        "A fox.",
        "--beat",
        "a",
        "--beat",
        "b",
        "--beat",
        "c",
        "--seed",
        "7",
        "--data-dir",
        str(data_dir),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["frames_requested"] == 3 and payload["frames_returned"] == 3 and payload["beats_used"] == 3
    assert payload["seed"] == 7 and payload["seed_sent"] == 7  # appended keys: the first ones keep their order
    assert list(payload)[:3] == ["run_id", "status", "frames_requested"]
    neither = cli("run", "--prompt", "A fox.", "--data-dir", str(data_dir))
    assert neither.returncode == 2 and neither.stderr.strip() == "error: give --frames N, or one --beat per frame"
    fewer = cli(
        "run",
        "--prompt",
        "A fox.",
        "--frames",
        "2",
        "--beat",
        "a",
        "--beat",
        "b",
        "--beat",
        "c",
        "--data-dir",
        str(data_dir),
    )
    assert fewer.returncode == 0 and "beats 1–2 of 3 used" in fewer.stdout


def test_seed_said_sent_or_not_and_shown_only_where_the_model_takes_one(emulator, data_dir: Path) -> None:
    assert takes_seed("local", "") and not takes_seed("byteplus", "") and not takes_seed("openai", "")
    assert takes_seed("nope", "")  # unknown: nothing hidden
    pg = Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir))
    local = asyncio.run(pg.run(GenerationRequest(prompt="A fox.", frames=2, seed=7))).record
    assert "seed 7 sent" in format_summary(local)
    seedream = asyncio.run(
        pg.run(GenerationRequest(prompt="A fox.", frames=2, seed=7, provider="byteplus", size="2048x2048"))
    ).record
    assert seedream.status == "ok" and seedream.seed_sent is None
    assert f"seed 7 not sent: {seedream.model} takes none" in format_summary(seedream)
    assert "seed 7 not sent" in summary_line(seedream)
    refused = RunRecord(provider="byteplus", model="m", seed=7, status="error", api_calls=0)
    assert "seed" not in format_summary(refused).split("<small>")[1]  # nothing was sent: nothing to say


def test_compare_arms_run_at_the_chosen_size(emulator, data_dir: Path) -> None:
    pg = Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir))
    arms = "local::sequence\nbyteplus::sequence\nopenai::baseline"
    specs = [("local", "", "sequence"), ("byteplus", "", "sequence"), ("openai", "", "baseline")]
    offered = common_sizes(pg, specs, 2)
    assert "1024x1024" in offered and all(s in size_choices("local", "") for s in offered)
    assert "1024x1024 (local, openai) and 2048x2048 (byteplus)" in default_sizes_note(specs)
    form = read_form(["A fox."], "a\nb", 2, 7, arms, "1024x1024")
    result = asyncio.run(compare(pg, form.story, form.arms(), frames=form.frames, seed=form.seed, size=form.size))
    assert [r.size for r in result.records] == ["1024x1024"] * 3
    assert [r.status for r in result.records] == ["ok"] * 3
    defaults = read_form(["A fox."], "a\nb", 2, 7, arms, "")
    assert defaults.size == "" and {p.cell.size for p in defaults.plans(pg, None)} == {""}
