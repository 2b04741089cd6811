"""The run log: DATA_DIR/runs.csv, one row per run, and the append-only ratings.csv.

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

import csv
import io
import logging
import math
import os
import re
import struct
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from filelock import FileLock

from playground.base.errors import loggable
from playground.base.types import IMPORT_PROVIDER, MAX_PROMPT_CHARS, RUN_COLUMNS, RunRecord

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

RATING_COLUMNS = ["rated_at", "experiment_id", "run_id", "other_run_id", "verdict", "score", "rater"]
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")
_TEXT_COLUMNS = {f.name for f in fields(RunRecord) if f.type in ("str", str)}
_CHUNK = 16 * 1024 * 1024  # bytes scanned at a time when (re)building an index
MAX_CELL_CHARS = 100_000  # any text cell: below the csv module's default field limit (131072)
SHORTENED_KEEP = 1000  # characters kept of a cell over its limit
# The text cells of a refused run (status error, nothing sent) are logged up to what a run may
# take: MAX_PROMPT_CHARS each (a longer prompt was refused for its length; a model id or size
# is far shorter), beats as a JSON list of at most MAX_PROMPT_CHARS characters of beats (with
# quotes and escapes). So a refusal of any size adds a few kilobytes at most.
REFUSED_LIMITS = {"beats": 8 * MAX_PROMPT_CHARS}
DAMAGED = 1 << 40  # index key flag: the row cannot be read as a row of its file (see _damaged_rows)
_CR_STAND_INS = [chr(c) for c in range(0xFDD0, 0xFDF0)]  # Unicode noncharacters: stand-ins for a bare CR
log = logging.getLogger(__name__)

# Logs written before bare CRs were quoted, or by other tools, may hold cells of any length:
# the csv module reads them whole (its default stops at 131072 characters with an error).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would execute (and a user's own leading apostrophe)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def restore(value: object) -> object:
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def shorten(text: str, limit: int, keep: int = SHORTENED_KEEP) -> str:
    """`text` if it has at most `limit` characters, else its first `keep` and its length."""
    return text if len(text) <= limit else f"{text[:keep]}... [{len(text)} characters]"


def _cells(columns: Sequence[str], row: Mapping[str, object]) -> list[object]:
    """The values written for a row: text made loggable and bounded (not yet neutralised)."""
    values = []
    for column in columns:
        value = row.get(column)
        if isinstance(value, str):
            value = shorten(loggable(value), MAX_CELL_CHARS)
        values.append("" if value is None else value)
    return values


def _format_row(values: Sequence[object]) -> str:
    """One CSV row ending in LF. The writer's line terminator is CRLF so that it quotes a cell
    holding a bare CR too (with LF alone it would not, and the CR would split the row on
    reading); rows keep ending in LF, byte for byte as before."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(v) for v in values])
    return buffer.getvalue()[:-2] + "\n"


def id_hash(value: object) -> int:
    """A 32-bit checksum of a run id: the index finds candidate rows by it, and a candidate is
    confirmed on the row itself, so a collision costs one extra row read, never a wrong answer."""
    return zlib.crc32(loggable(str(value)).encode("utf-8"))


def epoch(iso_time: object) -> float:
    """Seconds since 1970 of an ISO 8601 time ("...Z" or with an offset; naive = UTC); NaN if unreadable."""
    text = str(iso_time or "").strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return math.nan
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC).timestamp()
    return moment.timestamp()


def _number(value: object) -> float:
    try:
        number = float(str(value)) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


def _row_cells(raw: bytes, crlf: bool = False) -> tuple[list[str], bool]:
    """The cells of one row (its bytes, newline or not), read leniently, and whether its bytes are
    UTF-8. A bare CR stays in its cell (older versions wrote it unquoted); bad bytes read as U+FFFD."""
    try:
        text, utf8 = raw.decode("utf-8"), True
    except UnicodeDecodeError:
        text, utf8 = raw.decode("utf-8", "replace"), False
    text = text[:-1] if text.endswith("\n") else text
    text = text[:-1] if crlf and text.endswith("\r") else text
    stand_in = next((c for c in _CR_STAND_INS if c not in text), "")
    if stand_in:
        text = text.replace("\r", stand_in)
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return [], utf8
    cells = [cell for record in records for cell in record]
    return ([c.replace(stand_in, "\r") for c in cells] if stand_in else cells), utf8


@dataclass(frozen=True)
class IndexSpec:
    """Which columns the index keeps per row (a key to find a row, a time and an amount to sum).
    A row whose `source` column says `not_spend` (an imported run) adds 0 to the amount."""

    key: str = "run_id"
    time: str = "created_at"
    amount: str = "cost_usd"
    source: str = "provider"
    not_spend: str = IMPORT_PROVIDER

    def spend(self, amount: float, source: object) -> float:
        """What a row adds to the spend: its amount, never negative, 0 for a run made elsewhere."""
        return 0.0 if str(source) == self.not_spend or not amount > 0 else amount


class RowIndex:
    """path.idx: a 32-byte header (magic, the CSV's inode, size and mtime when the index last
    matched it) then one record per row: offset, length, time (epoch s), spend, key checksum
    (| DAMAGED for a row set aside)."""

    MAGIC = b"PGRIDX2\0"  # 2: spend leaves imports out, damaged rows are flagged (older indexes are rebuilt)
    HEADER = struct.Struct("<8sQQQ")

    def __init__(self, csv_path: Path, spec: IndexSpec,
                 set_aside: Callable[[list[tuple[int, bytes, str]]], None] | None = None) -> None:
        self.csv_path, self.spec = csv_path, spec
        self.path = csv_path.with_name(csv_path.name + ".idx")
        self.set_aside = set_aside  # called with the damaged rows each (re)indexing finds

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
        spend = self.spec.spend(_number(row.get(self.spec.amount)), row.get(self.spec.source, ""))
        record[0] = (offset, length, epoch(row.get(self.spec.time)), spend, id_hash(row.get(self.spec.key, "")))
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
            header = f.readline()
            f.seek(int(last["offset"]))
            raw = f.read(int(last["length"]))
        if not raw.endswith(b"\n"):
            return False
        names, crlf = _header_cells(header), header.endswith(b"\r\n")
        cells, _ = _row_cells(raw, crlf)
        at = names.index(self.spec.key) if self.spec.key in names else -1
        return 0 <= at < len(cells) and id_hash(restore(cells[at])) == int(last["key"]) & ~DAMAGED

    def _index_range(self, start: int, end: int) -> int:
        """Index the whole rows in csv[start:end) and append their records; return how many."""
        added = 0
        with open(self.csv_path, "rb") as src, open(self.path, "ab") as dst:
            header = src.read(self._header_length())
            for base, chunk, ends in _row_chunks(src, start, end):
                records, damaged = _records(header, chunk, ends, base, self.spec)
                dst.write(records.tobytes())
                added += len(ends)
                if damaged and self.set_aside:
                    self.set_aside(damaged)
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


def _row_chunks(src: BinaryIO, start: int, end: int) -> Any:
    """(offset, bytes, row ends) of the whole rows in src[start:end), a chunk at a time."""
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
        yield offset, chunk, ends
        used = int(ends[-1]) + 1
        offset, carry = offset + used, chunk[used:]


def _row_ends(chunk: bytes) -> np.ndarray:
    """Positions of the newlines in `chunk` that end a CSV row (outside quotes). `chunk` starts
    at a row start; a newline inside a quoted cell follows an odd number of quote characters."""
    import numpy as np

    data = np.frombuffer(chunk, np.uint8)
    newlines = np.flatnonzero(data == 10)
    quotes = np.flatnonzero(data == 34)
    ends: np.ndarray = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
    return ends


def _damaged_rows(chunk: bytes, ends: np.ndarray, width: int) -> dict[int, str]:
    """{row number: why} for the rows of `chunk` (ending at `ends`) that are not rows of a file
    with `width` columns: bytes that are not UTF-8, or more or fewer cells (commas outside
    quotes + 1) than the header. A blank line is no row and no damage (readers skip it)."""
    import numpy as np

    data = np.frombuffer(chunk, np.uint8)
    stop = int(ends[-1]) + 1 if len(ends) else 0
    quotes = np.flatnonzero(data[:stop] == 34)  # in pairs: each quoted stretch lies within one row
    commas = np.flatnonzero(data[:stop] == 44)
    inside = np.searchsorted(commas, quotes[1::2]) - np.searchsorted(commas, quotes[0::2])
    per_row = np.diff(np.searchsorted(commas, ends), prepend=0)
    per_row -= np.bincount(np.searchsorted(ends, quotes[0::2]), weights=inside, minlength=len(ends)).astype(np.int64)
    cells = per_row + 1  # commas outside quotes, plus one
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    sizes = ends - starts  # without the newline
    blank = (sizes == 0) | ((sizes == 1) & (data[np.minimum(starts, len(data) - 1)] == 13))
    reasons = {int(i): f"{int(cells[i])} cells where the header has {width}"
               for i in np.flatnonzero((cells != width) & ~blank)}
    view, position = memoryview(chunk), 0
    while position < stop:
        try:
            str(view[position:stop], "utf-8")
            break
        except UnicodeDecodeError as exc:
            row = int(np.searchsorted(ends, position + exc.start))
            reasons[row] = f"bytes that are not UTF-8 (at byte {position + exc.start - int(starts[row])} of the row)"
            position = int(ends[row]) + 1
    return reasons


def _records(header: bytes, chunk: bytes, ends: np.ndarray, base: int,
             spec: IndexSpec) -> tuple[np.ndarray, list[tuple[int, bytes, str]]]:
    """Index records of the rows of `chunk` that end at `ends`, and the damaged ones among them
    as (offset, bytes, why). pandas parses the cells of the good rows; a damaged row gets the
    DAMAGED flag and what can be read of it leniently (its spend still counts if readable)."""
    import numpy as np

    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    names, crlf = _header_cells(header), header.endswith(b"\r\n")
    damaged = _damaged_rows(chunk, ends, len(names))
    good = np.ones(len(ends), bool)
    good[list(damaged)] = False
    body = chunk[: int(ends[-1]) + 1] if not damaged else b"".join(
        chunk[int(s): int(e) + 1] for s, e, ok in zip(starts, ends, good) if ok)
    keys, times, amounts, sources = [np.array([], object)] * 4
    if good.any():
        keys, times, amounts, sources = _index_cells(header, body, int(good.sum()), spec, names, crlf)
    rows = np.flatnonzero(good)
    out = np.zeros(len(starts), RowIndex.dtype())
    out["offset"], out["length"] = starts + base, ends - starts + 1
    out["key"][rows] = [id_hash(restore(k)) for k in keys]
    out["time"][rows] = _epochs(times)
    spend = _amounts(amounts)
    spend[(spend < 0) | (np.asarray(sources, dtype=object) == spec.not_spend)] = 0.0  # as IndexSpec.spend
    out["amount"][rows] = spend
    aside = []
    for i, why in sorted(damaged.items()):
        raw = chunk[int(starts[i]): int(ends[i]) + 1]
        cells, _ = _row_cells(raw, crlf)
        cell = dict(zip(names, cells))
        out[i]["key"] = id_hash(restore(cell.get(spec.key, ""))) | DAMAGED
        out[i]["time"] = epoch(cell.get(spec.time))
        out[i]["amount"] = spec.spend(_number(cell.get(spec.amount)), cell.get(spec.source, ""))
        aside.append((int(starts[i]) + base, raw, why))
    return out, aside


def _index_cells(header: bytes, body: bytes, rows: int, spec: IndexSpec, names: list[str],
                 crlf: bool) -> tuple[Any, Any, Any, Any]:
    """Key, time, amount and source cells of `rows` whole rows (pandas; csv row by row when
    pandas delimits rows otherwise than the quote count does, in a file edited by hand)."""
    import pandas as pd

    columns = (spec.key, spec.time, spec.amount, spec.source)
    try:
        cells = pd.read_csv(io.BytesIO(header + body), usecols=[c for c in columns if c in names], dtype=object,
                            keep_default_na=False, skip_blank_lines=False, index_col=False,
                            lineterminator=None if crlf else "\n")
    except ValueError:  # pandas' ParserError is one
        cells = None
    if cells is None or len(cells) != rows:
        lines = [body[int(s): int(e) + 1] for s, e in _spans(body)]
        parsed = [dict(zip(names, _row_cells(line, crlf)[0])) for line in lines]
        return tuple([row.get(c, "") for row in parsed] for c in columns)  # type: ignore[return-value]
    empty = [""] * len(cells)
    return tuple(cells[c].tolist() if c in cells else empty for c in columns)  # type: ignore[return-value]


def _spans(data: bytes) -> list[tuple[int, int]]:
    """(start, newline position) of each whole row of `data`."""
    ends = _row_ends(data)
    starts = [0] + [int(e) + 1 for e in ends[:-1]]
    return list(zip(starts, (int(e) for e in ends)))


def _epochs(times: Any) -> Any:
    import pandas as pd

    stamps = pd.to_datetime(pd.Series(list(times), dtype=object), utc=True, errors="coerce", format="ISO8601")
    return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(float)  # NaT -> NaN


def _amounts(amounts: Any) -> Any:
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(pd.Series(list(amounts), dtype=object).replace("", "0"), errors="coerce")
    numbers = values.fillna(0.0).to_numpy(float)
    return np.where(np.isfinite(numbers), numbers, 0.0)


def _header_cells(header: bytes) -> list[str]:
    return next(csv.reader([header.decode("utf-8", "replace").rstrip("\r\n")]), [])


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
            values = _cells(header, row)
            text = _format_row(values).encode("utf-8")
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
            ends = _row_ends(f.read())  # newlines outside quotes
        return int(ends[-1]) + 1 if len(ends) else 0

    def _whole_row(self, tail: bytes) -> bool:
        """`tail` (what follows the last whole row, no newline) is a whole row of this file."""
        if not tail:
            return True  # the header itself lacks its newline
        if tail.count(b'"') % 2:
            return False
        cells, utf8 = _row_cells(tail)
        return utf8 and len(cells) == len(self._file_columns())  # not UTF-8: cut inside a character

    def _ensure_header(self) -> list[str]:
        """Write the header into a new file, or migrate an older file; return the file's columns."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "w", encoding="utf-8", newline="") as f:
                f.write(_format_row(self.columns))
            return self.columns
        header = self._file_columns()
        missing = [c for c in self.columns if c not in header]
        if missing:
            self._migrate(header + missing)
            return header + missing
        return header

    def _file_columns(self) -> list[str]:
        with open(self.path, "rb") as f:
            return _header_cells(f.readline())

    def _migrate(self, columns: list[str]) -> None:
        """Rewrite the file with new trailing columns, atomically: each row gets empty cells
        before its own line ending, its bytes otherwise as they were; a damaged row is copied
        as it is (it stays set aside)."""
        tmp = self.path.with_name(self.path.name + ".migrating")
        with open(self.path, "rb") as src, open(tmp, "wb") as dst:
            length = _record_end(src, 0)
            src.seek(0)
            header = src.read(length)
            width, crlf = len(_header_cells(header)), header.endswith(b"\r\n")
            newline = b"\r\n" if crlf else b"\n"
            dst.write(_format_row(columns).encode("utf-8")[:-1] + newline)
            pad = b"," * (len(columns) - width)
            for _, chunk, ends in _row_chunks(src, len(header), os.fstat(src.fileno()).st_size):
                damaged = _damaged_rows(chunk, ends, width)
                start = 0
                for i, end in enumerate(ends):
                    row, start = chunk[start: int(end) + 1], int(end) + 1
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
        log.warning("%s: %d damaged row(s) set aside (left out of reads, kept in the file, copied to %s): %s",
                    self.path.name, len(new), self.aside_path.name, "; ".join(f"byte {o}: {w}" for o, _, w in new))

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
        frame = pd.read_csv(source, dtype={c: object for c in text_cols}, keep_default_na=False,
                            na_values={c: [""] for c in self.columns if c not in text_cols},
                            usecols=None if columns is None else lambda c: c in wanted, index_col=False,
                            lineterminator=None if crlf else "\n")
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

    def _rows_between(self, raw: io.BufferedReader, start: int | None, end: int,
                      columns: Sequence[str] | None) -> pd.DataFrame:
        """Rows in bytes [start, end) of the file (None: from the first row) parsed with the file's
        own header, damaged rows left out."""
        raw.seek(0)
        header = raw.readline()
        crlf = header.endswith(b"\r\n")
        first = _record_end(raw, 0) if start is None else start
        skip = self.damaged_spans(first, end) if self.index else None
        if skip is None:  # no index to say which rows are damaged: look at them here
            raw.seek(first)
            data, skip = raw.read(end - first), []
            ends = _row_ends(data)
            damaged = _damaged_rows(data, ends, len(_header_cells(header))) if len(ends) else {}
            self._unindexed_damage = len(damaged)
            if damaged:
                starts = [0] + [int(e) + 1 for e in ends[:-1]]
                rows = [(first + starts[i], data[starts[i]: int(ends[i]) + 1], why) for i, why in damaged.items()]
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


class RunLog:
    """runs.csv and ratings.csv of one DATA_DIR."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.runs = CsvLog(self.data_dir / "runs.csv", RUN_COLUMNS, index=IndexSpec())
        self.ratings = CsvLog(self.data_dir / "ratings.csv", RATING_COLUMNS)

    def run_dir(self, run_id: str) -> Path:
        return self.data_dir / "runs" / run_id

    def append(self, record: RunRecord) -> None:
        row = record.as_row()
        if record.status == "error" and not record.api_calls:  # refused: its inputs may be any size
            row.update({c: shorten(loggable(v), REFUSED_LIMITS.get(c, MAX_PROMPT_CHARS)) for c, v in row.items()
                        if isinstance(v, str)})
        self.runs.append(row)

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
        parts = [f"{name} has {n} damaged row(s) (bytes that are not UTF-8, or the wrong number of cells)"
                 f", copied to {aside}" for name, aside, n in counts if n]
        if not parts:
            return ""
        return ("; ".join(parts) + ". They are left out of History and Analysis and stay in the file unchanged: "
                "fix or remove them there.")

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
