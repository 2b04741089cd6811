"""The local run log merged with a synced Hugging Face dataset: what History, Analysis,
`report` and `bench-story` read.

A dataset written by `hub_sync.py` holds one file per writer (`runs/<writer>.csv`,
`ratings/<writer>.csv`, in the run log's own CSV format) and frames under
`runs/<run_id>/`. A pulled copy (a "snapshot") lives in DATA_DIR/hub/<owner>--<name>/,
or anywhere else when given with `--hub DIR`.

The merged view:
- every run appears once: the local log first, then each writer's file in name order; a run
  id already seen is left out (so this writer's own uploaded file adds nothing new);
- it carries a `writer` column (the writer id of the file the row came from; the local log is
  this DATA_DIR's own writer id, or "local" before it ever synced); runs.csv itself has no
  such column;
- without a snapshot it is exactly the local log (no `writer` column, the same fast reads).
Nothing here writes to a snapshot or imports huggingface_hub.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.base.ratings import ANNOTATION_COLUMNS, ANNOTATIONS_FILE, RATING_COLUMNS
from playground.base.types import RUN_COLUMNS, Frame, RunRecord
from playground.store.codec import record_from_row
from playground.store.csvlog import CsvLog
from playground.store.rundir import stored_frames
from playground.store.runlog import RunLog

if TYPE_CHECKING:
    import pandas as pd

WRITER_COLUMN = "writer"
WRITER_FILE = "writer_id"  # DATA_DIR/writer_id: this data directory's writer id (made by hub_sync)
HUB_DIR = "hub"  # DATA_DIR/hub/<owner>--<name>/: pulled snapshots (and what was uploaded, hub_sync.py)
# Names that become file names: no separators, no "..", so a hostile dataset cannot point outside it
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CACHE: dict[tuple[str, int, int, tuple[str, ...] | None], pd.DataFrame] = {}
_CACHE_LOCK = threading.Lock()


class LogSource(Protocol):
    """What the merged view reads: a run log, and the settings that say where a synced copy is
    (a core.Playground is one)."""

    @property
    def log(self) -> RunLog: ...

    @property
    def settings(self) -> Settings: ...


def dataset_slug(repo_id: str) -> str:
    """owner/name -> owner--name (a folder name)."""
    return repo_id.replace("/", "--")


def dataset_dir(data_dir: Path, repo_id: str) -> Path:
    return Path(data_dir) / HUB_DIR / dataset_slug(repo_id)


def local_writer(data_dir: Path) -> str:
    """This DATA_DIR's writer id, or "local" when it never synced (reading never creates one)."""
    try:
        text = (Path(data_dir) / WRITER_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return "local"
    return text if SAFE_NAME.match(text) else "local"


@dataclass(frozen=True)
class Snapshot:
    """A local copy of a synced dataset."""

    root: Path

    def _files(self, folder: str) -> list[tuple[str, Path]]:
        found = []
        for path in sorted((self.root / folder).glob("*.csv")):
            if path.is_file() and SAFE_NAME.match(path.stem):
                found.append((path.stem, path))
        return found

    def run_files(self) -> list[tuple[str, Path]]:
        """(writer, path) of every writer's run log, by writer id."""
        return self._files("runs")

    def rating_files(self) -> list[tuple[str, Path]]:
        return self._files("ratings")

    def annotation_files(self) -> list[tuple[str, Path]]:
        return self._files("annotations")

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id


def default_snapshots(settings: Settings) -> list[Snapshot]:
    """The pulled copy of PLAYGROUND_HUB_DATASET, when there is one."""
    if not settings.hub_dataset:
        return []
    root = dataset_dir(settings.data_dir, settings.hub_dataset)
    return [Snapshot(root)] if any((root / d).is_dir() for d in ("runs", "ratings", "annotations")) else []


def _snapshots(playground: LogSource, snapshots: Sequence[Snapshot] | None) -> list[Snapshot]:
    return default_snapshots(playground.settings) if snapshots is None else list(snapshots)


def _read(path: Path, columns: Sequence[str], all_columns: Sequence[str]) -> pd.DataFrame:
    """A writer's CSV, parsed like the local log (cached until the file changes)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, tuple(columns))
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is None:
        cached = CsvLog(path, all_columns).read(list(columns))
        with _CACHE_LOCK:
            for old in [k for k in _CACHE if k[0] == key[0] and k[1:3] != key[1:3]]:
                del _CACHE[old]
            _CACHE[key] = cached
    return cached


# -- runs ---------------------------------------------------------------------------------------
def remote_runs(snapshots: Sequence[Snapshot], columns: Sequence[str] | None, seen: set[str]) -> list[pd.DataFrame]:
    """Each writer's runs not in `seen` (which grows), with their `writer`."""
    wanted = list(dict.fromkeys(["run_id", *(columns or RUN_COLUMNS)]))
    parts = []
    for snapshot in snapshots:
        for writer, path in snapshot.run_files():
            frame = _read(path, wanted, RUN_COLUMNS)
            ids = frame["run_id"].astype(str)
            fresh = frame[~ids.isin(seen)]
            seen.update(ids.tolist())
            if len(fresh):
                parts.append(fresh.assign(**{WRITER_COLUMN: writer}))
    return parts


def runs(
    playground: LogSource, columns: Sequence[str] | None = None, snapshots: Sequence[Snapshot] | None = None
) -> pd.DataFrame:
    """Every run (or only `columns` of every run), local ones first, each run once."""
    import pandas as pd

    sources = _snapshots(playground, snapshots)
    if not sources:
        return playground.log.read(columns)
    wanted = list(dict.fromkeys(["run_id", *(columns or RUN_COLUMNS)]))
    local = playground.log.read(wanted).assign(**{WRITER_COLUMN: local_writer(playground.settings.data_dir)})
    merged = pd.concat([local, *remote_runs(sources, wanted, set(local["run_id"].astype(str)))], ignore_index=True)
    return merged[[*(columns or merged.columns.drop(WRITER_COLUMN)), WRITER_COLUMN]]


def latest(playground: LogSource, n: int = 100, snapshots: Sequence[Snapshot] | None = None) -> pd.DataFrame:
    """The newest n runs of every writer, newest first (History)."""
    import pandas as pd

    sources = _snapshots(playground, snapshots)
    if not sources:
        return playground.log.latest(n)
    own = local_writer(playground.settings.data_dir)
    local = playground.log.latest(n).assign(**{WRITER_COLUMN: own})
    seen = set(playground.log.read(["run_id"])["run_id"].astype(str))
    merged = pd.concat([local, *remote_runs(sources, None, seen)], ignore_index=True)
    when = pd.to_datetime(merged["created_at"], utc=True, errors="coerce", format="ISO8601")
    order = when.sort_values(ascending=False, kind="stable", na_position="last").index
    return merged.loc[order].head(n).reset_index(drop=True)


def get(playground: LogSource, run_id: str, snapshots: Sequence[Snapshot] | None = None) -> dict[str, Any] | None:
    """A run's row from the local log, else from a writer's file (its frames in the snapshot)."""
    row = playground.log.get(run_id)
    if row is not None or not SAFE_NAME.match(run_id or ""):
        return row
    for snapshot in _snapshots(playground, snapshots):
        for writer, path in snapshot.run_files():
            frame = _read(path, RUN_COLUMNS, RUN_COLUMNS)
            found = frame[frame["run_id"].astype(str) == run_id]
            if len(found):
                cells = {str(k): v for k, v in found.iloc[-1].to_dict().items()}
                # image_dir is a path on the writer's machine: the frames, if synced, are in the snapshot
                return {**cells, "image_dir": str(snapshot.run_dir(run_id)), WRITER_COLUMN: writer}
    return None


def writers(frame: pd.DataFrame) -> dict[str, int]:
    """Runs per writer in a merged frame ({} for a local-only frame)."""
    if WRITER_COLUMN not in frame:
        return {}
    return {str(k): int(v) for k, v in frame[WRITER_COLUMN].value_counts().sort_index().items()}


# -- votes --------------------------------------------------------------------------------------
def ratings(playground: LogSource, snapshots: Sequence[Snapshot] | None = None) -> pd.DataFrame:
    """Every vote of every writer (a vote in two files, such as this writer's upload, once)."""
    import pandas as pd

    sources = _snapshots(playground, snapshots)
    local = playground.log.read_ratings()
    if not sources:
        return local
    parts = [local] + [_read(path, RATING_COLUMNS, RATING_COLUMNS) for s in sources for _, path in s.rating_files()]
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


# -- tags and notes -------------------------------------------------------------------------------
def annotation_rows(playground: LogSource, snapshots: Sequence[Snapshot] | None = None) -> pd.DataFrame:
    """Every writer's annotations.csv rows (a row in two files, such as this writer's upload,
    once), in the order they were written (`at`, then file order): a tag and its untag replay
    in order across writers."""
    import pandas as pd

    local_path = Path(playground.settings.data_dir) / ANNOTATIONS_FILE
    parts = [_read(local_path, ANNOTATION_COLUMNS, ANNOTATION_COLUMNS)] if local_path.is_file() else []
    parts += [
        _read(path, ANNOTATION_COLUMNS, ANNOTATION_COLUMNS)
        for s in _snapshots(playground, snapshots)
        for _, path in s.annotation_files()
    ]
    if not parts:
        return pd.DataFrame(columns=ANNOTATION_COLUMNS)
    rows = pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
    return rows.sort_values("at", kind="stable").reset_index(drop=True) if len(parts) > 1 else rows


@dataclass
class StoredRun:
    """One logged run as the exports and the History tab see it."""

    record: RunRecord
    frames: list[Frame]  # captioned with their beats
    beats: list[str]

    def caption(self, number: int) -> str:
        return self.beats[number - 1] if 0 < number <= len(self.beats) and self.beats[number - 1] else f"Frame {number}"


def load_run(playground: LogSource, run_id: str) -> StoredRun:
    """A logged run with its frames on disk; a run of another writer, from a pulled Hub dataset,
    opens too."""
    run_id = (run_id or "").strip()
    row = get(playground, run_id) if run_id else None
    if row is None:
        raise InputError(f"no run {run_id!r} in the log")  # no path: the UI may be a public Space
    record = record_from_row(row)
    run_dir = Path(record.image_dir) if record.image_dir else playground.log.run_dir(run_id)
    beats = record.beats or []
    return StoredRun(record, stored_frames(run_dir, beats), beats)
