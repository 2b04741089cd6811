"""The run log's CSV text, cell by cell and row by row: the spreadsheet guard on text cells, cells
bounded and made loggable, one row per LF (a bare CR quoted), and reading rows back leniently
(a row's end found by counting quotes; rows that are not rows of the file found and named).
Shared by the log (csvlog) and its index (index)."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from playground.base.errors import loggable

if TYPE_CHECKING:
    import numpy as np


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")
CHUNK = 16 * 1024 * 1024  # bytes scanned at a time when (re)building an index
MAX_CELL_CHARS = 100_000  # any text cell: below the csv module's default field limit (131072)
SHORTENED_KEEP = 1000  # characters kept of a cell over its limit
_CR_STAND_INS = [chr(c) for c in range(0xFDD0, 0xFDF0)]  # Unicode noncharacters: stand-ins for a bare CR

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


def cell_values(columns: Sequence[str], row: Mapping[str, object]) -> list[object]:
    """The values written for a row: text made loggable and bounded (not yet neutralised)."""
    values = []
    for column in columns:
        value = row.get(column)
        if isinstance(value, str):
            value = shorten(loggable(value), MAX_CELL_CHARS)
        values.append("" if value is None else value)
    return values


def format_row(values: Sequence[object]) -> str:
    """One CSV row ending in LF. The writer's line terminator is CRLF so that it quotes a cell
    holding a bare CR too (with LF alone it would not, and the CR would split the row on
    reading); rows keep ending in LF, byte for byte as before."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(v) for v in values])
    return buffer.getvalue()[:-2] + "\n"


def split_row(raw: bytes, crlf: bool = False) -> tuple[list[str], bool]:
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


def row_chunks(src: BinaryIO, start: int, end: int) -> Any:
    """(offset, bytes, row ends) of the whole rows in src[start:end), a chunk at a time."""
    src.seek(start)
    offset, carry = start, b""
    while offset + len(carry) < end:
        chunk = carry + src.read(min(CHUNK, end - offset - len(carry)))
        ends = row_ends(chunk)
        if not len(ends):
            if offset + len(chunk) >= end:
                break  # a last row without its newline: not a whole row yet
            carry = chunk
            continue
        yield offset, chunk, ends
        used = int(ends[-1]) + 1
        offset, carry = offset + used, chunk[used:]


def row_ends(chunk: bytes) -> np.ndarray:
    """Positions of the newlines in `chunk` that end a CSV row (outside quotes). `chunk` starts
    at a row start; a newline inside a quoted cell follows an odd number of quote characters."""
    import numpy as np

    data = np.frombuffer(chunk, np.uint8)
    newlines = np.flatnonzero(data == 10)
    quotes = np.flatnonzero(data == 34)
    ends: np.ndarray = newlines[np.searchsorted(quotes, newlines) % 2 == 0]
    return ends


def damaged_rows(chunk: bytes, ends: np.ndarray, width: int) -> dict[int, str]:
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
    reasons = {
        int(i): f"{int(cells[i])} cells where the header has {width}" for i in np.flatnonzero((cells != width) & ~blank)
    }
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


def row_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, newline position) of each whole row of `data`."""
    ends = row_ends(data)
    starts = [0] + [int(e) + 1 for e in ends[:-1]]
    return list(zip(starts, (int(e) for e in ends)))


def header_cells(header: bytes) -> list[str]:
    return next(csv.reader([header.decode("utf-8", "replace").rstrip("\r\n")]), [])


def record_end(f: BinaryIO, start: int) -> int:
    """The offset just past the row starting at `start` (the header is a row too)."""
    f.seek(start)
    quotes, position = 0, start
    for line in f:
        position += len(line)
        quotes += line.count(b'"')
        if quotes % 2 == 0:
            break
    return position
