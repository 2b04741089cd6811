"""The run log: DATA_DIR/runs.csv, one row per run, and the append-only ratings.csv.

Guarantees (tested in tests/test_runlog.py):
- each row is written by one `write()` while holding a cross-process lock (a `.lock` side
  file), so concurrent runs, threads and processes never interleave rows;
- rows are only ever appended; a file written by an older version (fewer columns) is
  migrated once by rewriting it to a temporary file and renaming it, so no row is lost;
- text cells a spreadsheet would execute (starting with = + - @ tab CR) are stored with a
  leading apostrophe, which `read()` removes again (a leading apostrophe of the user's
  own is escaped the same way), so the app shows the text exactly as it was;
- `pandas.read_csv(path)` reads the file with no options.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from playground.types import RUN_COLUMNS, RunRecord

if TYPE_CHECKING:
    import pandas as pd

RATING_COLUMNS = ["rated_at", "experiment_id", "run_id", "other_run_id", "verdict", "score", "rater"]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")
_TEXT_COLUMNS = {f.name for f in fields(RunRecord) if f.type in ("str", str)}


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would execute (and a user's own leading apostrophe)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def restore(value: object) -> object:
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def _format_row(columns: Sequence[str], row: Mapping[str, object]) -> str:
    buffer = io.StringIO()
    values = [neutralise(row.get(c)) for c in columns]
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in values])
    return buffer.getvalue()


class CsvLog:
    """An append-only CSV file with a fixed column order that only grows."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = list(columns)
        self.lock = FileLock(str(path) + ".lock")
        self._checked_header: tuple[int, int] | None = None  # (inode, size) when the header was last checked

    def append(self, row: Mapping[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            header = self._ensure_header()
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(_format_row(header, row))

    def _ensure_header(self) -> list[str]:
        """Write the header into a new file, or migrate an older file; return the file's columns."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                f.write(_format_row(self.columns, dict(zip(self.columns, self.columns))))
            return self.columns
        with open(self.path, encoding="utf-8", newline="") as f:
            header = next(csv.reader([f.readline()]))
        missing = [c for c in self.columns if c not in header]
        if missing:
            self._migrate(header + missing)
            return header + missing
        return header

    def _migrate(self, columns: list[str]) -> None:
        """Rewrite the file with new trailing columns (old rows get empty cells), atomically."""
        tmp = self.path.with_name(self.path.name + ".migrating")
        with open(self.path, encoding="utf-8", newline="") as src, open(tmp, "w", encoding="utf-8", newline="") as dst:
            reader = csv.reader(src)
            next(reader)
            writer = csv.writer(dst, lineterminator="\n")
            writer.writerow(columns)
            width = len(columns)
            for record in reader:
                writer.writerow(record + [""] * (width - len(record)))
        os.replace(tmp, self.path)

    def read(self) -> pd.DataFrame:
        """All rows as a DataFrame with every known column (missing ones filled), text restored."""
        import pandas as pd

        if not self.path.exists() or self.path.stat().st_size == 0:
            return pd.DataFrame(columns=self.columns)
        text_cols = [c for c in self.columns if c in _TEXT_COLUMNS or c not in RUN_COLUMNS]
        with self.lock:
            frame = pd.read_csv(self.path, dtype={c: "string" for c in text_cols}, keep_default_na=False,
                                na_values={c: [""] for c in self.columns if c not in text_cols})
        for column in self.columns:
            if column not in frame.columns:
                frame[column] = "" if column in text_cols else pd.NA
        for column in frame.columns:
            if column in text_cols:
                frame[column] = frame[column].astype(object).map(restore)
        return frame


class RunLog:
    """runs.csv and ratings.csv of one DATA_DIR."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.runs = CsvLog(self.data_dir / "runs.csv", RUN_COLUMNS)
        self.ratings = CsvLog(self.data_dir / "ratings.csv", RATING_COLUMNS)

    def run_dir(self, run_id: str) -> Path:
        return self.data_dir / "runs" / run_id

    def append(self, record: RunRecord) -> None:
        self.runs.append(record.as_row())

    def read(self) -> pd.DataFrame:
        return self.runs.read()

    def latest(self, n: int = 100) -> pd.DataFrame:
        """The newest n runs, newest first."""
        return self.read().iloc[::-1].head(n).reset_index(drop=True)

    def get(self, run_id: str) -> dict[str, object] | None:
        frame = self.read()
        match = frame[frame["run_id"] == run_id]
        return None if match.empty else match.iloc[-1].to_dict()

    def spent_since(self, iso_time: str) -> float:
        """Dollars logged since a UTC ISO time (for the daily spend cap)."""
        frame = self.read()
        if frame.empty:
            return 0.0
        recent = frame[frame["created_at"].astype(str) >= iso_time]
        return float(recent["cost_usd"].fillna(0).sum())

    def add_rating(self, row: Mapping[str, object]) -> None:
        self.ratings.append(row)

    def read_ratings(self) -> pd.DataFrame:
        return self.ratings.read()
