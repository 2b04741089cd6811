"""Issue 17's polish findings, one test each: the summary of an error row, a cancelled row's
cost words, `providers` into a closed pipe, `score`'s digits, `bench-story`'s hint where to get
the file, `bench --port`, and no warning of ours from `report`."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from PIL import Image

from bench import common
from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.cli.main import main
from playground.core import Playground
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from playground.experiments.votes import add_vote
from playground.present.runs import format_summary
from support.paths import REPO


def cli(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "playground", *args],
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def test_refused_row_summary_has_no_empty_parentheses_nor_empty_folder() -> None:
    refused = RunRecord(
        run_id="r1",
        provider="openai",
        model="gpt-image-1",
        mode="sequence",
        status="error",
        frames_requested=4,
        error="takes no reference images",
        cost_source="",
        image_dir="",
    )
    text = format_summary(refused)
    assert "(;" not in text and "()" not in text and "frames in" not in text
    assert "**Cost** $0.0000" in text and "takes no reference images" in text


def test_cancelled_cost_source_is_not_nested_in_parentheses() -> None:
    cancelled = RunRecord(
        run_id="r2",
        provider="byteplus",
        model="seedream",
        mode="sequence",
        status="cancelled",
        frames_requested=4,
        frames_returned=1,
        api_calls=1,
        cost_usd=0.14,
        cost_source="possibly billed (estimate)",
        estimate_usd=0.14,
        image_dir="/d/runs/r2",
    )
    text = format_summary(cancelled)
    assert "$0.1400 (possibly billed, estimate)" in text and "((" not in text and "))" not in text
    assert "**Estimate** $0.1400" in text and "frames in `runs/r2`" in text


def test_providers_into_a_closed_pipe_ends_quietly() -> None:
    """`providers | head -1`: the reader has gone before the first write (made certain here by
    closing the read end first); the old code ended in a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = cli("providers", stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0 and done.stderr == ""


def test_score_prints_four_decimals_and_json_keeps_full_precision(tmp_path: Path) -> None:
    paths = []
    for i, colour in enumerate([(200, 40, 40), (190, 60, 50), (30, 30, 200)]):
        path = tmp_path / f"f{i}.png"
        image = Image.new("RGB", (96, 96), colour)
        image.paste((250, 250, 250), (20 + 10 * i, 20, 60, 70))
        image.save(path)
        paths.append(str(path))
    text = cli("score", *paths)
    assert text.returncode == 0, text.stderr
    values = [line.split()[1] for line in text.stdout.splitlines() if line.split()[0].endswith("_consistency")]
    assert len(values) == 3 and all(len(v.split(".")[1]) == 4 for v in values), text.stdout
    assert "deep metrics" in text.stdout or "clip_i" in text.stdout  # the text note still printed
    raw = cli("score", *paths, "--json")
    assert any(len(str(v).split(".")[-1]) > 4 for v in json.loads(raw.stdout).values() if isinstance(v, float))


def test_bench_story_without_the_file_says_where_to_get_it(tmp_path: Path) -> None:
    done = cli(
        "bench-story",
        str(tmp_path / "consistory_plus.yaml"),
        "--arm",
        "local::sequence",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode == 2
    assert "1Prompt1Story" in done.stderr and "docs/consistory.md" in done.stderr


def test_bench_port_is_an_option_and_the_emulator_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "--port" in cli("bench", "--help").stdout
    bad = cli("bench", "--port", "70000", "--parts", "offline")
    assert bad.returncode != 0 and "--port must be 0" in bad.stderr
    with socket.socket() as probe:  # a port free now; the emulator binds it next
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(common, "EMULATOR_PORT", port)
    with common.emulator_process(0.0, size="64x64", draw_first=False) as emulator:
        assert emulator.url.rstrip("/").endswith(f":{port}")


def test_report_with_votes_prints_no_pandas_warning(playground: Playground, capsys: pytest.CaptureFixture[str]) -> None:
    seq, base = Arm("local", "", "sequence"), Arm("local", "", "baseline")
    result = asyncio.run(
        compare(playground, Story("a fox", beats=("a", "b")), [seq, base], frames=2, seed=1, size="512x512")
    )
    add_vote(playground, result.experiment_id, result.records[0].run_id, result.records[1].run_id, "left")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old `.fillna("")` on a float matrix raised Pandas4Warning here
        assert (
            main(["report", "--experiment", result.experiment_id, "--data-dir", str(playground.settings.data_dir)]) == 0
        )
    assert "pairwise win rate" in capsys.readouterr().out
