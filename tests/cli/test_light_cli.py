"""Issue 16: `run`, `compare` and `batch` import only what they need before their first request
(pandas, scipy and the metrics after it, or in the scoring step), checked with `python -X
importtime` against the emulator. Not a timing test: which modules, not how long (the bench
measures the time to the first request)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.faults import REPO

# Never before the first request: the dataframe and science stack, the UI, the metrics (scoring
# comes after the frames), deep-learning parts and every provider SDK (the adapters speak HTTP).
HEAVY = (
    "pandas",
    "scipy",
    "numpy",
    "gradio",
    "torch",
    "transformers",
    "matplotlib",
    "sklearn",
    "skimage",
    "openai",
    "fal_client",
    "wavespeed",
    "byteplussdkarkruntime",
    "google.genai",
    "replicate",
    "playground.metrics",
    "playground.ui",
    "playground.experiments.analysis",
    "emulator",
)

BATCH = """id = "light-cli"
arms = ["byteplus::sequence", "wavespeed::sequence", "replicate::sequence"]
[[stories]]
id = "fox"
character = "a red fox"
style = "watercolour"
beats = ["the fox wakes"]
"""

COMMANDS = {
    "run": ["run", "--provider", "byteplus", "--frames", "1", "--prompt", "a fox"],
    "compare": [
        "compare",
        "--arm",
        "byteplus::sequence",
        "--arm",
        "wavespeed::sequence",
        "--arm",
        "gemini::sequence",
        "--prompt",
        "a fox",
        "--frames",
        "1",
        "--yes",
    ],
    "batch": ["batch", "{batch}", "--yes", "--json"],
}


def imported_before_first_request(stderr: str) -> list[str]:
    before, marker, _ = stderr.partition("# first request")
    assert marker, f"no request was sent:\n{stderr[-2000:]}"
    return [line.rsplit("|", 1)[-1].strip() for line in before.splitlines() if line.startswith("import time:")]


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_cli_sends_its_first_request_before_any_heavy_import(command, emulator, tmp_path):
    emulator.latency_s = 0.05
    batch = tmp_path / "batch.toml"
    batch.write_text(BATCH)
    args = [a.format(batch=batch) for a in COMMANDS[command]]
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            str(Path(REPO, "bench", "first_request.py")),
            *args,
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env={**env, **emulator.env(), "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = imported_before_first_request(proc.stderr)
    assert "httpx" in modules and "playground.core.run" in modules  # the hook saw the real imports
    assert heavy(modules) == [], f"{command} imported these before its first request"


def test_may_hold_is_a_byte_search_that_never_misses_a_row(tmp_path):
    """The batch's resume check skips parsing the log only when no row can hold the experiment id."""
    from playground.base.types import RunRecord
    from playground.store.runlog import RunLog

    log = RunLog(tmp_path)
    assert not log.may_hold("exp-1")  # no log yet
    log.append(RunRecord(experiment_id="=exp-1", provider="local", status="ok"))  # neutralised as '=exp-1
    assert log.may_hold("exp-1") and log.may_hold("=exp-1") and not log.may_hold("exp-2")
    assert log.may_hold('say "hi"') and log.may_hold("two\nlines")  # written otherwise: always "may"
