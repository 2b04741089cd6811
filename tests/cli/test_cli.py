"""The CLI as a user runs it: a real subprocess, exit codes, --json, providers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from support.paths import REPO

ROOT = REPO


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "playground", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_run_json_prints_one_object_and_logs_the_row(data_dir: Path) -> None:
    out = cli(
        "run",
        "--provider",
        "local",
        "--frames",
        "4",
        "--prompt",
        "A robot chef. Watercolour.",
        "--beat",
        "wakes up",
        "--beat",
        "cooks",
        "--seed",
        "3",
        "--data-dir",
        str(data_dir),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    for key in ("run_id", "status", "frames_requested", "frames_returned", "cost_usd", "latency_s", "image_dir"):
        assert key in payload
    assert payload["status"] == "ok" and payload["frames_returned"] == 4
    assert len(list(Path(payload["image_dir"]).glob("frame_0?.png"))) == 4
    log = pd.read_csv(data_dir / "runs.csv")  # no options: the contract
    assert list(log["run_id"]) == [payload["run_id"]]


def test_readable_summary_without_json(data_dir: Path) -> None:
    out = cli("run", "--frames", "2", "--prompt", "A fox", "--data-dir", str(data_dir))
    assert out.returncode == 0 and out.stdout.startswith("OK  2/2 frames")


def test_bad_arguments_exit_2_with_one_line_reason(data_dir: Path) -> None:
    for args in (["--frames", "0"], ["--frames", "16"], ["--frames", "x"], ["--provider", "nope", "--frames", "2"]):
        out = cli("run", "--prompt", "A fox", "--data-dir", str(data_dir), *args)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.strip().count("\n") == 0 and out.stderr.startswith("error:")
    empty = cli("run", "--prompt", " ", "--frames", "2", "--data-dir", str(data_dir))
    assert empty.returncode == 2 and "prompt is empty" in empty.stderr


def test_data_dir_from_environment(tmp_path: Path) -> None:
    out = cli("run", "--frames", "1", "--prompt", "A fox", env={"PLAYGROUND_DATA_DIR": str(tmp_path / "env")})
    assert out.returncode == 0 and (tmp_path / "env" / "runs.csv").exists()


def test_providers_lists_models_prices_and_configuration() -> None:
    out = cli("providers", "--json", env={"ARK_API_KEY": ""})
    rows = json.loads(out.stdout)
    local = [r for r in rows if r["provider"] == "local"]
    assert local and local[0]["configured"] is True and local[0]["price_usd"] == 0.0
    text = cli("providers").stdout
    assert "local" in text and "procedural-v1" in text


def test_emulator_command_serves_and_prints_base_urls() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "playground", "emulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert "emulator on http://127.0.0.1:" in lines[0]
        assert lines[1].startswith("export ARK_BASE_URL=http://127.0.0.1:")
    finally:
        proc.kill()
        proc.wait(timeout=10)
