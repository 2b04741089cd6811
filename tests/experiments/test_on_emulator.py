"""Experiments against the loopback emulator: several providers side by side, a failing arm,
the compare/batch commands, resume after a failure and after Ctrl-C."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

from playground.base.config import Settings
from playground.base.prompts import Story
from playground.core import Playground
from playground.experiments.cells import parse_arms
from playground.experiments.compare import compare
from playground.present.runs import APPENDED_JSON_KEYS, RUN_JSON_KEYS
from support.faults import REPO, cli

STORY = Story(character="a fox courier with a blue scarf", style="flat colours", beats=("a parcel", "a roof", "a door"))
ARMS = ["byteplus::sequence", "evolink::sequence", "openai::baseline", "fal::baseline", "local::baseline"]


def playground_on(emulator, data_dir: Path) -> Playground:  # type: ignore[no-untyped-def]
    emulator.image_size = (256, 256)  # frames of any requested size come back small: fast tests
    return Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir))


def rows(data_dir: Path) -> list[dict[str, str]]:
    with open(data_dir / "runs.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_several_providers_side_by_side_with_one_seed(emulator, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    pg = playground_on(emulator, data_dir)
    result = asyncio.run(compare(pg, STORY, parse_arms(ARMS), frames=3, seed=7))
    assert [o.cell.arm.provider for o in result.outcomes] == ["byteplus", "evolink", "openai", "fal", "local"]
    assert [(r.status, r.frames_returned) for r in result.records] == [("ok", 3)] * 5
    assert {r["experiment_id"] for r in rows(data_dir)} == {result.experiment_id}
    fal_bodies = [r.json for r in emulator.requests_for("fal", "POST")]
    assert len(fal_bodies) == 3 and all(body["seed"] == 7 for body in fal_bodies)  # baseline: 3 calls, one seed
    assert len(emulator.requests_for("byteplus", "POST")) == 1  # sequence: one call for 3 frames


def test_a_failing_arm_says_why_and_the_others_finish(emulator, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    emulator.set_fault("openai", "auth")
    pg = playground_on(emulator, data_dir)
    result = asyncio.run(compare(pg, STORY, parse_arms(ARMS[:3]), frames=3, seed=None))
    status = {r.provider: r for r in result.records}
    assert status["byteplus"].status == status["evolink"].status == "ok"
    assert status["openai"].status == "error" and "key rejected" in status["openai"].error
    assert emulator.env()["OPENAI_API_KEY"] not in status["openai"].error


def test_compare_command_prints_one_json_object(emulator, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    emulator.image_size = (256, 256)
    args = [
        "compare",
        "--prompt",
        "a fox courier",
        "--frames",
        "2",
        "--beat",
        "a parcel",
        "--beat",
        "a door",
        "--arm",
        "byteplus::sequence",
        "--arm",
        "fal::baseline",
        "--seed",
        "3",
        "--json",
    ]
    result = cli(args, emulator.env(), data_dir)
    assert result.code == 0, result.err
    out = result.json()
    assert [run["arm"] for run in out["runs"]] == [
        "byteplus:seedream-5-0-260128:sequence",
        "fal:fal-ai/flux-pro/v1.1:baseline",
    ]
    assert all(list(run) == [*RUN_JSON_KEYS, *APPENDED_JSON_KEYS, "beats_used"] for run in out["runs"])
    assert {r["experiment_id"] for r in rows(data_dir)} == {out["experiment_id"]}


def test_compare_command_exit_codes(emulator, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    emulator.image_size = (256, 256)
    base = ["compare", "--prompt", "a fox", "--frames", "2", "--json"]
    bad = cli(base + ["--arm", "byteplus::sequence", "--arm", "openai::sequence"], emulator.env(), data_dir)
    assert bad.code == 2 and "no native sequential mode" in bad.err and "1 refused run(s) logged" in bad.err
    refused_arm = rows(data_dir)  # the log says what failed, as `run` logs a refused run
    assert [(r["arm"].split(":")[0], r["arm"].split(":")[-1], r["status"], r["api_calls"]) for r in refused_arm] == [
        ("openai", "sequence", "error", "0")
    ]
    assert "no native sequential mode" in refused_arm[0]["error"] and refused_arm[0]["experiment_id"] in bad.err
    assert emulator.requests == []  # nothing sent, not even the good arm
    emulator.set_fault(None, "auth")
    failed = cli(base + ["--arm", "byteplus::sequence", "--arm", "stability::baseline"], emulator.env(), data_dir)
    assert failed.code == 1 and [r["status"] for r in failed.json()["runs"]] == ["error", "error"]
    emulator.clear_faults()
    priced = {**emulator.env(), "PLAYGROUND_CONFIRM_USD": "0.01"}
    refused = cli(base + ["--arm", "byteplus::sequence"], priced, data_dir)
    assert refused.code == 2 and "PLAYGROUND_CONFIRM_USD" in refused.err and "--yes" in refused.err
    assert len(rows(data_dir)) == 3  # declined above PLAYGROUND_CONFIRM_USD: sent and logged nothing
    assert cli(base + ["--arm", "byteplus::sequence", "--yes"], priced, data_dir).code == 0


def batch_file(tmp_path: Path, arms: list[str], repeats: int, concurrency: int = 4) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(
        f'arms = {arms!r}\nrepeats = {repeats}\nseed = 1\nconcurrency = {concurrency}\nsize = "512x512"\n'
        '[[stories]]\nid = "fox"\ncharacter = "a fox courier"\nbeats = ["a parcel", "a door"]\n',
        encoding="utf-8",
    )
    return path


def test_batch_resumes_after_a_failed_cell(emulator, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = batch_file(tmp_path, ["byteplus:seedream-4-5-251128:sequence", "local::sequence"], repeats=2)
    emulator.set_fault("byteplus", "auth", count=1)
    first = cli(["batch", str(path), "--json"], emulator.env(), data_dir)
    assert first.code == 0, first.err
    assert (first.json()["ok"], first.json()["error"]) == (3, 1)
    second = cli(["batch", str(path), "--json"], emulator.env(), data_dir)
    assert second.code == 0 and (second.json()["skipped"], second.json()["ran"], second.json()["ok"]) == (3, 1, 1)
    assert len(emulator.requests_for("byteplus", "POST")) == 3  # 2 first time (1 refused), 1 on resume
    third = cli(["batch", str(path), "--json"], emulator.env(), data_dir)
    assert third.json()["ran"] == 0 and len(rows(data_dir)) == 5


def test_ctrl_c_keeps_finished_rows_and_resumes_cleanly(emulator, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C while the second of six cells is in flight (held at the emulator until the signal
    is sent: concurrency 1 sends it only once the first row is logged): the first row stays, the
    second is logged as cancelled, the others never start; the same command then resumes with the
    five left. Every step waits on an event; the timeouts only bound a failure."""
    path = batch_file(tmp_path, ["byteplus:seedream-4-5-251128:sequence"], repeats=6, concurrency=1)
    hold = emulator.hold("byteplus", after=1)  # the first cell goes through, the next waits
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env = {**base, "PYTHONPATH": str(REPO), **emulator.env()}
    proc = subprocess.Popen(
        [sys.executable, "-m", "playground", "batch", str(path), "--json", "--data-dir", str(data_dir)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert hold.arrived.wait(120), "the second cell never reached the emulator"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        hold.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "re-run the same command to resume" in err.lower()
    assert [r["status"] for r in rows(data_dir)] == ["ok", "cancelled"]
    again = cli(["batch", str(path), "--json"], emulator.env(), data_dir)
    assert again.code == 0 and again.json()["skipped"] == 1
    ok = [r for r in rows(data_dir) if r["status"] == "ok"]
    assert sorted(int(r["repeat"]) for r in ok) == list(range(6))  # each cell exactly once
