"""Provider faults through the CLI: `python -m playground run ... --json` in a subprocess,
with the base-URL variables pointing at the in-process emulator. One JSON object on stdout,
a one-line reason on stderr, the documented exit code, one row in runs.csv."""

from __future__ import annotations

import csv
import json

import pytest

from support.faults import cli

RUN = ["run", "--provider", "byteplus", "--frames", "3", "--size", "256x256", "--prompt", "a fox courier", "--json"]


def logged(data_dir) -> list[dict[str, str]]:
    with open(data_dir / "runs.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_rejected_key(emulator, data_dir):
    emulator.set_fault("byteplus", "auth")
    env = emulator.env()
    result = cli(RUN, env, data_dir)
    assert result.code == 1
    out = result.json()
    assert out["status"] == "error" and "key rejected" in out["error"] and "ARK_API_KEY" in out["error"]
    assert result.err.startswith("error: ") and "key rejected" in result.err
    for text in (result.out, result.err, (data_dir / "runs.csv").read_text()):
        assert env["ARK_API_KEY"] not in text
    assert [r["status"] for r in logged(data_dir)] == ["error"]


def test_rate_limited_then_served(emulator, data_dir):
    emulator.set_fault("byteplus", "rate_limit", count=1, retry_after=0.2)
    result = cli(RUN, emulator.env(), data_dir)
    assert result.code == 0, result.err
    assert result.json()["status"] == "ok" and result.json()["frames_returned"] == 3
    assert len(emulator.requests_for("byteplus", "POST")) == 2


def test_refused_frame_is_partial_and_exits_zero(emulator, data_dir):
    emulator.set_fault("byteplus", "refused")
    result = cli(RUN, emulator.env(), data_dir)
    assert result.code == 0
    out = result.json()
    assert out["status"] == "partial" and out["frames_returned"] == 2 and out["images_billed"] == 2
    row = logged(data_dir)[0]
    assert "Sensitive" in json.loads(row["frame_errors"])["2"]


def test_stuck_job_ends_at_the_deadline(emulator, data_dir):
    emulator.set_fault("evolink", "stuck")
    args = ["run", "--provider", "evolink", "--frames", "2", "--size", "256x256", "--prompt", "a fox", "--json"]
    result = cli(args, {**emulator.env(), "PLAYGROUND_RUN_DEADLINE_S": "1.5"}, data_dir, timeout=20)
    assert result.code == 1
    assert "1.5 s deadline" in result.json()["error"]
    assert [r["status"] for r in logged(data_dir)] == ["error"]


def test_server_error_says_it_may_be_billed(emulator, data_dir):
    emulator.set_fault("byteplus", "server")
    result = cli(RUN, emulator.env(), data_dir)
    assert result.code == 1 and "may have been billed" in result.json()["error"]
    assert len(emulator.requests_for("byteplus", "POST")) == 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["--frames", "16"], "frames must be between 1 and 15"),
        (["--frames", "3", "--size", "banana"], "size 'banana' is not valid"),
    ],
)
def test_bad_input_exits_2_and_sends_nothing(emulator, data_dir, args, words):
    base = ["run", "--provider", "byteplus", "--prompt", "a fox", "--json", *args]
    result = cli(base, emulator.env(), data_dir)
    assert result.code == 2 and words in result.err and result.out == ""
    assert emulator.requests == []
    assert [r["status"] for r in logged(data_dir)] == ["error"]


def test_an_unconfigured_provider_names_its_variable(emulator, data_dir):
    env = {k: v for k, v in emulator.env().items() if k != "ARK_API_KEY"}
    result = cli(RUN, env, data_dir)
    assert result.code == 2 and "set ARK_API_KEY" in result.err
    assert emulator.requests == []
