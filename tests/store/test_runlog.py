"""The CSV run log: schema, round trips, neutralised formulas, migration of old files."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from playground.base.types import RUN_COLUMNS, RunRecord
from playground.store.runlog import RunLog


def test_tricky_text_round_trips_and_formulas_are_neutralised(data_dir: Path) -> None:
    log = RunLog(data_dir)
    prompts = ['=HYPERLINK("x")', 'line one\nline two, "quoted"', "-5", "@user", "\tTab", "'apostrophe", "café ☕"]
    for i, prompt in enumerate(prompts):
        log.append(RunRecord(run_id=f"r{i}", prompt=prompt, seed=-3, status="ok"))
    assert list(log.read()["prompt"]) == prompts
    raw = list(csv.DictReader((data_dir / "runs.csv").open(encoding="utf-8", newline="")))
    assert raw[0]["prompt"].startswith("'=") and raw[2]["prompt"] == "'-5" and raw[3]["prompt"].startswith("'@")
    assert raw[0]["seed"] == "-3"  # numbers stay numbers
    assert len(pd.read_csv(data_dir / "runs.csv")) == len(prompts)


def test_old_file_with_fewer_columns_is_migrated_without_losing_rows(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    old_columns = RUN_COLUMNS[:21]
    with open(data_dir / "runs.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(old_columns)
        writer.writerow(["old1"] + [""] * (len(old_columns) - 1))
    log = RunLog(data_dir)
    assert log.read().iloc[0]["run_id"] == "old1"
    log.append(RunRecord(run_id="new1", status="ok"))
    frame = pd.read_csv(data_dir / "runs.csv")
    assert list(frame.columns) == RUN_COLUMNS and list(frame["run_id"]) == ["old1", "new1"]


def test_latest_is_newest_first(data_dir: Path) -> None:
    log = RunLog(data_dir)
    for i in range(5):
        log.append(RunRecord(run_id=f"r{i}"))
    assert list(log.latest(3)["run_id"]) == ["r4", "r3", "r2"]
    assert log.get("r1")["run_id"] == "r1" and log.get("zz") is None
