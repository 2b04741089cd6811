"""The one place where a run's typed values and runs.csv's text meet. RunRecord types its list and
mapping columns; here they are encoded as JSON exactly as the log has always written them (so
existing logs stay byte-compatible), and every cell is decoded back: from the CSV's text
(record_from_cells) or from a row as pandas reads it (record_from_row)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from playground.base.types import RunRecord
from playground.store.csvtext import restore

# the JSON columns -> the ensure_ascii they have always been written with; None is an empty cell
# and stays apart from an empty list or mapping ("[]", "{}": a run whose frame errors all recovered)
JSON_COLUMNS: dict[str, bool] = {
    "beats": False,
    "request_ids": True,
    "frame_errors": False,
    "composed_prompts": False,
    "ref_hashes": True,
    "reference_frames": True,
}
_FIELD_TYPES = {f.name: str(f.type) for f in dataclasses.fields(RunRecord)}


def row_of(record: RunRecord) -> dict[str, object]:
    """The record as the cells of its row (what RunLog.append writes)."""
    return {name: encode(name, value) for name, value in record.as_row().items()}


def encode(name: str, value: object) -> object:
    if name not in JSON_COLUMNS:
        return value
    if value is None:
        return ""
    if isinstance(value, Mapping):  # frame_errors: JSON keys are text
        value = {str(k): v for k, v in value.items()}
    return json.dumps(value, ensure_ascii=JSON_COLUMNS[name])


def decode_json(name: str, text: object) -> Any:
    """A JSON column's cell as its value: None for an empty cell (or one that is not the JSON its
    column holds: a hand edit), a list of text, or frame_errors as {frame number: reason}."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if name == "frame_errors":
        return {int(k): str(v) for k, v in value.items() if str(k).isdigit()} if isinstance(value, dict) else None
    if name == "reference_frames":  # {frame number: the frame it took as its reference}
        return (
            {int(k): int(v) for k, v in value.items() if str(k).isdigit() and str(v).isdigit()}
            if isinstance(value, dict)
            else None
        )
    return [str(v) for v in value] if isinstance(value, list) else None


def plain(value: Any) -> Any:
    """A CSV cell as plain JSON: NaN/NA -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    try:
        if value != value:  # NaN and pandas.NA
            return None
    except TypeError:
        return None
    return value


def record_from_row(row: Mapping[str, object]) -> RunRecord:
    """A row as pandas reads it (runs.csv's text restored, numbers as floats where a column has
    empty cells) -> its RunRecord."""
    values: dict[str, Any] = {}
    for name, kind in _FIELD_TYPES.items():
        if name not in row:
            continue
        value = plain(row[name])
        if name in JSON_COLUMNS:
            value = decode_json(name, value)
        elif kind.startswith("int") and isinstance(value, float) and value.is_integer():
            value = int(value)
        values[name] = value
    return RunRecord(**values)


def record_from_cells(cells: Mapping[str, str]) -> RunRecord:
    """A row of runs.csv as the csv module reads it (every cell text) -> its RunRecord: text as
    the app shows it (the spreadsheet guard taken off), numbers as numbers, an empty cell as
    None where the column may be empty."""
    values: dict[str, Any] = {}
    for name, kind in _FIELD_TYPES.items():
        if name not in cells:
            continue
        cell = cells[name]
        if name in JSON_COLUMNS:
            values[name] = decode_json(name, restore(cell))
        elif kind == "str":
            values[name] = restore(cell)
        elif cell == "" and kind.endswith("| None"):
            values[name] = None
        elif kind.startswith("int"):
            values[name] = int(cell)
        elif kind.startswith("float"):
            values[name] = float(cell)
        else:
            values[name] = cell
    return RunRecord(**values)
