"""The run log: DATA_DIR/runs.csv, one row per run, and the append-only ratings.csv.

Guarantees (tested in tests/test_runlog.py and tests/test_runlog_scale.py):
- each row is written by one `write()` while holding a cross-process lock (a `.lock` side
  file), so concurrent runs, threads and processes never interleave rows;
- rows are only ever appended; a file written by an older version (fewer columns) is
  migrated once by rewriting it to a temporary file and renaming it, so no row is lost;
- text cells a spreadsheet would execute (starting with = + - @ tab CR) are stored with a
  leading apostrophe, which `read()` removes again (a leading apostrophe of the user's
  own is escaped the same way), so the app shows the text exactly as it was;
- `pandas.read_csv(path)` reads the file with no options;
- the end of the file is settled under the lock before every read and append (`settle_tail`):
  a whole last row missing only its final newline gets one, half a row a crash left behind is
  left out of reads and moved to <name>.torn before an append.

Scale: runs.csv has a side file, runs.csv.idx (see `RowIndex`): one fixed-size record per
row with its byte offset, length, created_at, cost_usd and a checksum of run_id. Appends
add a record under the same lock, so an append costs the same at 100 rows or 1M; `latest`,
`get` and `spent_since` read the index and only the rows they need, never the whole CSV.
The index is a cache: it is rebuilt from the CSV whenever the CSV was replaced (migration,
an edit in a spreadsheet) or its last indexed row no longer matches, and rows appended by
anything else are indexed on the next read. `read(columns)` keeps the parsed frame per
column set in memory and later parses only rows appended since (docs/benchmarks.md).
"""

from __future__ import annotations

import csv
import io
import math
import os
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from filelock import FileLock

from playground.types import RUN_COLUMNS, RunRecord

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

RATING_COLUMNS = ["rated_at", "experiment_id", "run_id", "other_run_id", "verdict", "score", "rater"]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")
_TEXT_COLUMNS = {f.name for f in fields(RunRecord) if f.type in ("str", str)}
_CHUNK = 16 * 1024 * 1024  # bytes scanned at a time when (re)building an index


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


def id_hash(value: object) -> int:
    """A 32-bit checksum of a run id: the index finds candidate rows by it, and a candidate is
    confirmed on the row itself, so a collision costs one extra row read, never a wrong answer."""
    return zlib.crc32(str(value).encode("utf-8"))


def epoch(iso_time: object) -> float:
    """Seconds since 1970 of an ISO 8601 time ("...Z" or with an offset; naive = UTC); NaN if unreadable."""
    text = str(iso_time or "").strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return math.nan
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc).timestamp()
    return moment.timestamp()


def _number(value: object) -> float:
    try:
        number = float(str(value)) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


@dataclass(frozen=True)
class IndexSpec:
    """Which columns the index keeps per row (a key to find a row, a time and an amount to sum)."""

    key: str = "run_id"
    time: str = "created_at"
    amount: str = "cost_usd"


class RowIndex:
    """path.idx: a 32-byte header (magic, the CSV's inode, size and mtime when the index last
    matched it) then one record per row: offset, length, time (epoch s), amount, key checksum."""

    MAGIC = b"PGRIDX1\0"
    HEADER = struct.Struct("<8sQQQ")

    def __init__(self, csv_path: Path, spec: IndexSpec) -> None:
        self.csv_path, self.spec = csv_path, spec
        self.path = csv_path.with_name(csv_path.name + ".idx")

    @staticmethod
    def dtype() -> np.dtype:
        import numpy as np

        return np.dtype([("offset", "<u8"), ("length", "<u4"), ("time", "<f8"), ("amount", "<f8"), ("key", "<u8")])

    # -- keeping it in step with the CSV (callers hold the CSV's lock) ----------------------------
    def sync(self) -> int:
        """Bring the index up to date with the CSV; return the number of indexed rows."""
        stat = self.csv_path.stat()
        header = self._header()
        count, cut = self._drop_partial_record()
        if header == (stat.st_ino, stat.st_size, stat.st_mtime_ns) and not cut:
            return count
        end = self._end(count) if header is not None and header[0] == stat.st_ino else -1
        if 0 <= end <= stat.st_size and self._tail_intact(count):  # rows were added (or a torn tail cut off)
            start = end
        else:
            self.path.write_bytes(self.HEADER.pack(self.MAGIC, 0, 0, 0))
            count, start = 0, self._header_length()
        count += self._index_range(start, stat.st_size)
        self._write_header()
        return count

    def added(self, offset: int, length: int, row: Mapping[str, object]) -> None:
        """Record a row this process has just appended (the index was in sync before it)."""
        import numpy as np

        record = np.zeros(1, self.dtype())
        record[0] = (offset, length, epoch(row.get(self.spec.time)), _number(row.get(self.spec.amount)),
                     id_hash(row.get(self.spec.key, "")))
        with open(self.path, "ab") as f:
            f.write(record.tobytes())
        self._write_header()

    def _drop_partial_record(self) -> tuple[int, bool]:
        """Cut off the bytes of a record a crash left half written, so the records appended next
        start on a record boundary; return (the number of whole records, whether bytes were cut).
        After a cut the header is not trusted: the lost record's row is indexed again."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0, False
        count = max(0, (size - self.HEADER.size) // self.dtype().itemsize)
        whole = self.HEADER.size + count * self.dtype().itemsize
        if size <= whole:  # (a file shorter than its header is rewritten whole by sync)
            return count, False
        with open(self.path, "r+b") as f:
            f.truncate(whole)
        return count, True

    def _header(self) -> tuple[int, int, int] | None:
        try:
            with open(self.path, "rb") as f:
                raw = f.read(self.HEADER.size)
        except FileNotFoundError:
            return None
        if len(raw) < self.HEADER.size:
            return None
        magic, inode, size, mtime = self.HEADER.unpack(raw)
        return (inode, size, mtime) if magic == self.MAGIC else None

    def _write_header(self) -> None:
        stat = self.csv_path.stat()
        with open(self.path, "r+b") as f:
            f.write(self.HEADER.pack(self.MAGIC, stat.st_ino, stat.st_size, stat.st_mtime_ns))

    def _header_length(self) -> int:
        with open(self.csv_path, "rb") as f:
            return _record_end(f, 0)

    def count(self) -> int:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return 0
        return max(0, (size - self.HEADER.size) // self.dtype().itemsize)

    def _end(self, count: int) -> int:
        if count == 0:
            return self._header_length()
        last = self.records(count - 1, count)[0]
        return int(last["offset"]) + int(last["length"])

    def _tail_intact(self, count: int) -> bool:
        """The last indexed row is still where the index says, with the same key."""
        if count == 0:
            return True
        last = self.records(count - 1, count)[0]
        with open(self.csv_path, "rb") as f:
            f.seek(int(last["offset"]))
            raw = f.read(int(last["length"]))
        if not raw.endswith(b"\n"):
            return False
        with open(self.csv_path, "rb") as f:
            header = _header_cells(f.readline())
        cells = next(csv.reader([raw.decode("utf-8", "replace")]), [])
        at = header.index(self.spec.key) if self.spec.key in header else -1
        return 0 <= at < len(cells) and id_hash(restore(cells[at])) == int(last["key"])

    def _index_range(self, start: int, end: int) -> int:
        """Index the whole rows in csv[start:end) and append their records; return how many."""
        added = 0
        with open(self.csv_path, "rb") as src, open(self.path, "ab") as dst:
            header = src.read(self._header_length())
            src.seek(start)
            offset, carry = start, b""
            while offset + len(carry) < end:
                chunk = carry + src.read(min(_CHUNK, end - offset - len(carry)))
                ends = _row_ends(chunk)
                if not len(ends):
                    if offset + len(chunk) >= end:
                        break  # a last row without its newline: not a whole row yet
                    carry = chunk
                    continue
                dst.write(_records(header, chunk, ends, offset, self.spec).tobytes())
                added += len(ends)
                used = int(ends[-1]) + 1
                offset, carry = offset + used, chunk[used:]
        return added

    # -- reading ---------------------------------------------------------------------------------
    def records(self, first: int = 0, last: int | None = None) -> np.ndarray:
        """Records first..last-1 (all by default)."""
        import numpy as np

        dtype = self.dtype()
        last = self.count() if last is None else last
        if last <= first:
            return np.zeros(0, dtype)
        with open(self.path, "rb") as f:
            f.seek(self.HEADER.size + first * dtype.itemsize)
            return np.frombuffer(f.read((last - first) * dtype.itemsize), dtype)


def _row_ends(chunk: bytes) -> np.ndarray:
    """Positions of the newlines in `chunk` that end a CSV row (outside quotes). `chunk` starts
    at a row start; a newline inside a quoted cell follows an odd number of quote characters."""
    import numpy as np

    data = np.frombuffer(chunk, np.uint8)
    newlines = np.flatnonzero(data == 10)
    quotes = np.flatnonzero(data == 34)
    return newlines[np.searchsorted(quotes, newlines) % 2 == 0]


def _records(header: bytes, chunk: bytes, ends: np.ndarray, base: int, spec: IndexSpec) -> np.ndarray:
    """Index records of the rows of `chunk` that end at `ends` (pandas parses the three cells)."""
    import numpy as np
    import pandas as pd

    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    wanted = [c for c in (spec.key, spec.time, spec.amount) if c in _header_cells(header)]
    cells = pd.read_csv(io.BytesIO(header + chunk[: int(ends[-1]) + 1]), usecols=wanted, dtype=object,
                        keep_default_na=False, skip_blank_lines=False)
    if len(cells) != len(starts):
        raise ValueError("the CSV has rows the index cannot delimit")
    empty = pd.Series([""] * len(cells), dtype=object)
    keys, times, amounts = (cells[c] if c in cells else empty for c in (spec.key, spec.time, spec.amount))
    out = np.zeros(len(starts), RowIndex.dtype())
    out["offset"], out["length"] = starts + base, ends - starts + 1
    out["key"] = [id_hash(restore(k)) for k in keys.tolist()]
    stamps = pd.to_datetime(times, utc=True, errors="coerce", format="ISO8601")
    out["time"] = (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(float)  # NaT -> NaN
    amount = pd.to_numeric(amounts.replace("", "0"), errors="coerce").fillna(0.0).to_numpy(float)
    out["amount"] = np.where(np.isfinite(amount), amount, 0.0)
    return out


def _header_cells(header: bytes) -> list[str]:
    return next(csv.reader([header.decode("utf-8", "replace")]), [])


def _record_end(f: BinaryIO, start: int) -> int:
    """The offset just past the row starting at `start` (the header is a row too)."""
    f.seek(start)
    quotes, position = 0, start
    for line in f:
        position += len(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            break
    return position


class _Limited(io.RawIOBase):
    """The first `limit` bytes of a file (rows appended meanwhile are left for the next read)."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.left = raw, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)[: self.left]
        n = self.raw.readinto(view) or 0
        self.left -= n
        return n


class CsvLog:
    """An append-only CSV file with a fixed column order that only grows."""

    def __init__(self, path: Path, columns: Sequence[str], index: IndexSpec | None = None) -> None:
        self.path = path
        self.columns = list(columns)
        self.lock = FileLock(str(path) + ".lock")
        self.index = RowIndex(path, index) if index else None
        # read()'s frames by column set: (inode, bytes parsed, frame); later reads parse only new rows
        self._cache: dict[tuple[str, ...] | None, tuple[int, int, pd.DataFrame]] = {}

    # -- writing ---------------------------------------------------------------------------------
    def append(self, row: Mapping[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            self.settle_tail(set_aside_torn=True)
            header = self._ensure_header()
            if self.index:
                self.index.sync()
            text = _format_row(header, row).encode("utf-8")
            with open(self.path, "ab") as f:
                offset = f.tell()
                f.write(text)
            if self.index:
                self.index.added(offset, len(text), row)

    def settle_tail(self, set_aside_torn: bool = False) -> int:
        """Where the whole rows end, after settling what follows them (callers hold the lock).

        A last row that lacks only its final newline (a file saved by a tool that ends files
        without one) is whole when it has the header's number of cells and balanced quotes: it
        gets its newline and stays in the log. Anything else after the last whole row is half a
        row a crash left behind: reads leave it out, and before an append (`set_aside_torn`),
        which would merge the new row into it, it is moved to <name>.torn. A row torn inside its
        last cell cannot be told from a whole one; it is kept with that cell cut short."""
        if self._empty():
            return 0
        end = self._rows_end()
        with open(self.path, "rb") as f:  # opened for writing only when there is something to mend
            size = f.seek(0, os.SEEK_END)
            f.seek(size - 1)
            if end == size and f.read(1) == b"\n":
                return end
            f.seek(end)
            tail = f.read()
        if self._whole_row(tail):
            with open(self.path, "ab") as f:
                f.write(b"\n")
            return self._rows_end()
        if set_aside_torn:
            with open(self.path.with_name(self.path.name + ".torn"), "ab") as side:
                side.write(tail + b"\n")
            os.truncate(self.path, end)
        return end

    def _rows_end(self) -> int:
        """The offset just past the last whole row (newline included; the header is a row)."""
        if self.index:
            return self.index._end(self.index.sync())
        with open(self.path, "rb") as f:
            ends = _row_ends(f.read())  # newlines outside quotes
        return int(ends[-1]) + 1 if len(ends) else 0

    def _whole_row(self, tail: bytes) -> bool:
        """`tail` (what follows the last whole row, no newline) is a whole row of this file."""
        if not tail:
            return True  # the header itself lacks its newline
        if tail.count(b'"') % 2:
            return False
        try:
            text = tail.decode("utf-8")
        except UnicodeDecodeError:  # cut inside a character
            return False
        records = list(csv.reader(io.StringIO(text, newline="")))
        return len(records) == 1 and len(records[0]) == len(self._file_columns())

    def _ensure_header(self) -> list[str]:
        """Write the header into a new file, or migrate an older file; return the file's columns."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                f.write(_format_row(self.columns, dict(zip(self.columns, self.columns))))
            return self.columns
        header = self._file_columns()
        missing = [c for c in self.columns if c not in header]
        if missing:
            self._migrate(header + missing)
            return header + missing
        return header

    def _file_columns(self) -> list[str]:
        with open(self.path, encoding="utf-8", newline="") as f:
            return next(csv.reader([f.readline()]))

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

    # -- reading ---------------------------------------------------------------------------------
    def _empty(self) -> bool:
        return not self.path.exists() or self.path.stat().st_size == 0

    def _text_columns(self) -> list[str]:
        return [c for c in self.columns if c in _TEXT_COLUMNS or c not in RUN_COLUMNS]

    def _parse(self, source: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """CSV text (header included) -> frame with every known column (or `columns`), text restored."""
        import pandas as pd

        text_cols = self._text_columns()
        wanted = list(columns) if columns is not None else self.columns
        frame = pd.read_csv(source, dtype={c: object for c in text_cols}, keep_default_na=False,
                            na_values={c: [""] for c in self.columns if c not in text_cols},
                            usecols=None if columns is None else lambda c: c in wanted)
        for column in wanted:
            if column not in frame.columns:
                frame[column] = "" if column in text_cols else pd.NA
        for column in frame.columns:
            if column in text_cols:
                frame[column] = _restored(frame[column])
        return frame if columns is None else frame[wanted]

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All rows as a DataFrame with every known column (missing ones filled), text restored.
        `columns` = only those (much less to parse on a big log when nothing is cached yet)."""
        import pandas as pd

        if self._empty():
            return pd.DataFrame(columns=self.columns if columns is None else list(columns))
        with self.lock:  # only to learn where the whole rows end (not half a row); the parse runs unlocked
            end = self.settle_tail()
            raw = open(self.path, "rb")
        key = None if columns is None else tuple(columns)
        with raw:
            inode = os.fstat(raw.fileno()).st_ino
            cached = self._cache.get(key)
            if cached and cached[0] == inode and cached[1] <= end and self.index:
                tail = self._rows_between(raw, cached[1], end, columns) if cached[1] < end else None
                frame = cached[2] if tail is None or not len(tail) else pd.concat([cached[2], tail], ignore_index=True)
            else:
                frame = self._parse(io.BufferedReader(_Limited(raw, end)), columns)
        if self.index:  # pandas copy-on-write: callers' changes never reach the cached frame
            self._cache[key] = (inode, end, frame)
        return frame.copy(deep=False)

    def _rows_between(self, raw: BinaryIO, start: int, end: int, columns: Sequence[str] | None) -> pd.DataFrame:
        """Rows in bytes [start, end) of the file parsed with the file's own header."""
        raw.seek(0)
        header = raw.readline()
        raw.seek(start)
        return self._parse(io.BytesIO(header + raw.read(end - start)), columns)

    def rows_at(self, spans: Sequence[tuple[int, int]]) -> pd.DataFrame:
        """The rows at (offset, length) spans, in that order."""
        with open(self.path, "rb") as raw:
            header = raw.readline()
            parts = []
            for offset, length in spans:
                raw.seek(offset)
                parts.append(raw.read(length))
        return self._parse(io.BytesIO(header + b"".join(parts)))


def _restored(column: pd.Series) -> pd.Series:
    """`restore` on a whole text column. A cheap test first (one join, in C) skips the column
    when no cell starts with the apostrophe, which is nearly always."""
    values = column.astype(object)
    try:
        joined = "\x00" + "\x00".join(values.tolist())
    except TypeError:  # a cell that is not text (a column filled in by hand): test every cell
        joined = "\x00'"
    return values.map(restore) if "\x00'" in joined else values


class RunLog:
    """runs.csv and ratings.csv of one DATA_DIR."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.runs = CsvLog(self.data_dir / "runs.csv", RUN_COLUMNS, index=IndexSpec())
        self.ratings = CsvLog(self.data_dir / "ratings.csv", RATING_COLUMNS)

    def run_dir(self, run_id: str) -> Path:
        return self.data_dir / "runs" / run_id

    def append(self, record: RunRecord) -> None:
        self.runs.append(record.as_row())

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every run (or only `columns` of every run), oldest first."""
        return self.runs.read(columns)

    def _records(self) -> np.ndarray | None:
        """The index records of every row, in sync with the CSV (None: no log yet)."""
        if self.runs._empty():
            return None
        assert self.runs.index is not None
        with self.runs.lock:
            self.runs.settle_tail()
            return self.runs.index.records(0, self.runs.index.sync())

    def latest(self, n: int = 100) -> pd.DataFrame:
        """The newest n runs, newest first (reads only those rows)."""
        import pandas as pd

        records = self._records()
        if records is None or not len(records) or n <= 0:
            return pd.DataFrame(columns=RUN_COLUMNS)
        tail = records[-n:]
        start, end = int(tail[0]["offset"]), int(tail[-1]["offset"]) + int(tail[-1]["length"])
        frame = self.runs.rows_at([(start, end - start)])
        return frame.iloc[::-1].reset_index(drop=True)

    def get(self, run_id: str) -> dict[str, object] | None:
        """The last row logged for run_id, or None (reads only candidate rows)."""
        import numpy as np

        records = self._records()
        if records is None:
            return None
        for i in np.flatnonzero(records["key"] == id_hash(run_id))[::-1]:
            row = self.runs.rows_at([(int(records[i]["offset"]), int(records[i]["length"]))])
            if len(row) and str(row.iloc[0]["run_id"]) == run_id:
                return row.iloc[0].to_dict()
        return None

    def spent_since(self, iso_time: str) -> float:
        """Dollars logged since a UTC ISO time (for the daily spend cap), from the index alone."""
        records = self._records()
        if records is None or not len(records):
            return 0.0
        since = epoch(iso_time)
        if math.isnan(since):
            raise ValueError(f"not an ISO 8601 time: {iso_time!r}")
        return float(records["amount"][records["time"] >= since].sum())

    def add_rating(self, row: Mapping[str, object]) -> None:
        self.ratings.append(row)

    def read_ratings(self) -> pd.DataFrame:
        return self.ratings.read()
