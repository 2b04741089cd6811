"""`python -m playground report [--experiment ID] [--json]`: the Analysis tab's figures in the shell.

Exit codes: 0 with a report, 2 when the experiment id is not in the log (or nothing is logged).
"""

from __future__ import annotations

import argparse
import json
import sys

from playground.base.errors import PlaygroundError
from playground.base.ratings import CRITERIA
from playground.cli.common import Subparsers, add_data_dir, add_hub_arg, opened, snapshots_from
from playground.core.playground import Playground
from playground.store import merged


def cmd_report(args: argparse.Namespace) -> int:
    with opened(args) as playground:
        return _report(playground, args)


def _report(playground: Playground, args: argparse.Namespace) -> int:
    from playground.experiments import analysis

    try:
        snapshots = snapshots_from(args, playground.settings)
    except PlaygroundError as exc:  # --hub OWNER/NAME could not be pulled
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.experiment and args.experiment not in analysis.experiments(playground, snapshots):
        known = analysis.experiments(playground, snapshots)[:10]
        print(
            f"error: no experiment {args.experiment!r} in {playground.log.runs.path}"
            + (f"; recent: {', '.join(known)}" if known else ""),
            file=sys.stderr,
        )
        return 2
    if args.grid:
        return _grid(playground, args)
    result = analysis.analyse(playground, args.experiment, snapshots, criterion=args.criterion)
    if args.json:
        print(json.dumps(analysis.report_json(result, args.experiment), ensure_ascii=False))
        return 0
    if result.summary.empty:
        print(f"no runs to report in {playground.log.runs.path}", file=sys.stderr)
        return 2
    writers = merged.writers(result.runs)
    by = f" from {len(writers)} writers ({', '.join(f'{w} {n}' for w, n in writers.items())})" if writers else ""
    said = f" ({args.criterion})" if args.criterion != "overall" else ""
    print(f"{args.experiment or 'all runs'}: {len(result.runs)} runs{by}, {result.votes} votes{said}")
    print(analysis.display_table(result.summary).to_string(index=False))
    if result.votes:
        print("\npairwise win rate (row arm against column arm; · no votes between them):")
        print(analysis.pairwise_text(result.pairwise))
    print("\n" + "\n".join(f"note: {n}" for n in result.notes))
    return 0


def _grid(playground: Playground, args: argparse.Namespace) -> int:
    from playground.experiments.grid import SORTABLE, build_grid
    from playground.present.grid import grid_json, grid_text

    if not args.experiment:
        print("error: --grid needs --experiment ID (the grid is one experiment's stories x arms)", file=sys.stderr)
        return 2
    metric, _, arm = (args.sort or "subject_consistency").partition(":")
    if metric not in SORTABLE:
        print(f"error: --sort takes METRIC[:ARM], METRIC one of {', '.join(SORTABLE)}", file=sys.stderr)
        return 2
    grid = build_grid(playground, args.experiment, sort_by=metric, sort_arm=arm, page=max(0, args.page - 1))
    print(json.dumps(grid_json(grid), ensure_ascii=False) if args.json else grid_text(grid))
    return 0


def register(sub: Subparsers, command: str) -> None:
    p = sub.add_parser(
        "report", help="per-arm summary of runs and votes (success, cost, latency, consistency, ratings)"
    )
    p.add_argument("--experiment", default=None, help="one experiment id (default: every run in the log)")
    p.add_argument(
        "--criterion",
        default="overall",
        choices=CRITERIA,
        help="the votes of one criterion (default: overall; older votes are overall)",
    )
    p.add_argument(
        "--grid",
        action="store_true",
        help="the experiment's grid: one row per story or prompt variant, one column per arm",
    )
    p.add_argument(
        "--sort",
        default=None,
        metavar="METRIC[:ARM]",
        help="with --grid: sort rows by a metric (default subject_consistency) of one arm, "
        "or without ARM by its spread over the arms",
    )
    p.add_argument("--page", type=int, default=1, help="with --grid: the page of 12 rows to print")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_hub_arg(p)
    add_data_dir(p)
    p.set_defaults(func=cmd_report)
