"""runs.csv.idx, the run log's index: one fixed-size record per row (its byte offset, length,
time, spend and a checksum of its key, with a flag for a damaged row), kept in step with the
CSV under its lock, so `latest`, `get` and `spent_since` read only the rows they need."""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from playground.base.errors import loggable
from playground.base.types import IMPORT_PROVIDER
from playground.store.csvtext import damaged_rows, header_cells, record_end, restore, row_chunks, row_spans, split_row

if TYPE_CHECKING:
    import numpy as np


DAMAGED = 1 << 40  # index key flag: the row cannot be read as a row of its file (see damaged_rows)


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


def number(value: object) -> float:
    try:
        number = float(str(value)) if value not in (None, "") else 0.0
    except ValueError:
        return 0.0
    return number if math.isfinite(number) else 0.0


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

    def __init__(
        self, csv_path: Path, spec: IndexSpec, set_aside: Callable[[list[tuple[int, bytes, str]]], None] | None = None
    ) -> None:
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
        spend = self.spec.spend(number(row.get(self.spec.amount)), row.get(self.spec.source, ""))
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
            return record_end(f, 0)

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
        names, crlf = header_cells(header), header.endswith(b"\r\n")
        cells, _ = split_row(raw, crlf)
        at = names.index(self.spec.key) if self.spec.key in names else -1
        return 0 <= at < len(cells) and id_hash(restore(cells[at])) == int(last["key"]) & ~DAMAGED

    def _index_range(self, start: int, end: int) -> int:
        """Index the whole rows in csv[start:end) and append their records; return how many."""
        added = 0
        with open(self.csv_path, "rb") as src, open(self.path, "ab") as dst:
            header = src.read(self._header_length())
            for base, chunk, ends in row_chunks(src, start, end):
                records, damaged = index_records(header, chunk, ends, base, self.spec)
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


def index_records(
    header: bytes, chunk: bytes, ends: np.ndarray, base: int, spec: IndexSpec
) -> tuple[np.ndarray, list[tuple[int, bytes, str]]]:
    """Index records of the rows of `chunk` that end at `ends`, and the damaged ones among them
    as (offset, bytes, why). pandas parses the cells of the good rows; a damaged row gets the
    DAMAGED flag and what can be read of it leniently (its spend still counts if readable)."""
    import numpy as np

    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    names, crlf = header_cells(header), header.endswith(b"\r\n")
    damaged = damaged_rows(chunk, ends, len(names))
    good = np.ones(len(ends), bool)
    good[list(damaged)] = False
    body = (
        chunk[: int(ends[-1]) + 1]
        if not damaged
        else b"".join(chunk[int(s) : int(e) + 1] for s, e, ok in zip(starts, ends, good) if ok)
    )
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
        raw = chunk[int(starts[i]) : int(ends[i]) + 1]
        cells, _ = split_row(raw, crlf)
        cell = dict(zip(names, cells))
        out[i]["key"] = id_hash(restore(cell.get(spec.key, ""))) | DAMAGED
        out[i]["time"] = epoch(cell.get(spec.time))
        out[i]["amount"] = spec.spend(number(cell.get(spec.amount)), cell.get(spec.source, ""))
        aside.append((int(starts[i]) + base, raw, why))
    return out, aside


def _index_cells(
    header: bytes, body: bytes, rows: int, spec: IndexSpec, names: list[str], crlf: bool
) -> tuple[Any, Any, Any, Any]:
    """Key, time, amount and source cells of `rows` whole rows (pandas; csv row by row when
    pandas delimits rows otherwise than the quote count does, in a file edited by hand)."""
    import pandas as pd

    columns = (spec.key, spec.time, spec.amount, spec.source)
    try:
        cells = pd.read_csv(
            io.BytesIO(header + body),
            usecols=[c for c in columns if c in names],
            dtype=object,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
            lineterminator=None if crlf else "\n",
        )
    except ValueError:  # pandas' ParserError is one
        cells = None
    if cells is None or len(cells) != rows:
        lines = [body[int(s) : int(e) + 1] for s, e in row_spans(body)]
        parsed = [dict(zip(names, split_row(line, crlf)[0])) for line in lines]
        return tuple([row.get(c, "") for row in parsed] for c in columns)  # type: ignore[return-value]
    empty = [""] * len(cells)
    return tuple(cells[c].tolist() if c in cells else empty for c in columns)  # type: ignore[return-value]


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
