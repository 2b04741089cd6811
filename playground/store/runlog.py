"""The run log: DATA_DIR/runs.csv, one row per run, and the append-only ratings.csv (its
columns: base/ratings.py).

Guarantees (tested in tests/store/test_runlog.py and tests/store/test_runlog_scale.py):
- each row is written by one `write()` while holding a cross-process lock (a `.lock` side
  file), so concurrent runs, threads and processes never interleave rows;
- rows are only ever appended; a file written by an older version (fewer columns) is
  migrated once by rewriting it to a temporary file and renaming it, so no row is lost;
- text cells a spreadsheet would execute (starting with = + - @ tab CR) are stored with a
  leading apostrophe, which `read()` removes again (a leading apostrophe of the user's
  own is escaped the same way), so the app shows the text exactly as it was;
- every text cell round-trips whatever it holds: a cell with a comma, a quote, LF or a bare CR
  is quoted (rows end in LF), a lone surrogate (not encodable as UTF-8) is written as its
  escape `\\udXXX` (the one change), NUL and any other character as it is; a cell over its
  limit (MAX_CELL_CHARS; for a refused run, what a run may take: REFUSED_LIMITS) is
  logged as its first SHORTENED_KEEP characters and its length ("... [200000 characters]"),
  so a refused prompt of any size adds about a kilobyte;
- `pandas.read_csv(path)` reads the file with no options;
- a damaged row (bytes that are not UTF-8, more or fewer cells than the header: a torn line, a
  hand edit) is set aside, never fatal: reads leave it out, it stays byte-for-byte where it is,
  is copied once to <name>.damaged with the reason, and `damage_note()` says so (History, CLI);
- the end of the file is settled under the lock before every read and append (`settle_tail`):
  a whole last row missing only its final newline gets one, half a row a crash left behind is
  left out of reads and moved to <name>.torn before an append.

Scale: runs.csv has a side file, runs.csv.idx (see `RowIndex`): one fixed-size record per
row with its byte offset, length, created_at, the row's spend (cost_usd; 0 for an imported
run, which is not this app's spend) and a checksum of run_id (with a flag for a damaged row). Appends
add a record under the same lock, so an append costs the same at 100 rows or 1M; `latest`,
`get` and `spent_since` read the index and only the rows they need, never the whole CSV.
The index is a cache: it is rebuilt from the CSV whenever the CSV was replaced (migration,
an edit in a spreadsheet) or its last indexed row no longer matches, and rows appended by
anything else are indexed on the next read. `read(columns)` keeps the parsed frame per
column set in memory and later parses only rows appended since (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import mmap
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from playground.base.errors import loggable
from playground.base.ratings import RATING_COLUMNS as RATING_COLUMNS  # re-exported: its old home
from playground.base.types import MAX_PROMPT_CHARS, RUN_COLUMNS, RunRecord
from playground.store.codec import row_of
from playground.store.csvlog import CsvLog
from playground.store.csvtext import shorten
from playground.store.index import DAMAGED, IndexSpec, epoch, id_hash
from playground.store.rundir import run_folder

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# The text cells of a refused run (status error, nothing sent) are logged up to what a run may
# take: MAX_PROMPT_CHARS each (a longer prompt was refused for its length; a model id or size
# is far shorter), beats as a JSON list of at most MAX_PROMPT_CHARS characters of beats (with
# quotes and escapes). So a refusal of any size adds a few kilobytes at most.
REFUSED_LIMITS = {"beats": 8 * MAX_PROMPT_CHARS}


class RunLog:
    """runs.csv and ratings.csv of one DATA_DIR."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.runs = CsvLog(self.data_dir / "runs.csv", RUN_COLUMNS, index=IndexSpec())
        self.ratings = CsvLog(self.data_dir / "ratings.csv", RATING_COLUMNS)

    def run_dir(self, run_id: str) -> Path:
        return run_folder(self.data_dir, run_id)

    def append(self, record: RunRecord) -> None:
        row = row_of(record)  # the typed columns encoded as the log has always written them
        if record.status == "error" and not record.api_calls:  # refused: its inputs may be any size
            row.update(
                {
                    c: shorten(loggable(v), REFUSED_LIMITS.get(c, MAX_PROMPT_CHARS))
                    for c, v in row.items()
                    if isinstance(v, str)
                }
            )
        self.runs.append(row)

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every run (or only `columns` of every run), oldest first."""
        return self.runs.read(columns)

    def may_hold(self, text: str) -> bool:
        """False only when no row can hold `text` as (part of) a cell: a byte search of runs.csv,
        without pandas, so a fresh batch sends its first request before the log is parsed. Text
        the log would write otherwise (a quote, a line break, too long) is always "may"."""
        if self.runs._empty():
            return False
        if not text or any(c in text for c in '"\r\n') or len(text) > MAX_PROMPT_CHARS:
            return True
        with open(self.runs.path, "rb") as raw:
            if not os.fstat(raw.fileno()).st_size:
                return False
            with mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(text.encode("utf-8")) >= 0

    def _records(self) -> np.ndarray | None:
        """The index records of every row, in sync with the CSV (None: no log yet)."""
        if self.runs._empty():
            return None
        assert self.runs.index is not None
        with self.runs.lock:
            self.runs.settle_tail()
            return self.runs.index.records(0, self.runs.index.sync())

    def latest(self, n: int = 100) -> pd.DataFrame:
        """The newest n runs, newest first (reads only those rows; damaged rows left out)."""
        import pandas as pd

        records = self._records()
        if records is None or not len(records) or n <= 0:
            return pd.DataFrame(columns=RUN_COLUMNS)
        records = records[(records["key"] & DAMAGED) == 0]
        if not len(records):
            return pd.DataFrame(columns=RUN_COLUMNS)
        tail = records[-n:]
        frame = self.runs.rows_at(_joined_spans(tail))
        return frame.iloc[::-1].reset_index(drop=True)

    def get(self, run_id: str) -> dict[str, object] | None:
        """The last row logged for run_id, or None (reads only candidate rows; a damaged row's
        key carries the DAMAGED flag, so it is never a candidate)."""
        import numpy as np

        records = self._records()
        if records is None:
            return None
        for i in np.flatnonzero(records["key"] == id_hash(run_id))[::-1]:
            row = self.runs.rows_at([(int(records[i]["offset"]), int(records[i]["length"]))])
            if len(row) and str(row.iloc[0]["run_id"]) == run_id:
                return {str(k): v for k, v in row.iloc[0].to_dict().items()}
        return None

    def spent_since(self, iso_time: str) -> float:
        """Dollars this app spent since a UTC ISO time (for the daily spend cap), from the index
        alone: imported runs (made and paid elsewhere) count 0, a damaged row what it says."""
        records = self._records()
        if records is None or not len(records):
            return 0.0
        since = epoch(iso_time)
        if math.isnan(since):
            raise ValueError(f"not an ISO 8601 time: {iso_time!r}")
        return float(records["amount"][records["time"] >= since].sum())

    def damage_note(self) -> str:
        """A warning when runs.csv or ratings.csv holds damaged rows; "" when none do."""
        if not self.runs._empty():
            with self.runs.lock:  # the index in sync: damaged rows appended by anything else are found
                self.runs.settle_tail()
        counts = [(log.path.name, log.aside_path.name, log.damaged_count()) for log in (self.runs, self.ratings)]
        parts = [
            f"{name} has {n} damaged row(s) (bytes that are not UTF-8, or the wrong number of cells), copied to {aside}"
            for name, aside, n in counts
            if n
        ]
        if not parts:
            return ""
        return (
            "; ".join(parts) + ". They are left out of History and Analysis and stay in the file unchanged: "
            "fix or remove them there."
        )

    def add_rating(self, row: Mapping[str, object]) -> None:
        self.ratings.append(row)

    def read_ratings(self) -> pd.DataFrame:
        return self.ratings.read()


def _joined_spans(records: np.ndarray) -> list[tuple[int, int]]:
    """(offset, length) spans covering the rows of `records` (in file order), neighbours joined."""
    spans: list[tuple[int, int]] = []
    for offset, length in zip(records["offset"].tolist(), records["length"].tolist()):
        if spans and spans[-1][0] + spans[-1][1] == offset:
            spans[-1] = (spans[-1][0], spans[-1][1] + length)
        else:
            spans.append((offset, length))
    return spans
