"""`python -m playground runs` and `vote`: the log filtered and paged, and a blind pairwise vote,
with `--json` printing exactly what the API's `/runs` and `/vote` return (present/api.py)."""

from __future__ import annotations

import argparse
import json
import sys

from playground.base.errors import PlaygroundError
from playground.cli.common import Subparsers, add_data_dir, opened
from playground.present.api import api_runs, api_vote


def register(sub: Subparsers, command: str) -> None:
    {"runs": _register_runs, "vote": _register_vote}[command](sub)


def _register_runs(sub: Subparsers) -> None:
    p = sub.add_parser("runs", help="list logged runs, newest first, filtered (refusals hidden unless asked)")
    p.add_argument("--run-id", default="")
    p.add_argument("--provider", default="")
    p.add_argument("--model", default="")
    p.add_argument("--mode", default="")
    p.add_argument("--status", default="")
    p.add_argument("--experiment", default="")
    p.add_argument("--tag", default="", help="only the runs that carry this tag now (annotations.csv)")
    p.add_argument("--include-refused", action="store_true", help="also requests refused before anything was sent")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (1 to 500, default 50)")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print exactly one JSON object (as the API's /runs)")
    add_data_dir(p)
    p.set_defaults(func=cmd_runs)


def _register_vote(sub: Subparsers) -> None:
    p = sub.add_parser("vote", help="log a blind pairwise vote between two runs of an experiment")
    p.add_argument("--experiment", required=True)
    p.add_argument("--left", required=True, help="run id of the left sequence")
    p.add_argument("--right", required=True, help="run id of the right sequence")
    p.add_argument("--verdict", required=True, help="left, right, tie or skip")
    p.add_argument("--criterion", default="overall", help="overall (default), character, style or story")
    p.add_argument("--rater", default="")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object (as the API's /vote)")
    add_data_dir(p)
    p.set_defaults(func=cmd_vote)


def cmd_runs(args: argparse.Namespace) -> int:
    with opened(args) as playground:
        try:
            result, _ = api_runs(
                playground,
                args.run_id,
                args.provider,
                args.model,
                args.mode,
                args.status,
                args.experiment,
                args.include_refused,
                args.limit,
                args.offset,
                args.tag,
            )
        except PlaygroundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    for run in result["runs"]:
        print(
            f"{run['run_id']}  {run['created_at'][:16]}  {run['status']:<9} {run['frames_returned']}/"
            f"{run['frames_requested']}  ${run['cost_usd']:.4f}  {run['provider']}/{run['model']} ({run['mode']})"
        )
    print(f"{len(result['runs'])} of {result['total']} run(s)")
    return 0


def cmd_vote(args: argparse.Namespace) -> int:
    with opened(args) as playground:
        try:
            vote = api_vote(
                playground,
                args.experiment,
                args.left,
                args.right,
                args.verdict,
                args.criterion,
                args.rater,
                source="cli",
            )
        except PlaygroundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(
        json.dumps(vote, ensure_ascii=False)
        if args.json
        else f"vote logged: {vote['verdict']} ({vote['left_run_id']} vs {vote['right_run_id']}, {vote['criterion']})"
    )
    return 0
