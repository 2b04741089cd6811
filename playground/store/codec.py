"""Rows of the run log as typed records: a CSV cell (as pandas reads it) back to plain Python."""

from __future__ import annotations

import json
from typing import Any

from playground.base.types import RunRecord


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
