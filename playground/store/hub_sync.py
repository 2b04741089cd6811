"""Opt-in sync of DATA_DIR to a Hugging Face dataset repository (PLAYGROUND_HUB_DATASET).

What goes up, each writer (a Space, a laptop: one DATA_DIR) in files of its own, so writers
never touch each other's files and need no merge:
    runs/<writer>.csv        runs.csv as it is (whole rows only), the format the playground reads
    ratings/<writer>.csv     ratings.csv as it is
    annotations/<writer>.csv annotations.csv (tags and notes) as it is
    runs/<run_id>/frame_*    with PLAYGROUND_HUB_INCLUDE=frames, the frames of this writer's runs
    runs/<run_id>/exports/*  with PLAYGROUND_HUB_INCLUDE=exports
The writer id is made once per DATA_DIR and kept in DATA_DIR/writer_id: "<owner>--<space>-<8 hex>"
on a Space (SPACE_ID), "local-<8 hex>" elsewhere. A Space without persistent storage gets a
new one after each restart (its disk, writer_id included, is wiped), so a restarted Space never
overwrites the file of its previous life: it pulls it back instead (History shows it).

How, with huggingface_hub's public API only [sdk huggingface_hub 2.4.0]: `HfApi.create_repo`
(private=True, exist_ok=True: an existing repo keeps its visibility), `HfApi.repo_info` (to
say who can see it), `HfApi.create_commit` with `CommitOperationAdd` (the library asks the
Hub per file whether it goes inline or through LFS/Xet, and drops files the Hub already has),
and `snapshot_download(local_dir=DATA_DIR/hub/<owner>--<name>)` to pull.

The app commits every PLAYGROUND_HUB_EVERY_MIN minutes in a background thread of its own,
like the library's CommitScheduler. We do not use CommitScheduler itself: it pushes from
`HfApi.run_as_future`'s ThreadPoolExecutor, whose worker Python joins at exit, and the
library's HTTP client has no timeout (`default_client_factory`, timeout=None), so a Hub that
stops answering would stop the app from exiting. Our thread is a daemon that `close()` waits
for at most `timeout` seconds; what is still not uploaded then is written to the log.

Only files whose size or modification time changed since their last upload are offered again
(DATA_DIR/hub/<owner>--<name>.uploaded.json). A failed commit changes nothing locally: the
same files are offered at the next tick. Nothing here ever blocks a run: runs only append to
the local CSV; a commit reads it under its lock for the time of one read.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock
from huggingface_hub import CommitOperationAdd, HfApi, snapshot_download

from playground.base.config import Settings
from playground.base.errors import ConfigError, PlaygroundError, redact
from playground.base.ratings import ANNOTATION_COLUMNS, ANNOTATIONS_FILE
from playground.base.types import RUN_COLUMNS
from playground.store import rundir
from playground.store.csvlog import CsvLog
from playground.store.merged import SAFE_NAME, WRITER_FILE, Snapshot, dataset_dir, dataset_slug
from playground.store.runlog import RATING_COLUMNS, RunLog

logger = logging.getLogger("playground.hub_sync")
MAX_FILES_PER_COMMIT = 500  # more wait for the next commit (the status says how many)
SCANNED_SUFFIXES = (".csv", ".json", ".txt")  # text files: refused if a key is found in them
FRAME_PREFIX = "frame_"
HUB_STEPS = ("create", "preupload", "commit", "tree", "resolve", "revision", "lfs", "xet")  # named in errors
_RUNNING: list[HubSync] = []  # started in this process (the app's), newest last


class HubSyncError(PlaygroundError):
    """A sync step failed; the message is redacted and fits one line."""


@dataclass(frozen=True)
class HubConfig:
    repo_id: str
    every_min: float
    include: tuple[str, ...]
    endpoint: str | None  # None: the library's own default (HF_ENDPOINT as read at its import)
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, repo_id: str | None = None) -> HubConfig:
        repo = repo_id or settings.hub_dataset
        if not repo:
            raise ConfigError("set PLAYGROUND_HUB_DATASET to the dataset to sync (owner/name), and HF_TOKEN")
        # HF_ENDPOINT is read here (huggingface_hub reads it once, at import): same variable and
        # the same trailing-slash rule, and it also holds when it is set after the import.
        endpoint = settings.env.get("HF_ENDPOINT", "").strip().rstrip("/") or None
        return cls(
            repo,
            settings.hub_every_min,
            settings.hub_include,
            endpoint,
            settings.env.get("HF_TOKEN", "").strip() or None,
        )


def writer_id(data_dir: Path, env: Mapping[str, str]) -> str:
    """This DATA_DIR's writer id (made on first use; two processes agree on one)."""
    path = Path(data_dir) / WRITER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    space = str(env.get("SPACE_ID", "") or "").strip()
    base = "".join(c if c.isalnum() or c in "._-" else "-" for c in dataset_slug(space))[:80] if space else "local"
    try:
        with open(path, "x", encoding="utf-8") as f:  # exclusive create: the first process wins
            f.write(f"{base.strip('-._') or 'space'}-{uuid.uuid4().hex[:8]}\n")
    except FileExistsError:
        pass
    text = path.read_text(encoding="utf-8").strip()
    if not SAFE_NAME.match(text):
        raise ConfigError(f"{path} holds {text[:40]!r}, not a writer id (letters, digits, . _ -): delete it")
    return text


# -- what to upload ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Upload:
    repo_path: str
    local: Path
    fingerprint: str  # size:mtime_ns of the local file when it was read
    data: bytes | None = None  # a CSV's whole rows, read under its lock

    def content(self) -> bytes | str:
        return self.data if self.data is not None else str(self.local)


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _csv_upload(log: CsvLog, repo_path: str, uploaded: dict[str, str]) -> Upload | None:
    """The whole rows of a CSV log, unless unchanged since its last upload."""
    if not log.path.exists():
        return None
    with log.lock:
        if uploaded.get(repo_path) == _fingerprint(log.path):
            return None
        end = log.settle_tail()  # half a row a crash left is not uploaded
        with open(log.path, "rb") as f:
            data = f.read(end)
        fingerprint = _fingerprint(log.path)
    return Upload(repo_path, log.path, fingerprint, data) if data else None


def _run_files(data_dir: Path, include: tuple[str, ...], run_ids: list[str]) -> Iterator[tuple[str, Path]]:
    """(repo path, local path) of the frames and exports of this writer's own runs."""
    for run_id in run_ids:
        run_dir = rundir.run_folder(data_dir, run_id)
        if not SAFE_NAME.match(run_id) or not run_dir.is_dir():
            continue
        if "frames" in include:  # the frames themselves: not their previews nor a download in progress
            for frame in rundir.stored_frames(run_dir):
                if frame.path.is_file():
                    yield f"runs/{run_id}/{frame.path.name}", frame.path
        if "exports" in include:
            for path in sorted((run_dir / "exports").glob("*")):
                if SAFE_NAME.match(path.name) and path.is_file():
                    yield f"runs/{run_id}/exports/{path.name}", path


def plan_uploads(data_dir: Path, writer: str, include: tuple[str, ...], uploaded: dict[str, str]) -> list[Upload]:
    """Every file that is new or changed since its last upload: the three logs first."""
    log = RunLog(data_dir)
    todo = [
        u
        for u in (
            _csv_upload(log.runs, f"runs/{writer}.csv", uploaded),
            _csv_upload(log.ratings, f"ratings/{writer}.csv", uploaded),
            _csv_upload(
                CsvLog(Path(data_dir) / ANNOTATIONS_FILE, ANNOTATION_COLUMNS), f"annotations/{writer}.csv", uploaded
            ),
        )
        if u
    ]
    if include:
        run_ids = list(dict.fromkeys(log.read(["run_id"])["run_id"].astype(str)))
        for repo_path, path in _run_files(Path(data_dir), include, run_ids):
            fingerprint = _fingerprint(path)
            if uploaded.get(repo_path) != fingerprint:
                todo.append(Upload(repo_path, path, fingerprint))
    return todo


def pull_patterns(include: tuple[str, ...]) -> list[str]:
    patterns = ["runs/*.csv", "ratings/*.csv", "annotations/*.csv"]
    if "frames" in include:
        patterns.append(f"runs/*/{FRAME_PREFIX}*")
    if "exports" in include:
        patterns.append("runs/*/exports/*")
    return patterns


# -- status -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncStatus:
    """What the UI and the tests see. `state`: starting, ok, failing or stopped."""

    repo_id: str
    writer: str
    every_min: float
    include: tuple[str, ...] = ()
    state: str = "starting"
    private: bool | None = None
    attempts: int = 0
    commits: int = 0  # commits this process made
    failures: int = 0  # failed attempts in a row
    last_ok: str = ""  # UTC time of the last attempt that left nothing waiting
    last_error: str = ""
    waiting: tuple[str, ...] = ()  # repo paths not uploaded yet
    pulled_runs: int | None = None  # runs of every writer found by the last pull


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def visibility_text(private: bool | None) -> str:
    if private is None:
        return "visibility not known yet"
    return (
        "private: only you and those you give access on the Hub can read it"
        if private
        else "**public: anyone can read it**"
    )


def status_text(status: SyncStatus) -> str:
    """One Markdown line for the UI."""
    what = "the log and votes" + "".join(f", {part}" for part in status.include)
    head = (
        f"**Hub sync** to dataset `{status.repo_id}` ({visibility_text(status.private)}) as writer "
        f"`{status.writer}`, {what}, every {status.every_min:g} min"
    )
    waiting = f" · {len(status.waiting)} file(s) waiting: {', '.join(status.waiting[:3])}" if status.waiting else ""
    if status.state == "failing":
        return (
            f"{head} · **upload failing** ({status.failures} attempt(s) in a row: {status.last_error}){waiting}"
            f" · retried every {status.every_min:g} min; runs go on and stay in the local log"
        )
    if status.state == "starting":
        return f"{head} · starting…"
    last = f" · last upload check {status.last_ok}" if status.last_ok else ""
    return f"{head}{last}{waiting}" + (" · stopped" if status.state == "stopped" else "")


# -- the sync ---------------------------------------------------------------------------------
@dataclass
class PushResult:
    commit_oid: str | None
    uploaded: list[str]
    waiting: list[str]  # left for the next commit
    held: list[str]  # refused: a key was found in them


class HubSync:
    """The sync of one DATA_DIR: `push()` and `pull()` (the CLI), `start()` and `close()` (the app)."""

    def __init__(self, settings: Settings, secrets: Sequence[str], config: HubConfig | None = None) -> None:
        """`secrets`: every key value the caller knows (Playground.secrets()): a file holding one
        is never uploaded, and no error line shows one."""
        self.settings = settings
        self.config = config or HubConfig.from_settings(settings)
        self.data_dir = Path(settings.data_dir)
        self.writer = writer_id(self.data_dir, settings.env)
        self.snapshot = Snapshot(dataset_dir(self.data_dir, self.config.repo_id))
        self.state_path = self.snapshot.root.with_name(self.snapshot.root.name + ".uploaded.json")
        self.api = HfApi(endpoint=self.config.endpoint, token=self.config.token)
        self.secrets = [s for s in (*secrets, self.config.token or "") if len(s) >= 8]
        self.status = SyncStatus(self.config.repo_id, self.writer, self.config.every_min, self.config.include)
        self._changed = threading.Condition()
        self._push_lock = threading.Lock()
        self._repo_ready = False
        self._stop, self._wake = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    # -- status ---------------------------------------------------------------------------------
    def _update(self, **changes: Any) -> None:
        with self._changed:
            self.status = replace(self.status, **changes)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[SyncStatus], bool], timeout: float) -> bool:
        """Wait until the status satisfies `predicate` (tests wait on this, not on time)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.status), timeout)

    def _error(self, exc: BaseException) -> str:
        return error_line(exc, self.secrets)

    def _failed(self, exc: BaseException, waiting: list[str] | None = None) -> HubSyncError:
        message = self._error(exc)
        if waiting is None:
            try:
                waiting = self.waiting()
            except OSError:
                waiting = list(self.status.waiting)
        self._update(state="failing", failures=self.status.failures + 1, last_error=message, waiting=tuple(waiting))
        logger.warning("hub sync to %s failed (will retry): %s", self.config.repo_id, message)
        return HubSyncError(message)

    # -- the uploaded-files record -------------------------------------------------------------
    def _uploaded(self) -> dict[str, str]:
        try:
            record = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        files = record.get("files") if isinstance(record, dict) and record.get("writer") == self.writer else None
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}

    def _record_uploaded(self, fingerprints: dict[str, str]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.state_path) + ".lock"):  # the app and `sync` may share a DATA_DIR
            files = {**self._uploaded(), **fingerprints}
            tmp = self.state_path.with_name(self.state_path.name + f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"writer": self.writer, "files": files}, indent=0), encoding="utf-8")
            os.replace(tmp, self.state_path)

    def waiting(self) -> list[str]:
        """Repo paths of local files not uploaded as they are now."""
        return [u.repo_path for u in plan_uploads(self.data_dir, self.writer, self.config.include, self._uploaded())]

    # -- one step each ---------------------------------------------------------------------------
    def ensure_repo(self) -> None:
        """Create the dataset (private) unless it exists, and learn who can read it."""
        if self._repo_ready:
            return
        try:
            self.api.create_repo(self.config.repo_id, repo_type="dataset", private=True, exist_ok=True)
            info = self.api.repo_info(self.config.repo_id, repo_type="dataset")
        except Exception as exc:
            raise self._failed(exc) from None
        self._repo_ready = True
        self._update(private=getattr(info, "private", None))

    def push(self) -> PushResult:
        """Commit what changed since the last upload; HubSyncError when a commit failed.
        The log and votes go in a commit of their own first: frames that fail to upload (large
        files take the LFS/Xet path) never hold the log back."""
        with self._push_lock:
            self._update(attempts=self.status.attempts + 1)
            self.ensure_repo()  # also when nothing changed: a wrong token or dataset id shows at once
            todo = plan_uploads(self.data_dir, self.writer, self.config.include, self._uploaded())
            held = [u.repo_path for u in todo if u.repo_path.endswith(SCANNED_SUFFIXES) and self._leaks(u)]
            logs = [u for u in todo if u.data is not None and u.repo_path not in held]
            files = [u for u in todo if u.data is None and u.repo_path not in held]
            later = files[MAX_FILES_PER_COMMIT:]
            committed: list[str] = []
            oid = None
            for batch in (logs, files[:MAX_FILES_PER_COMMIT]):
                if not batch:
                    continue
                try:
                    info = self.api.create_commit(
                        self.config.repo_id,
                        [CommitOperationAdd(path_in_repo=u.repo_path, path_or_fileobj=u.content()) for u in batch],
                        repo_type="dataset",
                        commit_message=f"playground sync from {self.writer} ({len(batch)} file(s))",
                    )
                except Exception as exc:
                    raise self._failed(exc, [u.repo_path for u in todo if u.repo_path not in committed]) from None
                self._record_uploaded({u.repo_path: u.fingerprint for u in batch})
                committed += [u.repo_path for u in batch]
                oid = info.oid
                self._update(commits=self.status.commits + 1)
            result = PushResult(oid, committed, [u.repo_path for u in later] + held, held)
            if held:
                raise self._failed(
                    HubSyncError(f"held back {', '.join(held)}: a key was found in them"), result.waiting
                )
            self._update(state="ok", failures=0, last_error="", waiting=tuple(result.waiting), last_ok=_now())
            return result

    def _leaks(self, item: Upload) -> bool:
        data = item.data if item.data is not None else item.local.read_bytes()
        return any(secret.encode("utf-8") in data for secret in self.secrets)

    def pull(self) -> Snapshot:
        """Fetch every writer's logs (and frames/exports if included) into DATA_DIR/hub/<owner>--<name>."""
        snapshot = pull_dataset(self.settings, self.config.repo_id, self.config, self.secrets)
        self._update(pulled_runs=sum(count_runs(snapshot).values()))
        return snapshot

    # -- in the background (the app) --------------------------------------------------------------
    def start(self) -> HubSync:
        import atexit

        self._thread = threading.Thread(target=self._loop, name="hub-sync", daemon=True)
        self._thread.start()
        atexit.register(self.close)
        _RUNNING.append(self)
        return self

    def trigger(self) -> None:
        """Commit now instead of at the next tick."""
        self._wake.set()

    def _loop(self) -> None:
        pulled = False
        while True:
            stopping = self._stop.is_set()
            try:
                if not pulled and not stopping:  # a restarted Space gets its history back first
                    self.ensure_repo()
                    pulled = True
                    self._pull_quietly()
                self.push()
            except PlaygroundError:
                pass  # in the status and the log; retried at the next tick
            except Exception as exc:
                self._failed(exc)
            if stopping:
                return
            self._wake.wait(self.config.every_min * 60)
            self._wake.clear()

    def _pull_quietly(self) -> None:
        try:
            self.pull()
        except Exception as exc:
            logger.warning("hub sync: could not pull %s: %s", self.config.repo_id, self._error(exc))

    def close(self, timeout: float = 30.0) -> list[str]:
        """A last commit (waiting at most `timeout` s), then say in the log what is still not uploaded."""
        if self._stop.is_set():
            return list(self.status.waiting)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            waiting = self.waiting()
        except OSError as exc:
            waiting = [f"(could not list: {exc})"]
        if waiting:
            logger.warning(
                "hub sync: %d file(s) not uploaded to dataset %s at shutdown: %s. They stay in %s "
                "(lost with it on a Space without persistent storage); `python -m playground sync` "
                "uploads them.",
                len(waiting),
                self.config.repo_id,
                ", ".join(waiting),
                self.data_dir,
            )
        else:
            logger.info("hub sync: everything is uploaded to dataset %s", self.config.repo_id)
        self._update(state="stopped", waiting=tuple(waiting))
        if self in _RUNNING:
            _RUNNING.remove(self)
        return waiting


def error_line(exc: BaseException, secrets: list[str]) -> str:
    """One short redacted line. The library's HTTP errors span lines (URL, a link to HTTP status
    docs, request id): the status, the endpoint and the Hub's own message say it all."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        try:
            path = exc.response.request.url.path
        except RuntimeError:  # httpx: a response made without its request
            path = ""
        where = next((step for step in HUB_STEPS if f"/{step}" in path), "request")
        status = exc.response.status_code
        text = f"HTTP {status} from the Hub ({where}): {exc.server_message or exc.response.reason_phrase}"
        if status in (401, 403):
            text += " (HF_TOKEN must be a token with write access to the dataset)"
    else:
        text = str(exc) or type(exc).__name__
    return redact(" ".join(text.split()), secrets)[:300]


def pull_dataset(
    settings: Settings, repo_id: str, config: HubConfig | None = None, secrets: list[str] | None = None
) -> Snapshot:
    """snapshot_download of a synced dataset into DATA_DIR/hub/<owner>--<name>; HubSyncError if it failed."""
    config = config or HubConfig.from_settings(settings, repo_id)
    root = dataset_dir(settings.data_dir, repo_id)
    try:
        # cache_dir inside DATA_DIR/hub: the library writes refs there even for a local_dir download
        path = snapshot_download(
            repo_id,
            repo_type="dataset",
            local_dir=root,
            cache_dir=root.parent / ".cache",
            endpoint=config.endpoint,
            token=config.token,
            allow_patterns=pull_patterns(config.include),
        )
    except Exception as exc:
        raise HubSyncError(
            f"could not pull dataset {repo_id}: {error_line(exc, secrets or [config.token or ''])}"
        ) from None
    return Snapshot(Path(path))


def count_runs(snapshot: Snapshot) -> dict[str, int]:
    """Runs per writer file in a snapshot."""
    return {writer: len(CsvLog(path, RUN_COLUMNS).read(["run_id"])) for writer, path in snapshot.run_files()}


def count_votes(snapshot: Snapshot) -> int:
    return sum(len(CsvLog(path, RATING_COLUMNS).read(["run_id"])) for _, path in snapshot.rating_files())


def running(data_dir: Path) -> HubSync | None:
    """The background sync started in this process for `data_dir`, if any."""
    return next((s for s in reversed(_RUNNING) if s.data_dir.resolve() == Path(data_dir).resolve()), None)


def start(settings: Settings, secrets: Sequence[str]) -> HubSync | None:
    """The app's background sync, when PLAYGROUND_HUB_DATASET is set (never raises for the Hub)."""
    if not settings.hub_dataset:
        return None
    return HubSync(settings, secrets).start()
