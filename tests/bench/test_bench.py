"""The benchmark: `python -m playground bench --quick` runs every part and prints every row
(timings are not asserted: they belong to the benchmark, not to tests); the polling policy
it reports on keeps its promise for long jobs; the synthetic log is in the real format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench import logscale, remote
from playground.base.types import RUN_COLUMNS
from playground.store.runlog import RunLog
from support.paths import REPO

EXPECTED = [  # (part, words every row of that kind has), one entry per row
    *[
        ("1 single run", f"{style.label}{at}: {what}")
        for at in ("", " at L=0.6 s")
        for style in remote.STYLES
        for what in (
            "core / reference (in-process)",
            "core above provider time",
            "CLI / reference script (fresh interpreters)",
            "CLI above provider time",
        )
    ],
    ("2 polling", "wavespeed, job of L="),
    ("2 polling", "wavespeed, job of L="),
    ("2 polling", "evolink, job of L="),
    ("2 polling", "evolink, job of L="),
    ("2 polling", "worst case, any job of 2-10 s"),
    ("2 polling", "worst case, any job of 10-30 s"),
    ("2 polling", "worst case, any job of 30-240 s"),
    ("3 fan-out", "4-arm comparison"),
    ("3 fan-out", "baseline of 8 single-image calls"),
    ("3 fan-out", "4-arm comparison (4 frames each) at L="),
    ("3 fan-out", "baseline of 8 single-image calls at L="),
    *[
        ("4 log scale", f"rows: {what}")
        for what in (
            "append one row",
            "append vs empty log",
            "History",
            "reopen a run",
            "daily spend cap",
            "whole-CSV read",
            "resume an experiment",
            "Analysis summary, cold",
            "Analysis summary, warm",
        )
    ],
    ("5 start-up", "python app.py to first HTTP 200 / bare Gradio app"),
    ("5 start-up", "start-up work"),
    ("6 offline", "local provider at 1024x1024"),
    ("6 offline", "8 frames 2048x2048 JPEG"),
    ("6 offline", "8 frames 2048x2048 PNG"),
    ("7 UI delivery", "bytes the gallery sends"),
    ("7 UI delivery", "originals on disk"),
    ("8 limits", "wall / least the limits allow"),
    ("8 limits", "rows not ok"),
    *[
        ("9 inflight", what)
        for what in (
            "whole ok rows in the log",
            "slowest run / L",
            "slowest bare httpx request",
            "CPU of this process",
            "CPU of the emulator's process",
            "peak memory of this process",
        )
    ],
    ("10 firstreq", "process start -> first request"),
]


@pytest.fixture(scope="module")
def quick_table() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "playground", "bench", "--quick"], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_quick_run_prints_every_row_once(quick_table: str) -> None:
    lines = [line for line in quick_table.splitlines() if line[:1].isdigit()]
    assert "FAILED" not in quick_table
    unmatched = list(lines)
    for part, words in EXPECTED:
        match = next((line for line in unmatched if line.startswith(part) and words in line), None)
        assert match is not None, f"no row for {part}: {words}"
        unmatched.remove(match)
    assert unmatched == []
    assert "targets met" in quick_table.splitlines()[-1]


def test_quick_run_measured_what_it_says(quick_table: str) -> None:
    """Rows carry numbers (not n/a) except the ones --quick skips on purpose."""
    skipped = [line for line in quick_table.splitlines() if line[:1].isdigit() and " n/a " in line]
    assert all("not run with --quick" in line for line in skipped)
    # the fresh-interpreter pair (2 rows) for openai and wavespeed at L and all 3 styles at the long L; PNG scoring
    assert len(skipped) == 2 * 2 + 3 * 2 + 1


def test_reference_script_writes_the_frames(tmp_path: Path) -> None:
    """The reference client as a script (what the CLI is compared with): a fresh interpreter
    that sends the requests to the emulator and writes every frame."""
    from bench.common import emulator, python_env, run_python

    with emulator(0.05) as emu:
        _, done = run_python(["-m", "bench.reference", "byteplus", "3", str(tmp_path / "out")], python_env(emu.env()))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["frame_01.jpg", "frame_02.jpg", "frame_03.jpg"]
    assert all(p.stat().st_size > 1000 for p in (tmp_path / "out").iterdir())


@pytest.mark.parametrize("latency", [10.0, 10.5, 13.3, 20.0, 47.0, 120.0, 250.0])
def test_poll_policy_notices_long_jobs_within_a_tenth_at_about_a_poll_a_second(latency: float) -> None:
    from playground.providers.http import HttpProvider, poll_job

    noticed, polls = remote._simulate(poll_job, HttpProvider.poll_policy, latency)
    assert latency <= noticed < latency * 1.1
    assert polls / noticed <= 1.15


def test_synthetic_log_reads_like_a_real_one(tmp_path: Path) -> None:
    path = tmp_path / "data" / "runs.csv"
    logscale.write_log(path, 2500, tmp_path)
    frame = pd.read_csv(path)
    assert list(frame.columns) == RUN_COLUMNS and len(frame) == 2500 and frame["run_id"].is_unique
    log = RunLog(path.parent)
    assert log.latest(1).iloc[0]["run_id"] == frame["run_id"].iloc[-1]
    assert log.spent_since("1970-01-01T00:00:00Z") == pytest.approx(frame["cost_usd"].sum())


def test_least_time_the_limits_allow() -> None:
    """The denominator of the limits part: waves of `concurrent`, and no create before the window allows it."""
    from bench.scale import least_time

    assert least_time(48, 5, 60, 60.0, 2.0) == 20.0  # 10 waves of 5 (the rate never binds)
    assert least_time(96, 200, 60, 60.0, 1.0) == 61.0  # 60 at once, the other 36 a minute later
    assert least_time(1, 5, 60, 60.0, 2.0) == 2.0
