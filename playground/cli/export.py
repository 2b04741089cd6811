"""`python -m playground export RUN_ID --format zip|sheet|gif|webp [--out PATH]` (see
playground.experiments.export)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.base.errors import InputError
from playground.cli.common import Subparsers, add_data_dir, settings_from
from playground.core.playground import Playground
from playground.experiments.export import FORMATS, export_run


# -- CLI ---------------------------------------------------------------------------------------
def register(subparsers: Subparsers, command: str) -> None:
    p = subparsers.add_parser("export", help="export a run as a ZIP, a storyboard sheet or an animated GIF")
    p.add_argument("run_id", metavar="RUN_ID")
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="zip",
        help="zip: frames + manifest.json; sheet: one PNG grid with captions; gif/webp: animation",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="file, or directory (a path without a suffix); default: ./RUN_ID.zip, ./RUN_ID-sheet.png, ./RUN_ID.gif",
    )
    add_data_dir(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    try:
        path = export_run(Playground(settings_from(args)), args.run_id, args.format, args.out)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
