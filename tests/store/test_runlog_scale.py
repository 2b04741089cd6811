"""The run log at scale: the row index (runs.csv.idx) gives the same answers as reading the
whole CSV, stays correct when something else writes the CSV, and `latest`, `get`,
`spent_since` and `append` never parse the whole file."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pandas as pd
import pytest

from playground.base.types import RUN_COLUMNS, RunRecord
from playground.store.index import RowIndex
from playground.store.runlog import RunLog

TRICKY = ['line one\nline two, "quoted"', "=SUM(A1)", "-5 degrees", "plain", "'own apostrophe", "café ☕\r\nnext"]


def _fill(log: RunLog, n: int, day: str = "2026-03-0") -> list[RunRecord]:
    records = []
    for i in range(n):
        record = RunRecord(
            run_id=f"run-{i:04d}",
            created_at=f"{day}{1 + i % 9}T12:00:{i % 60:02d}Z",
            prompt=TRICKY[i % len(TRICKY)],
            cost_usd=round(0.01 * (i % 7), 2),
            status="ok",
            error="" if i % 5 else '=bad\n"thing"',
            seed=-i,
        )
        log.append(record)
        records.append(record)
    return records


def _whole_file_spend(path: Path, since: str) -> float:
    frame = pd.read_csv(path, keep_default_na=False, dtype={"created_at": str})
    costs = pd.to_numeric(frame["cost_usd"], errors="coerce").fillna(0)
    return float(costs[frame["created_at"] >= since].sum())


def test_index_answers_equal_whole_file_answers(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 60)
    whole = log.read()
    latest = log.latest(7)
    assert list(latest["run_id"]) == list(whole["run_id"].iloc[::-1].head(7))
    assert list(latest["prompt"]) == list(whole["prompt"].iloc[::-1].head(7))
    row = log.get("run-0030")
    assert row is not None and row["prompt"] == TRICKY[30 % len(TRICKY)] and row["error"] == '=bad\n"thing"'
    assert log.get("run-9999") is None
    for since in ("2026-03-01T00:00:00Z", "2026-03-05T12:00:00Z", "2026-03-09T13:00:00Z"):
        assert log.spent_since(since) == pytest.approx(_whole_file_spend(log.runs.path, since))
    assert RowIndex(log.runs.path, log.runs.index.spec).count() == 60  # type: ignore[union-attr]


def test_get_returns_the_last_row_of_a_repeated_id(data_dir: Path) -> None:
    log = RunLog(data_dir)
    log.append(RunRecord(run_id="same", status="error"))
    log.append(RunRecord(run_id="other", status="ok"))
    log.append(RunRecord(run_id="same", status="ok"))
    assert log.get("same")["status"] == "ok"  # type: ignore[index]


def test_rows_appended_by_something_else_are_indexed(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 5)
    with open(log.runs.path, "a", encoding="utf-8", newline="") as f:  # e.g. an older version of the app
        f.write(
            'foreign-1,,2026-03-09T23:00:00Z,local,m,sequence,"multi\nline",[],1,1'
            + "," * (len(RUN_COLUMNS) - 10)
            + "\n"
        )
    assert log.latest(1).iloc[0]["run_id"] == "foreign-1"
    assert log.latest(1).iloc[0]["prompt"] == "multi\nline"
    assert log.get("foreign-1") is not None
    log.append(RunRecord(run_id="after", created_at="2026-03-09T23:30:00Z", cost_usd=2.0))
    assert list(log.latest(3)["run_id"]) == ["after", "foreign-1", "run-0004"]
    assert log.spent_since("2026-03-09T23:00:00Z") == pytest.approx(2.0)


def test_a_replaced_csv_rebuilds_the_index(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 8)
    replacement = data_dir / "replacement.csv"
    frame = pd.read_csv(log.runs.path, keep_default_na=False).iloc[2:5]  # a spreadsheet user deleted rows
    frame.to_csv(replacement, index=False)
    os.replace(replacement, log.runs.path)
    assert list(log.latest(10)["run_id"]) == ["run-0004", "run-0003", "run-0002"]
    assert log.get("run-0007") is None and log.get("run-0003") is not None
    assert log.spent_since("2026-01-01T00:00:00Z") == pytest.approx(0.02 + 0.03 + 0.04)


def test_a_half_written_last_row_is_not_indexed_until_whole(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 3)
    with open(log.runs.path, "a", encoding="utf-8") as f:
        f.write('half,,2026-03-09T23:00:00Z,local,m,sequence,"still open')
    assert list(log.latest(5)["run_id"]) == ["run-0002", "run-0001", "run-0000"]
    with open(log.runs.path, "a", encoding="utf-8") as f:
        f.write(' and closed"' + "," * (len(RUN_COLUMNS) - 7) + "\n")
    assert log.latest(1).iloc[0]["prompt"] == "still open and closed"


def test_old_header_file_is_indexed_then_migrated(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    old = RUN_COLUMNS[:21]
    (data_dir / "runs.csv").write_text(",".join(old) + "\nold1,,2026-03-01T00:00:00Z" + "," * (len(old) - 3) + "\n")
    log = RunLog(data_dir)
    assert log.get("old1") is not None and list(log.latest()["run_id"]) == ["old1"]
    log.append(RunRecord(run_id="new1", created_at="2026-03-02T00:00:00Z", cost_usd=1.0))
    assert list(log.latest()["run_id"]) == ["new1", "old1"]
    assert list(pd.read_csv(data_dir / "runs.csv").columns) == RUN_COLUMNS
    assert log.spent_since("2026-03-01T00:00:00Z") == pytest.approx(1.0)


def test_read_keeps_a_cache_and_parses_only_new_rows(data_dir: Path) -> None:
    first, second = RunLog(data_dir), RunLog(data_dir)
    _fill(first, 10)
    before = first.read()
    _fill(second, 3, day="2026-04-0")  # another process (its own RunLog) appends
    after = first.read()
    fresh = RunLog(data_dir).read()
    assert len(before) == 10 and len(after) == 13
    pd.testing.assert_frame_equal(after.astype(str), fresh.astype(str))
    after.loc[0, "prompt"] = "changed by a caller"
    assert first.read().loc[0, "prompt"] == TRICKY[0]  # callers get their own copy
    subset = first.read(["run_id", "cost_usd"])
    assert list(subset.columns) == ["run_id", "cost_usd"] and len(subset) == 13
    assert list(RunLog(data_dir).read(["run_id", "prompt"])["prompt"]) == list(fresh["prompt"])


def test_small_reads_never_parse_the_whole_file(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = RunLog(data_dir)
    _fill(log, 300)
    log.latest(1)  # the index exists now
    size = log.runs.path.stat().st_size
    seen: list[int] = []
    real = pd.read_csv

    def watched(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        assert hasattr(source, "getbuffer"), "parsed the CSV file itself"
        seen.append(len(source.getbuffer()))
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", watched)
    log.latest(5)
    log.get("run-0150")
    log.spent_since("2026-03-02T00:00:00Z")
    log.append(RunRecord(run_id="cheap"))
    assert seen and max(seen) < size / 20


def _append_many(data_dir: str, worker: int) -> None:
    log = RunLog(Path(data_dir))
    for i in range(40):
        log.append(
            RunRecord(
                run_id=f"w{worker}-{i}",
                created_at="2026-03-01T00:00:00Z",
                prompt=f"row {i}\nof worker {worker}",
                cost_usd=0.5,
            )
        )


def test_processes_appending_at_once_keep_rows_and_index_whole(data_dir: Path) -> None:
    RunLog(data_dir).append(RunRecord(run_id="first"))
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(data_dir), w)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert all(w.exitcode == 0 for w in workers)
    log = RunLog(data_dir)
    frame = pd.read_csv(log.runs.path)
    assert len(frame) == 121 and frame["run_id"].is_unique
    assert RowIndex(log.runs.path, log.runs.index.spec).count() == 121  # type: ignore[union-attr]
    assert list(log.latest(121)["run_id"]) == list(frame["run_id"].iloc[::-1])
    assert log.spent_since("1970-01-01T00:00:00Z") == pytest.approx(60.0)
    assert all(log.get(f"w{w}-39") is not None for w in range(3))


def test_a_torn_tail_set_aside_by_append_keeps_the_index_right(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 4)
    before = log.read()
    with open(log.runs.path, "a", encoding="utf-8") as f:  # a crash mid-write
        f.write('torn,,2026-03-09T23:00:00Z,local,m,sequence,"never fin')
    log.append(RunRecord(run_id="next", created_at="2026-03-09T23:10:00Z", prompt="ok", cost_usd=1.0))
    assert list(log.latest(3)["run_id"]) == ["next", "run-0003", "run-0002"]
    assert log.get("torn") is None and log.spent_since("2026-03-09T23:00:00Z") == pytest.approx(1.0)
    assert list(log.read()["run_id"]) == list(before["run_id"]) + ["next"]
    assert len(pd.read_csv(log.runs.path)) == 5
