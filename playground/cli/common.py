"""What every command shares: the parser class, --data-dir and --hub, the settings, the frames
argument, and how one run is reported (exit codes: 0 ok or partial, 1 error, 2 refused)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playground.base.config import Settings
from playground.base.types import MAX_FRAMES, MIN_FRAMES, RunRecord
from playground.core.playground import Playground
from playground.present.runs import record_json, summary_line
from playground.store.merged import Snapshot


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep its message one line
        self.exit(2, f"error: {message}\n")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.from_env(data_dir=getattr(args, "data_dir", None))


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where runs.csv and frames live (default: $PLAYGROUND_DATA_DIR or ./data)")


def frames_arg(text: str) -> int:
    """A whole number; its range is checked by the core, so an out-of-range run is logged too."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"frames must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, "
                                         f"got {text!r}") from None


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
    parser.add_argument("--hub", default=None, metavar="DIR|OWNER/NAME",
                        help="merge a synced dataset: a pulled folder, or a dataset id to pull first "
                             "(default: the pulled copy of $PLAYGROUND_HUB_DATASET, if any)")


def snapshots_from(args: argparse.Namespace, settings: Settings) -> list[Snapshot] | None:
    """--hub as snapshots (None: the default). A dataset id is pulled into DATA_DIR/hub first."""
    source = getattr(args, "hub", None)
    if not source:
        return None
    if Path(source).is_dir():
        return [Snapshot(Path(source))]
    from playground.store.hub_sync import pull_dataset  # only now: it imports huggingface_hub

    return [Snapshot(pull_dataset(settings, source).root)]
