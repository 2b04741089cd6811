"""Tags and notes per run, appended to DATA_DIR/annotations.csv (beside ratings.csv): one row
each, never rewritten; a tag is removed by an `untag` row, and a run's tags and notes are the
rows replayed in order. The file is never served (ui.limits blocks it) and keeps no key; with
the Hub sync on it goes up as annotations/<writer>.csv and every writer's rows are replayed."""

# no `from __future__ import annotations`: this module's function `annotations` takes that name

import re
from dataclasses import dataclass, field
from pathlib import Path

from playground.base.errors import InputError
from playground.base.ids import utc_now
from playground.base.ratings import ANNOTATION_COLUMNS, ANNOTATIONS_FILE
from playground.core.playground import Playground
from playground.store import merged
from playground.store.csvlog import CsvLog

KINDS = ("tag", "untag", "note")
TAG = re.compile(r"^[\w.-]{1,32}$")
MAX_NOTE_CHARS = 2000
MAX_AUTHOR_CHARS = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# annotations.csv stops taking rows past this size: the note and tag events are reachable by
# anyone (raw queue calls too) and could otherwise grow it without end. About 30,000 long notes.
MAX_ANNOTATIONS_BYTES = 64 * 1024 * 1024


@dataclass
class Annotations:
    tags: list[str] = field(default_factory=list)  # in the order they were added
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # (at, author, text), newest first


def annotation_log(data_dir: Path) -> CsvLog:
    return CsvLog(Path(data_dir) / ANNOTATIONS_FILE, ANNOTATION_COLUMNS)


def _annotate(playground: Playground, run_id: str, kind: str, value: str, author: str, source: str) -> None:
    run_id = (run_id or "").strip()
    if not run_id or merged.get(playground, run_id) is None:
        raise InputError(f"no run {run_id!r} in the log")
    name = _CONTROL.sub("", author or "").strip()
    if len(name) > MAX_AUTHOR_CHARS:
        raise InputError(f"author is at most {MAX_AUTHOR_CHARS} characters, got {len(name)}")
    log = annotation_log(playground.settings.data_dir)
    if log.path.exists() and log.path.stat().st_size >= MAX_ANNOTATIONS_BYTES:
        raise InputError(
            f"annotations.csv is full ({MAX_ANNOTATIONS_BYTES // (1024 * 1024)} MB, this app's limit): "
            "no more tags or notes are taken until the owner moves it aside"
        )
    log.append(
        {
            "at": utc_now(),
            "run_id": run_id,
            "kind": kind,
            "value": value,
            "author": name or "anonymous",
            "source": source,
        }
    )


def clean_tag(tag: str) -> str:
    tag = (tag or "").strip()
    if not TAG.match(tag):
        raise InputError(f"a tag is 1 to 32 letters, digits, '.', '-' or '_', got {tag!r}")
    return tag


def add_tag(playground: Playground, run_id: str, tag: str, author: str = "", source: str = "ui") -> None:
    _annotate(playground, run_id, "tag", clean_tag(tag), author, source)


def remove_tag(playground: Playground, run_id: str, tag: str, author: str = "", source: str = "ui") -> None:
    _annotate(playground, run_id, "untag", clean_tag(tag), author, source)


def add_note(playground: Playground, run_id: str, note: str, author: str = "", source: str = "ui") -> None:
    text = _CONTROL.sub("", note or "").strip()
    if not text:
        raise InputError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise InputError(f"a note is at most {MAX_NOTE_CHARS} characters, got {len(text)}")
    _annotate(playground, run_id, "note", text, author, source)


def annotations(playground: Playground, run_id: str) -> Annotations:
    """A run's tags and notes: its rows replayed in the order they were written."""
    return replayed(playground, {run_id}).get(run_id, Annotations())


def replayed(playground: Playground, run_ids: set[str] | None = None) -> dict[str, Annotations]:
    """Every run's (or these runs') tags and notes, the file read once (with a synced Hub
    dataset, every writer's rows, in the order they were written: store/merged.py)."""
    found: dict[str, Annotations] = {}
    frame = merged.annotation_rows(playground)
    if frame.empty:
        return found
    if run_ids is not None:
        frame = frame[frame["run_id"].astype(str).isin(run_ids)]
    for row in frame.itertuples(index=False):
        result = found.setdefault(str(row.run_id), Annotations())
        if row.kind == "tag" and row.value not in result.tags:
            result.tags.append(str(row.value))
        elif row.kind == "untag" and row.value in result.tags:
            result.tags.remove(str(row.value))
        elif row.kind == "note":
            result.notes.insert(0, (str(row.at), str(row.author), str(row.value)))
    return found


def tagged(playground: Playground, tag: str) -> set[str]:
    """The runs that carry `tag` now (added and not removed since)."""
    return {run_id for run_id, found in replayed(playground).items() if tag in found.tags}


def all_tags(playground: Playground) -> list[str]:
    """Every tag some run carries now, sorted (History's Tag filter)."""
    return sorted({tag for found in replayed(playground).values() for tag in found.tags})


def annotations_text(found: Annotations) -> str:
    """Plain text for the History panel (user text is never rendered as Markdown)."""
    lines = [f"Tags: {', '.join(found.tags) if found.tags else '—'}"]
    lines += [f"{at[:16].replace('T', ' ')} {author}: {text}" for at, author, text in found.notes]
    return "\n".join(lines)
