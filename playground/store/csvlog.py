"""One append-only CSV log (runs.csv, ratings.csv, a writer's synced file): appends under a
cross-process lock, the end of the file settled before every read and append, older files
migrated to new columns, damaged rows set aside, and reads parsed with pandas, cached and
extended by the rows appended since (the guarantees: runlog.py)."""

from __future__ import annotations

import io
import logging
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock

from playground.base.types import RUN_COLUMNS, RunRecord
from playground.store.codec import JSON_COLUMNS
from playground.store.csvtext import (
    cell_values,
    damaged_rows,
    format_row,
    header_cells,
    record_end,
    restore,
    row_chunks,
    row_ends,
    split_row,
)
from playground.store.index import DAMAGED, IndexSpec, RowIndex

log = logging.getLogger("playground.store.runlog")  # one logger for the run log's warnings

if TYPE_CHECKING:
    import pandas as pd


# text columns: read as text and restored (the JSON columns too: they are text in the file)
_TEXT_COLUMNS = {f.name for f in fields(RunRecord) if f.type in ("str", str)} | set(JSON_COLUMNS)


class _Limited(io.RawIOBase):
    """The first `limit` bytes of a file (rows appended meanwhile are left for the next read)."""

    def __init__(self, raw: io.BufferedReader, limit: int) -> None:
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
        self.index = RowIndex(path, index, self._set_aside) if index else None
        self.aside_path = path.with_name(path.name + ".damaged")
        # read()'s frames by column set: (inode, bytes parsed, frame); later reads parse only new rows
        self._cache: dict[tuple[str, ...] | None, tuple[int, int, pd.DataFrame]] = {}
        self._damage: tuple[int, int, list[tuple[int, int]]] = (-1, 0, [])  # (inode, records seen, damaged spans)
        self._unindexed_damage = 0  # damaged rows the last read of a log without index left out

    # -- writing ---------------------------------------------------------------------------------
    def append(self, row: Mapping[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            self.settle_tail(set_aside_torn=True)
            header = self._ensure_header()
            if self.index:
                self.index.sync()
            values = cell_values(header, row)
            text = format_row(values).encode("utf-8")
            with open(self.path, "ab") as f:
                offset = f.tell()
                f.write(text)
            if self.index:
                self.index.added(offset, len(text), dict(zip(header, values)))

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
            ends = row_ends(f.read())  # newlines outside quotes
        return int(ends[-1]) + 1 if len(ends) else 0

    def _whole_row(self, tail: bytes) -> bool:
        """`tail` (what follows the last whole row, no newline) is a whole row of this file."""
        if not tail:
            return True  # the header itself lacks its newline
        if tail.count(b'"') % 2:
            return False
        cells, utf8 = split_row(tail)
        return utf8 and len(cells) == len(self._file_columns())  # not UTF-8: cut inside a character

    def _ensure_header(self) -> list[str]:
        """Write the header into a new file, or migrate an older file; return the file's columns."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                f.write(format_row(self.columns))
            return self.columns
        header = self._file_columns()
        missing = [c for c in self.columns if c not in header]
        if missing:
            self._migrate(header + missing)
            return header + missing
        return header

    def _file_columns(self) -> list[str]:
        with open(self.path, "rb") as f:
            return header_cells(f.readline())

    def _migrate(self, columns: list[str]) -> None:
        """Rewrite the file with new trailing columns, atomically: each row gets empty cells
        before its own line ending, its bytes otherwise as they were; a damaged row is copied
        as it is (it stays set aside)."""
        tmp = self.path.with_name(self.path.name + ".migrating")
        with open(self.path, "rb") as src, open(tmp, "wb") as dst:
            length = record_end(src, 0)
            src.seek(0)
            header = src.read(length)
            width, crlf = len(header_cells(header)), header.endswith(b"\r\n")
            newline = b"\r\n" if crlf else b"\n"
            dst.write(format_row(columns).encode("utf-8")[:-1] + newline)
            pad = b"," * (len(columns) - width)
            for _, chunk, ends in row_chunks(src, len(header), os.fstat(src.fileno()).st_size):
                damaged = damaged_rows(chunk, ends, width)
                start = 0
                for i, end in enumerate(ends):
                    row, start = chunk[start : int(end) + 1], int(end) + 1
                    if i in damaged or row in (b"\n", b"\r\n"):
                        dst.write(row)
                        continue
                    cut = len(row) - (2 if crlf and row.endswith(b"\r\n") else 1)
                    dst.write(row[:cut] + pad + row[cut:])
        os.replace(tmp, self.path)

    # -- damaged rows ----------------------------------------------------------------------------
    def _set_aside(self, rows: list[tuple[int, bytes, str]]) -> None:
        """Copy damaged rows (offset, bytes, why) to <name>.damaged, each once (known by a checksum
        of its bytes: a migration moves it), and warn. They stay in the log itself byte for byte:
        nothing logged is lost or altered."""
        with self.lock:
            known = self._aside_known()
            new = [(o, raw, why) for o, raw, why in rows if zlib.crc32(raw) not in known]
            if not new:
                return
            stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            with open(self.aside_path, "ab") as f:
                for offset, raw, why in new:
                    note = f"# {self.path.name} row at byte {offset} (crc {zlib.crc32(raw):08x}): {why}; set aside {stamp}\n"
                    f.write(note.encode("utf-8") + raw + (b"" if raw.endswith(b"\n") else b"\n"))
        log.warning(
            "%s: %d damaged row(s) set aside (left out of reads, kept in the file, copied to %s): %s",
            self.path.name,
            len(new),
            self.aside_path.name,
            "; ".join(f"byte {o}: {w}" for o, _, w in new),
        )

    def _aside_known(self) -> set[int]:
        try:
            text = self.aside_path.read_bytes()
        except FileNotFoundError:
            return set()
        return {int(crc, 16) for crc in re.findall(rb"^# .* row at byte \d+ \(crc ([0-9a-f]{8})\): ", text, re.M)}

    def damaged_spans(self, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
        """(offset, length) of the damaged rows the index knows in [start, end), oldest first
        (a cache: only records added since the last call are scanned)."""
        if not self.index or self._empty():
            return []
        inode, count = self.path.stat().st_ino, self.index.count()
        seen_inode, seen, spans = self._damage
        if seen_inode != inode or count < seen:
            seen, spans = 0, []
        if count > seen:
            new = self.index.records(seen, count)
            bad = new[(new["key"] & DAMAGED) != 0]
            spans = spans + [(int(o), int(n)) for o, n in zip(bad["offset"], bad["length"])]
            self._damage = (inode, count, spans)
        return [(o, n) for o, n in spans if o >= start and (end is None or o + n <= end)]

    def damaged_count(self) -> int:
        """Damaged rows left out of reads (as of the last sync or read)."""
        return len(self.damaged_spans()) if self.index else self._unindexed_damage

    # -- reading ---------------------------------------------------------------------------------
    def _empty(self) -> bool:
        return not self.path.exists() or self.path.stat().st_size == 0

    def _text_columns(self) -> list[str]:
        return [c for c in self.columns if c in _TEXT_COLUMNS or c not in RUN_COLUMNS]

    def _parse(self, source: Any, columns: Sequence[str] | None = None, crlf: bool = False) -> pd.DataFrame:
        """CSV text (header included) -> frame with every known column (or `columns`), text restored.
        Rows end at LF only (a bare CR older versions left unquoted stays in its cell), except in
        a file whose header ends in CRLF (saved by a spreadsheet)."""
        import pandas as pd

        text_cols = self._text_columns()
        wanted = list(columns) if columns is not None else self.columns
        frame = pd.read_csv(
            source,
            dtype={c: object for c in text_cols},
            keep_default_na=False,
            na_values={c: [""] for c in self.columns if c not in text_cols},
            usecols=None if columns is None else lambda c: c in wanted,
            index_col=False,
            lineterminator=None if crlf else "\n",
        )
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
                frame = self._rows_between(raw, None, end, columns)
        if self.index:  # pandas copy-on-write: callers' changes never reach the cached frame
            self._cache[key] = (inode, end, frame)
        return frame.copy(deep=False)

    def _rows_between(
        self, raw: io.BufferedReader, start: int | None, end: int, columns: Sequence[str] | None
    ) -> pd.DataFrame:
        """Rows in bytes [start, end) of the file (None: from the first row) parsed with the file's
        own header, damaged rows left out."""
        raw.seek(0)
        header = raw.readline()
        crlf = header.endswith(b"\r\n")
        first = record_end(raw, 0) if start is None else start
        skip = self.damaged_spans(first, end) if self.index else None
        if skip is None:  # no index to say which rows are damaged: look at them here
            raw.seek(first)
            data, skip = raw.read(end - first), []
            ends = row_ends(data)
            damaged = damaged_rows(data, ends, len(header_cells(header))) if len(ends) else {}
            self._unindexed_damage = len(damaged)
            if damaged:
                starts = [0] + [int(e) + 1 for e in ends[:-1]]
                rows = [(first + starts[i], data[starts[i] : int(ends[i]) + 1], why) for i, why in damaged.items()]
                self._set_aside(rows)
                skip = [(o, len(b)) for o, b, _ in rows]
        if start is None and not skip:  # the whole file as it is: parse straight from it
            raw.seek(0)
            return self._parse(io.BufferedReader(_Limited(raw, end)), columns, crlf)
        parts, at = [], first
        for offset, length in sorted(skip) + [(end, 0)]:
            raw.seek(at)
            parts.append(raw.read(offset - at))
            at = offset + length
        return self._parse(io.BytesIO(header + b"".join(parts)), columns, crlf)

    def rows_at(self, spans: Sequence[tuple[int, int]]) -> pd.DataFrame:
        """The rows at (offset, length) spans, in that order."""
        with open(self.path, "rb") as raw:
            header = raw.readline()
            parts = []
            for offset, length in spans:
                raw.seek(offset)
                parts.append(raw.read(length))
        return self._parse(io.BytesIO(header + b"".join(parts)), crlf=header.endswith(b"\r\n"))


def _restored(column: pd.Series) -> pd.Series:
    """`restore` on a whole text column. A cheap test first (one join, in C) skips the column
    when no cell starts with the apostrophe, which is nearly always."""
    values = column.astype(object)
    try:
        joined = "\x00" + "\x00".join(values.tolist())
    except TypeError:  # a cell that is not text (a column filled in by hand): test every cell
        joined = "\x00'"
    return values.map(restore) if "\x00'" in joined else values
