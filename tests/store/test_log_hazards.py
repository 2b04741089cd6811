"""No text and no damage breaks the run log (issue 13: a bare CR, a very long refused prompt,
lone surrogates, bad bytes and extra columns in an old runs.csv), through the launched app's API
as a stranger calls it (Space defaults: SPACE_ID set) and through the CLI. Every run still ends
as exactly one row, every field round-trips (a lone surrogate as its escape), a refused long
prompt is logged short with its length, and a damaged row is set aside with a warning while
Generate and History go on, nothing already logged lost or altered."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from playground.base.config import Settings
from playground.base.types import RUN_COLUMNS, RunRecord
from playground.store.runlog import RunLog
from support.faults import cli
from support.gradio_raw import SPACE, call


def generate(url: str, prompt: str, beats: str = "") -> str:
    """Press Generate through the public API (the offline `local` provider, 2 frames)."""
    from gradio_client import Client

    job = Client(url, verbose=False).submit(prompt, beats, 2, "local", "", "sequence", 7, "", [], api_name="/generate")
    job.result()
    return str(job.outputs())


def raw_generate_inputs(prompt: str) -> list[Any]:
    """All inputs of the Generate event, as the page sends them (the three states last)."""
    return [prompt, "", 2, "local", "", "sequence", 7, "", [], None, None, None]


def history(url: str) -> tuple[list[dict[str, str]], list[str]]:
    """The History tab's Refresh (a private event, called as a stranger would): rows and warnings.
    The filters empty (any), runs refused before sending shown."""
    answer = call(url, "refreshed", ["", "", "", "", "", "", True])  # six filters (tag last), refused shown
    assert answer.success, answer.error
    table = answer.output[0]
    return [dict(zip(table["headers"], row)) for row in table["data"]], answer.warnings


# -- finding 2: a bare CR (and LF, NUL) round-trips; a long refusal is logged short ------------------


def test_a_bare_cr_lf_and_nul_round_trip_through_the_api_and_the_index(space_app: str, data_dir: Path) -> None:
    prompts = ["one\rtwo", '=cr\r\nlf, "quoted"\nthird', "nul\x00byte", "\rstarts with CR"]
    for prompt in prompts:
        assert "ok: 2 of 2 frames" in generate(space_app, prompt)
    (data_dir / "runs.csv.idx").unlink()  # the index is a cache: rebuilt from the CSV alone
    assert "ok: 2 of 2 frames" in generate(space_app, "after the index was deleted")
    rows, warnings = history(space_app)
    assert len(rows) == 5 and {r["status"] for r in rows} == {"ok"} and not warnings  # no fake run
    assert [r["prompt"] for r in rows][::-1][:4] == prompts
    logged = RunLog(data_dir).read()
    assert list(logged["prompt"]) == prompts + ["after the index was deleted"]


def test_a_refused_200000_character_prompt_is_logged_short_and_reads_go_on(space_app: str, data_dir: Path) -> None:
    assert "ok: 2 of 2 frames" in generate(space_app, "a fox before")
    size_before = (data_dir / "runs.csv").stat().st_size
    refused = call(space_app, "generate", raw_generate_inputs("x" * 200_000))
    assert not refused.success and "the limit is 4000" in refused.error
    assert (data_dir / "runs.csv").stat().st_size - size_before < 5_000  # about 1 KB, not 200 KB
    row = RunLog(data_dir).latest(1).iloc[0]
    assert row["status"] == "error" and row["prompt"] == "x" * 1000 + "... [200000 characters]"
    size_before = (data_dir / "runs.csv").stat().st_size
    odd_model = raw_generate_inputs("a fox")
    odd_model[4] = "m" * 200_000  # any refused input: the model id is echoed in the error too
    assert not call(space_app, "generate", odd_model).success
    assert (data_dir / "runs.csv").stat().st_size - size_before < 5_000
    assert "ok: 2 of 2 frames" in generate(space_app, "a fox after")  # the refusal as last row breaks nothing
    rows, _ = history(space_app)
    assert [r["prompt"][:12] for r in rows] == ["a fox after", "a fox", "x" * 12, "a fox before"]


def old_row(run_id: str, prompt: str, columns: list[str] = RUN_COLUMNS) -> dict[str, str]:
    today = datetime.now(UTC).strftime("%Y-%m-%dT01:00:00Z")
    return {
        **{c: "" for c in columns},
        "run_id": run_id,
        "created_at": today,
        "provider": "local",
        "model": "procedural-v1",
        "mode": "sequence",
        "prompt": prompt,
        "status": "error",
    }


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path.read_bytes()


def test_a_log_with_a_field_over_the_csv_limit_is_still_read(data_dir: Path) -> None:
    # an older version (fewer columns) logged a refused 200,000-character prompt whole, as its last row
    old = RUN_COLUMNS[:21]
    write_csv(data_dir / "runs.csv", old, [old_row("earlier", "a fox", old), old_row("long", "y" * 200_000, old)])
    done = cli(["run", "--frames", "2", "--prompt", "a fox after", "--json"], SPACE, data_dir)  # migrates it
    assert done.code == 0, done.err
    long_last = data_dir / "long.csv"
    write_csv(long_last, RUN_COLUMNS, [old_row("long-2", "z" * 200_000)])
    with open(data_dir / "runs.csv", "ab") as f:  # another tool adds a row: the index learns of it on a read
        f.write(long_last.read_bytes().split(b"\n", 1)[1])
    report = cli(["report", "--json"], SPACE, data_dir)
    assert report.code == 0, report.err
    assert cli(["run", "--frames", "2", "--prompt", "a fox at last"], SPACE, data_dir).code == 0
    logged = RunLog(data_dir).read()
    assert list(logged["run_id"])[:2] == ["earlier", "long"] and list(logged["run_id"])[3] == "long-2"
    assert logged["prompt"][1] == "y" * 200_000 and logged["prompt"][3] == "z" * 200_000


# -- finding 5: lone surrogates never lose the row -----------------------------------------------------


def test_a_prompt_with_undecodable_bytes_from_the_shell_is_logged(data_dir: Path) -> None:
    # argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)
    done = cli(["run", "--frames", "2", "--prompt", "caf\udce9 fox", "--json"], SPACE, data_dir)
    assert done.code == 0, done.err
    logged = RunLog(data_dir).read()
    assert len(logged) == 1 and logged["prompt"][0] == "caf\\udce9 fox" and logged["status"][0] == "ok"


def test_a_lone_surrogate_in_a_prompt_sent_to_the_api_is_logged(space_app: str, data_dir: Path) -> None:
    answer = call(
        space_app,
        "generate",
        raw_generate_inputs(""),
        raw_json='["\\ud800 fox", "", 2, "local", "", "sequence", 7, "", [], null, null, null]',
    )
    assert answer.success, answer.error
    logged = RunLog(data_dir).read()
    assert len(logged) == 1 and logged["prompt"][0] == "\\ud800 fox" and logged["status"][0] == "ok"
    rows, _ = history(space_app)
    assert [r["prompt"] for r in rows] == ["\\ud800 fox"]


def test_a_lone_surrogate_in_a_provider_error_keeps_the_possibly_billed_row(emulator, data_dir: Path) -> None:
    emulator.set_fault("wavespeed", "body_error", code=500, message="upstream \ud800 broke")
    done = cli(
        ["run", "--provider", "wavespeed", "--frames", "2", "--prompt", "a fox"], {**emulator.env(), **SPACE}, data_dir
    )
    assert done.code == 1 and "\\ud800" in done.err
    log = RunLog(data_dir)
    logged = log.read()
    assert len(logged) == 1
    row = logged.iloc[0]
    assert row["status"] == "error" and "upstream \\ud800 broke" in row["error"]
    assert row["cost_source"] == "possibly billed (estimate)" and row["cost_usd"] > 0
    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    assert log.spent_since(today) == pytest.approx(row["cost_usd"])  # the caps see it


# -- finding 9: a damaged row is set aside, the app goes on -----------------------------------------


def damaged_rows(width: int) -> list[bytes]:
    """A row with a byte that is not UTF-8, a row with two extra cells, a torn line."""
    return [
        b"bad-byte,,2026-01-02T00:00:00Z,local,procedural-v1,sequence,caf\xe9" + b"," * (width - 7) + b"\n",
        b"extra,,2026-01-02T00:00:00Z,local,procedural-v1,sequence,x" + b"," * (width + 1) + b"\n",
        b"torn,,2026-01-02T00:00:00Z,lo\n",
    ]


def test_an_old_log_with_damaged_rows_keeps_generate_and_history_working(data_dir: Path) -> None:
    from support.app import launch_app

    old = RUN_COLUMNS[:21]  # an older version's runs.csv: it is migrated by the first Generate
    good = [old_row("good-1", 'a fox, "one"', old), old_row("good-2", "a fox\ntwo", old)]
    write_csv(data_dir / "runs.csv", old, good[:1])
    with open(data_dir / "runs.csv", "ab") as f:
        for raw in damaged_rows(len(old)):
            f.write(raw)
    write_csv(data_dir / "extra.csv", old, good[1:])  # a good row after the damaged ones
    with open(data_dir / "runs.csv", "ab") as f:
        f.write((data_dir / "extra.csv").read_bytes().split(b"\n", 1)[1])
    app, url = launch_app(Settings.from_env(env=SPACE, data_dir=data_dir))
    try:
        assert "ok: 2 of 2 frames" in generate(url, "a fox today")
        rows, warnings = history(url)
    finally:
        app.close()
    assert [r["run_id"] for r in rows][1:] == ["good-2", "good-1"] and rows[0]["status"] == "ok"
    assert warnings and "3 damaged row(s)" in warnings[0] and "runs.csv.damaged" in warnings[0]
    migrated = (data_dir / "runs.csv").read_bytes()
    aside = (data_dir / "runs.csv.damaged").read_bytes()
    for raw in damaged_rows(len(old)):
        assert raw in migrated and raw in aside  # kept byte for byte, and copied aside once
        assert aside.count(raw) == 1
    logged = RunLog(data_dir).read()
    assert list(logged["run_id"][:2]) == ["good-1", "good-2"]
    assert list(logged["prompt"][:2]) == ['a fox, "one"', "a fox\ntwo"]


def test_a_damaged_log_keeps_the_cli_working_with_a_warning(emulator, data_dir: Path) -> None:
    log = RunLog(data_dir)
    log.append(
        RunRecord(run_id="good-1", created_at="2026-01-01T00:00:00Z", provider="local", prompt="a fox", status="ok")
    )
    with open(log.runs.path, "ab") as f:
        for raw in damaged_rows(len(RUN_COLUMNS)):
            f.write(raw)
    before = log.runs.path.read_bytes()
    env = {**emulator.env(), **SPACE}
    done = cli(
        ["run", "--provider", "byteplus", "--frames", "2", "--size", "256x256", "--prompt", "a fox"], env, data_dir
    )
    assert done.code == 0, done.err
    assert "warning: runs.csv has 3 damaged row(s)" in done.err
    report = cli(["report", "--json"], env, data_dir)
    assert report.code == 0 and "warning: runs.csv has 3 damaged row(s)" in report.err
    after = log.runs.path.read_bytes()
    assert after.startswith(before)  # nothing logged is lost or altered
    assert list(RunLog(data_dir).read()["run_id"]) == ["good-1", RunLog(data_dir).latest(1).iloc[0]["run_id"]]
