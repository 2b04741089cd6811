"""Rows of the run log as typed records: the cells of runs.csv (as its text, or as pandas reads
them) back to a RunRecord, which RunLog.append writes back byte for byte."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from playground.base.types import RunRecord
from playground.store.csvtext import restore

_FIELD_TYPES = {f.name: str(f.type) for f in dataclasses.fields(RunRecord)}


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


def record_from_row(row: dict[str, object]) -> RunRecord:
    return RunRecord(**{k: plain(v) for k, v in row.items() if k in RunRecord.columns()})


def json_list(text: str | None) -> list[Any]:
    try:
        value = json.loads(text or "[]")
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def record_from_cells(cells: Mapping[str, str]) -> RunRecord:
    """A row of runs.csv as the csv module reads it (every cell text) -> its RunRecord: text as
    the app shows it (the spreadsheet guard taken off), numbers as numbers, an empty cell as
    None where the column may be empty."""
    values: dict[str, Any] = {}
    for name, kind in _FIELD_TYPES.items():
        if name not in cells:
            continue
        cell = cells[name]
        if kind == "str":
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
