"""What every command shares: the parser class, --data-dir and --hub, the settings, the frames
argument, and how one run is reported (exit codes: 0 ok or partial, 1 error, 2 refused)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TextIO, TypeAlias

from playground.base.config import Settings
from playground.base.types import MAX_FRAMES, MIN_FRAMES, RunRecord
from playground.core.playground import Playground
from playground.core.spend import MAX_RUNS_IN_FLIGHT, RunSlots
from playground.present.runs import record_json, summary_line
from playground.providers.limiter import LIMITERS
from playground.store.merged import Snapshot


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep its message one line
        self.exit(2, f"error: {message}\n")


Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"  # what main hands each command's `register`


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None))


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="where runs.csv and frames live (default: $PLAYGROUND_DATA_DIR or ./data)"
    )


def frames_arg(text: str) -> int:
    """A whole number; its range is checked by the core, so an out-of-range run is logged too."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"frames must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, got {text!r}"
        ) from None


def warn_damaged(playground: Playground) -> None:
    """One line on stderr while the log holds damaged rows (set aside: the command went on)."""
    note = playground.log.damage_note()
    if note:
        print(f"warning: {note}", file=sys.stderr)


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[Playground]:
    """The playground of a command's --data-dir; when the command ends, however it ends, one
    warning line if the log holds damaged rows."""
    playground = Playground(settings_from(args))
    try:
        yield playground
    finally:
        warn_damaged(playground)


def report_run(record: RunRecord, as_json: bool) -> int:
    if as_json:
        print(json.dumps(record_json(record), ensure_ascii=False))
    else:
        print(summary_line(record))
        print(f"frames: {record.image_dir}")
        if record.error:
            print(f"note: {record.error}")
    if record.status == "error":
        print(f"error: {record.error or 'the run failed'}", file=sys.stderr)
        return 1
    return 0


# -- the CLI's --hub ----------------------------------------------------------------------------
def add_hub_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hub",
        default=None,
        metavar="DIR|OWNER/NAME",
        help="merge a synced dataset: a pulled folder, or a dataset id to pull first "
        "(default: the pulled copy of $PLAYGROUND_HUB_DATASET, if any)",
    )


def snapshots_from(args: argparse.Namespace, settings: Settings) -> list[Snapshot] | None:
    """--hub as snapshots (None: the default). A dataset id is pulled into DATA_DIR/hub first."""
    source = getattr(args, "hub", None)
    if not source:
        return None
    if Path(source).is_dir():
        return [Snapshot(Path(source))]
    from playground.store.hub_sync import pull_dataset  # only now: it imports huggingface_hub

    return [Snapshot(pull_dataset(settings, source).root)]


def lift_run_slots(playground: Playground, concurrency: int) -> None:
    """`batch` and `bench-story` run up to their --concurrency at once, past the app's bound of
    MAX_RUNS_IN_FLIGHT (8): a CLI process serves one researcher's batch, not strangers, and the
    providers' limits are kept per key by the limiter. The app's Playground keeps RUN_SLOTS."""
    if concurrency > MAX_RUNS_IN_FLIGHT:
        playground.run_slots = RunSlots(concurrency)


class ProgressBar:
    """The batch and bench-story bar, one line on stderr: runs done of all, spend so far, runs in
    flight, callers waiting on a provider's rate limit (LIMITERS.waiting()), an ETA from the pace
    so far, and the rows by status. On a terminal it is redrawn in place when a run starts or ends
    and every second (waits change between runs); elsewhere a line every 5%. Its calls come from
    the event loop and the ticker thread: one lock. `stream=None` draws nothing (--json)."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        initial: int = 0,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        stream = None if quiet else (stream or sys.stderr)  # the stderr of now, not of the import
        self.total, self.initial, self.done, self.spent, self.in_flight = total, initial, initial, 0.0, 0
        self.stream: TextIO | None = stream
        self.status: Counter[str] = Counter()
        self.tty = bool(stream and stream.isatty())
        self.clock = clock
        self.started_at: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if self.tty:
            threading.Thread(target=self._tick, name="progress-bar", daemon=True).start()

    def started(self, cell: object = None) -> None:
        with self._lock:
            self.in_flight += 1
            if self.started_at is None:
                self.started_at = self.clock()
        if self.tty:
            self._draw()

    def __call__(self, cell: object, record: RunRecord | None) -> None:
        with self._lock:
            self.done += 1
            self.in_flight = max(0, self.in_flight - 1) if record is not None else self.in_flight
            self.status[record.status if record else "not sent (cap)"] += 1
            self.spent += record.cost_usd if record else 0.0
            due = self.tty or self.done == self.total or (self.done - self.initial) % max(1, self.total // 20) == 0
        if due:
            self._draw()

    def eta_s(self) -> float | None:
        """Seconds left at the pace so far (runs ended per second since the first started)."""
        finished = self.done - self.initial
        if self.started_at is None or finished <= 0:
            return None
        pace = (self.clock() - self.started_at) / finished
        return pace * (self.total - self.done)

    def line(self) -> str:
        width = 30
        with self._lock:
            filled = round(width * self.done / self.total) if self.total else width
            counts = " ".join(f"{k} {v}" for k, v in sorted(self.status.items()))
            done, in_flight, spent = self.done, self.in_flight, self.spent
        eta = self.eta_s()
        parts = [
            f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} runs  ${spent:.4f}",
            f"{in_flight} in flight",
            f"{LIMITERS.waiting()} waiting on a rate limit",
            "ETA " + ("?" if eta is None else _duration(eta)),
            counts,
        ]
        return "  ".join(p for p in parts if p)

    def _draw(self) -> None:
        stream = self.stream
        if stream is None:
            return
        try:
            text = self.line()
            with self._lock:
                stream.write(("\r" if self.tty else "") + text + ("\x1b[K" if self.tty else "\n"))
                stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) must not stop a paid batch: stop drawing
            self.stream = None

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._draw()

    def close(self) -> None:
        self._stop.set()
        if self.stream and self.tty and self.done > self.initial:
            try:
                self.stream.write("\n")
            except (OSError, ValueError):
                pass


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s" if rest >= 60 else f"{rest}s"
