"""The ends of the run log's files: a last row without its final newline (whole, or torn by
a crash) in runs.csv and ratings.csv, and a partly written record in runs.csv.idx."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from playground.base.types import RUN_COLUMNS, RunRecord
from playground.store.index import RowIndex
from playground.store.runlog import RATING_COLUMNS, RunLog


def _fill(log: RunLog, n: int) -> None:
    for i in range(n):
        log.append(
            RunRecord(
                run_id=f"x{i + 1}",
                created_at="2026-03-01T12:00:00Z",
                prompt=f'line {i}\n"two"',
                cost_usd=1.0,
                status="ok",
            )
        )


def _strip_final_newline(path: Path) -> None:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    path.write_bytes(data[:-1])


def test_a_whole_last_row_without_its_newline_stays_in_the_log(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 3)
    _strip_final_newline(log.runs.path)  # e.g. saved by another tool that ends files without one
    assert list(RunLog(data_dir).read()["run_id"]) == ["x1", "x2", "x3"]
    assert log.get("x3") is not None and log.latest(1).iloc[0]["run_id"] == "x3"
    log.append(RunRecord(run_id="x4", created_at="2026-03-01T13:00:00Z", cost_usd=1.0))
    assert list(log.read()["run_id"]) == ["x1", "x2", "x3", "x4"]
    assert list(pd.read_csv(log.runs.path)["run_id"]) == ["x1", "x2", "x3", "x4"]
    assert log.spent_since("2026-03-01T00:00:00Z") == pytest.approx(4.0)
    assert not log.runs.path.with_name("runs.csv.torn").exists()


def test_a_whole_last_row_ending_in_a_quoted_cell_is_whole(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 1)
    with open(log.runs.path, "a", encoding="utf-8", newline="") as f:  # no final newline, last cell quoted
        f.write("x2" + "," * (len(RUN_COLUMNS) - 2) + ',"a, b\nc"')
    log.append(RunRecord(run_id="x3"))
    assert list(log.read()["run_id"]) == ["x1", "x2", "x3"]
    assert log.read().iloc[1][RUN_COLUMNS[-1]] == "a, b\nc"


def test_a_torn_last_row_is_still_set_aside(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 2)
    with open(log.runs.path, "a", encoding="utf-8") as f:  # too few cells: a crash mid-write
        f.write("torn,,2026-03-09T23:00:00Z,local")
    assert list(log.read()["run_id"]) == ["x1", "x2"]
    log.append(RunRecord(run_id="x3"))
    assert list(log.read()["run_id"]) == ["x1", "x2", "x3"]
    assert log.runs.path.with_name("runs.csv.torn").read_text(encoding="utf-8").startswith("torn,")


def test_a_row_torn_after_a_newline_inside_a_quoted_cell_is_set_aside(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 2)
    with open(log.runs.path, "a", encoding="utf-8", newline="") as f:  # ends in "\n", but inside the quotes
        f.write('torn,,2026-03-09T23:00:00Z,local,m,sequence,"line one\n')
    assert list(log.read()["run_id"]) == ["x1", "x2"]
    log.append(RunRecord(run_id="x3", prompt="ok"))
    assert list(log.read()["run_id"]) == ["x1", "x2", "x3"] and log.get("x3")["prompt"] == "ok"  # type: ignore[index]
    assert len(pd.read_csv(log.runs.path)) == 3


def test_a_header_without_its_newline_gets_one(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "runs.csv").write_text(",".join(RUN_COLUMNS), encoding="utf-8")
    log = RunLog(data_dir)
    log.append(RunRecord(run_id="x1"))
    assert list(pd.read_csv(log.runs.path)["run_id"]) == ["x1"]
    assert list(log.read()["run_id"]) == ["x1"]


def _rate(log: RunLog, n: int) -> None:
    for i in range(n):
        log.add_rating(
            {
                "rated_at": "2026-03-01T12:00:00Z",
                "experiment_id": "e1",
                "run_id": f"r{i}",
                "other_run_id": "",
                "verdict": "better",
                "score": 4,
                "rater": "me",
            }
        )


def test_read_ratings_leaves_out_a_torn_last_row(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _rate(log, 2)
    with open(log.ratings.path, "a", encoding="utf-8") as f:  # a crash mid-write, inside a quoted cell
        f.write('2026-03-01T12:00:00Z,e1,r9,,"bett')
    assert list(log.read_ratings()["run_id"]) == ["r0", "r1"]
    _rate(log, 1)
    assert list(log.read_ratings()["run_id"]) == ["r0", "r1", "r0"]


def test_read_ratings_leaves_out_a_row_torn_after_a_newline_inside_quotes(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _rate(log, 1)
    with open(log.ratings.path, "a", encoding="utf-8", newline="") as f:
        f.write('2026-03-01T12:00:00Z,e1,r9,,"better\n')
    assert list(log.read_ratings()["run_id"]) == ["r0"]


def test_read_ratings_keeps_a_whole_last_row_without_its_newline(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _rate(log, 2)
    _strip_final_newline(log.ratings.path)
    assert list(log.read_ratings()["run_id"]) == ["r0", "r1"]
    assert list(log.read_ratings().columns) == RATING_COLUMNS


def test_a_partly_written_index_record_is_dropped(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 3)
    with open(log.runs.index.path, "ab") as f:  # type: ignore[union-attr]  # a crash mid-record
        f.write(b"\x07" * 11)
    log.append(RunRecord(run_id="x4", created_at="2026-03-01T13:00:00Z", cost_usd=1.0))
    assert log.spent_since("2026-03-01T00:00:00Z") == pytest.approx(4.0)
    assert log.get("x4") is not None and list(log.latest(4)["run_id"]) == ["x4", "x3", "x2", "x1"]
    index = RowIndex(log.runs.path, log.runs.index.spec)  # type: ignore[union-attr]
    assert index.path.stat().st_size == RowIndex.HEADER.size + 4 * RowIndex.dtype().itemsize


def test_a_partly_written_index_record_is_dropped_on_read(data_dir: Path) -> None:
    log = RunLog(data_dir)
    _fill(log, 3)
    with open(log.runs.path, "a", encoding="utf-8") as f:  # a row from another tool, not yet indexed
        f.write("x4,,2026-03-01T13:00:00Z" + "," * (len(RUN_COLUMNS) - 3) + "\n")
    with open(log.runs.index.path, "ab") as f:  # type: ignore[union-attr]
        f.write(b"\x07" * 5)
    assert list(log.latest(4)["run_id"]) == ["x4", "x3", "x2", "x1"]
    assert log.get("x4") is not None and log.spent_since("2026-03-01T00:00:00Z") == pytest.approx(3.0)


def test_a_partly_written_first_index_record_is_dropped(data_dir: Path) -> None:
    log = RunLog(data_dir)
    log.append(RunRecord(run_id="x1", created_at="2026-03-01T12:00:00Z", cost_usd=1.0))
    index = log.runs.index
    assert index is not None
    index.path.write_bytes(index.path.read_bytes()[: RowIndex.HEADER.size + 9])  # the first record, cut short
    log.append(RunRecord(run_id="x2", created_at="2026-03-01T13:00:00Z", cost_usd=1.0))
    assert list(log.latest(5)["run_id"]) == ["x2", "x1"] and log.get("x2") is not None
    assert log.spent_since("2026-03-01T00:00:00Z") == pytest.approx(2.0)
