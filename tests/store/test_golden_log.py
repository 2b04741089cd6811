"""runs.csv stays byte-compatible: a log written by this version before typed results (a run,
two refusals, an import, a partial and a cancelled run; unicode and hazardous text, a bare CR,
a lone surrogate, empty and filled list and mapping columns) is read row by row into typed
records, and written back byte for byte."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from playground.base.types import RUN_COLUMNS, RunRecord
from playground.store.codec import record_from_cells, record_from_row
from playground.store.runlog import RunLog
from support.paths import REPO

GOLDEN = REPO / "tests" / "store" / "data" / "runs_v1.csv"


def golden_records() -> list[RunRecord]:
    text = GOLDEN.read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 6 and list(rows[0]) == RUN_COLUMNS
    return [record_from_cells(row) for row in rows]


def test_every_row_reads_as_a_typed_record_and_writes_back_byte_for_byte(tmp_path: Path) -> None:
    log = RunLog(tmp_path)
    for record in golden_records():
        log.append(record)
    assert (tmp_path / "runs.csv").read_bytes() == GOLDEN.read_bytes()


def test_a_golden_log_reads_and_takes_new_rows(tmp_path: Path) -> None:
    shutil.copy(GOLDEN, tmp_path / "runs.csv")
    log = RunLog(tmp_path)
    assert list(log.read()["run_id"]) == [r.run_id for r in golden_records()]
    assert log.get("20260102-030405-aaaaaa")["status"] == "partial"  # type: ignore[index]
    log.append(RunRecord(run_id="after", status="ok", created_at="2026-01-03T00:00:00Z"))
    assert (tmp_path / "runs.csv").read_bytes().startswith(GOLDEN.read_bytes())


def test_the_list_and_mapping_columns_are_typed_and_read_alike_from_pandas(tmp_path: Path) -> None:
    records = golden_records()
    run, refused, _, imported, partial, cancelled = records
    assert run.beats == ["雪の中で荷物を受け取る", '=HYPERLINK("x")', 'délivre, "enfin"\nà temps']
    assert run.request_ids == ["local-0"] and run.ref_hashes == [] and len(run.composed_prompts or []) == 1
    assert refused.beats == [] and refused.composed_prompts is None and refused.frame_errors is None
    assert imported.request_ids is None and imported.ref_hashes is None
    assert partial.frame_errors == {2: "OutputImageSensitiveContentDetected: sensible ü"}
    assert partial.request_ids == ["20260102030405abcdefghij0123456789", "req-ü"]
    assert cancelled.frame_errors == {} and cancelled.request_ids == []  # "{}" and "[]" are not empty cells
    shutil.copy(GOLDEN, tmp_path / "runs.csv")
    assert [record_from_row(row) for row in RunLog(tmp_path).read().to_dict("records")] == records


def test_a_chain_rows_reference_frames_round_trip(tmp_path: Path) -> None:
    """reference_frames (chain mode: {frame number: the frame it took as reference}) is a typed
    mapping column: written as JSON, read back as ints by both readers; empty stays None."""
    log = RunLog(tmp_path)
    log.append(RunRecord(run_id="chain", mode="chain", status="ok", reference_frames={2: 1, 3: 2}))
    log.append(RunRecord(run_id="plain", mode="baseline", status="ok"))
    with open(tmp_path / "runs.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["reference_frames"] == '{"2": 1, "3": 2}' and rows[1]["reference_frames"] == ""
    assert [record_from_cells(r).reference_frames for r in rows] == [{2: 1, 3: 2}, None]
    frame = log.read()
    assert [record_from_row(r).reference_frames for r in frame.to_dict("records")] == [{2: 1, 3: 2}, None]
