"""`python -m playground report [--experiment ID] [--json]`: the Analysis tab's figures in the shell.

Exit codes: 0 with a report, 2 when the experiment id is not in the log (or nothing is logged).
"""

from __future__ import annotations

import argparse
import json
import sys

from playground.base.errors import PlaygroundError
from playground.cli.common import add_data_dir, add_hub_arg, opened, snapshots_from
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
        print(f"error: no experiment {args.experiment!r} in {playground.log.runs.path}"
              + (f"; recent: {', '.join(known)}" if known else ""), file=sys.stderr)
        return 2
    result = analysis.analyse(playground, args.experiment, snapshots)
    if args.json:
        print(json.dumps(analysis.report_json(result, args.experiment), ensure_ascii=False))
        return 0
    if result.summary.empty:
        print(f"no runs to report in {playground.log.runs.path}", file=sys.stderr)
        return 2
    writers = merged.writers(result.runs)
    by = f" from {len(writers)} writers ({', '.join(f'{w} {n}' for w, n in writers.items())})" if writers else ""
    print(f"{args.experiment or 'all runs'}: {len(result.runs)} runs{by}, {result.votes} votes")
    print(analysis.display_table(result.summary).to_string(index=False))
    if result.votes:
        print("\npairwise win rate (row arm against column arm):")
        pairwise = result.pairwise.round(2).astype(object)  # object first: a float column takes no "" (pandas 4)
        print(pairwise.where(pairwise.notna(), "").to_string())
    print("\n" + "\n".join(f"note: {n}" for n in result.notes))
    return 0


def register(sub: argparse._SubParsersAction, command: str) -> None:
    p = sub.add_parser("report", help="per-arm summary of runs and votes (success, cost, latency, consistency, ratings)")
    p.add_argument("--experiment", default=None, help="one experiment id (default: every run in the log)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_hub_arg(p)
    add_data_dir(p)
    p.set_defaults(func=cmd_report)
