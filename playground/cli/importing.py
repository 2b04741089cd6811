"""`python -m playground import FRAME... --model NAME --cost USD --prompt TEXT`: frames made
elsewhere logged as a run (see playground.experiments.importer)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.base.errors import InputError
from playground.base.types import MODES
from playground.cli.common import Subparsers, add_data_dir, opened, report_run
from playground.experiments.importer import import_run


# -- CLI ---------------------------------------------------------------------------------------
def register(subparsers: Subparsers, command: str) -> None:
    p = subparsers.add_parser("import", help="log frames made with another tool as a run (provider `import`)")
    p.add_argument("frames", nargs="+", type=Path, metavar="FRAME", help="image files, in frame order")
    p.add_argument("--model", required=True, help="the tool and model that made them, e.g. midjourney-v7")
    p.add_argument("--cost", required=True, type=float, help="what the frames cost, in US dollars")
    p.add_argument("--prompt", required=True)
    p.add_argument("--beat", action="append", default=[], help="one per frame, in order (repeatable)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="sequence",
        help="sequence: one prompt made all frames; baseline: one image per prompt",
    )
    p.add_argument("--experiment", default="", help="experiment id, to compare with other runs")
    p.add_argument("--arm", default="")
    p.add_argument("--variant", default="")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_data_dir(p)
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    with opened(args) as playground:
        try:
            record = import_run(
                playground,
                args.frames,
                args.model,
                args.cost,
                args.prompt,
                args.beat,
                args.mode,
                args.experiment,
                args.arm,
                args.variant,
            )
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return report_run(record, args.json)
