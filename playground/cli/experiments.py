"""`python -m playground compare` (one story across arms) and `batch FILE` (an experiment file).

Exit codes, as for `run`: 2 bad arguments or input, or a cost cap / confirmation refusal
(nothing was sent); 1 when every run ended in error; 0 otherwise; batch: 130 when
interrupted (finished rows are kept: re-run the same command to resume).
The batch file format is documented in docs/experiments.md; examples in experiments/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from playground.base.errors import InputError, PlaygroundError, SpendCapError
from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.cli.common import ProgressBar, Subparsers, add_data_dir, frames_arg, lift_run_slots, settings_from
from playground.core.playground import Playground
from playground.core.session import Session
from playground.experiments.batchfile import BatchFile, cap_of, load_batch
from playground.experiments.cells import (
    Cell,
    logged_runs,
    parse_arms,
    pending_cells,
    plan_cells,
    raise_problems,
    run_cells,
    total_max_usd,
    total_usd,
)
from playground.experiments.compare import compare, needs_confirmation, new_experiment_id, plan_comparison
from playground.present.runs import record_json, summary_line


# -- shared by both commands -------------------------------------------------------------------
def confirm(usd: float, playground: Playground, yes: bool, ask: Callable[[str], str] | None) -> None:
    """Above PLAYGROUND_CONFIRM_USD (`usd` is the worst case): ask on a terminal, else refuse
    unless --yes (nothing is sent)."""
    if yes or not needs_confirmation(playground, usd):
        return
    limit = playground.settings.confirm_usd
    if ask is not None:
        answer = ask(f"at most ${usd:.4f} passes PLAYGROUND_CONFIRM_USD (${limit:.2f}); run it? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return
    raise SpendCapError(
        f"at most ${usd:.4f} passes PLAYGROUND_CONFIRM_USD (${limit:.2f}): nothing was sent; pass --yes to run it"
    )


def asker(as_json: bool) -> Callable[[str], str] | None:
    if as_json or not sys.stdin.isatty():
        return None

    def ask(question: str) -> str:
        print(question, end="", file=sys.stderr, flush=True)
        return sys.stdin.readline()

    return ask


def all_failed(records: list[RunRecord]) -> bool:
    return bool(records) and all(r.status == "error" for r in records)


# -- compare --------------------------------------------------------------------------------
def cmd_compare(args: argparse.Namespace) -> int:
    playground = Playground(settings_from(args))
    session = Session()
    story = Story(character=args.prompt or "", beats=tuple(b for b in args.beat if b.strip()))
    experiment_id = new_experiment_id()
    try:
        arms = parse_arms(args.arm)
        plans = plan_comparison(
            playground,
            story,
            arms,
            frames=args.frames,
            seed=args.seed,
            size=args.size,
            session=session,
            experiment_id=experiment_id,
        )  # a refused arm: an error row
        confirm(total_max_usd(plans), playground, args.yes, asker(args.json))
        result = asyncio.run(
            compare(
                playground,
                story,
                arms,
                frames=args.frames,
                seed=args.seed,
                session=session,
                size=args.size,
                experiment_id=experiment_id,
            )
        )
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        logged = logged_runs(playground, experiment_id)
        if logged:
            print(
                f"note: nothing was sent; {logged} refused run(s) logged as error rows of experiment {experiment_id}",
                file=sys.stderr,
            )
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; runs in flight were logged as cancelled", file=sys.stderr)
        return 1
    records = result.records
    if args.json:
        runs = [{**record_json(o.record), "arm": o.cell.arm.label} for o in result.outcomes if o.record]
        print(
            json.dumps(
                {"experiment_id": result.experiment_id, "wall_s": result.wall_s, "runs": runs}, ensure_ascii=False
            )
        )
    else:
        print(f"experiment {result.experiment_id}: {len(records)} arm(s) in {result.wall_s:.2f}s (wall)")
        for record in records:
            print(f"{record.arm:<48} {summary_line(record)}" + (f"\n    note: {record.error}" if record.error else ""))
    if all_failed(records):
        print("error: every arm failed", file=sys.stderr)
        return 1
    return 0


# -- batch ----------------------------------------------------------------------------------
def cmd_batch(args: argparse.Namespace) -> int:
    playground = Playground(settings_from(args))
    try:
        batch = load_batch(args.file)
        if args.concurrency is not None and args.concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, got {args.concurrency}")
        if args.max_usd is not None:
            cap_of(args.max_usd)  # --max-usd nan would lift the cap as the file's would
        raise_problems(plan_cells(playground, batch.cells, batch.experiment_id))
        todo = pending_cells(playground, batch.cells, batch.experiment_id)
        todo_plans = plan_cells(playground, todo, batch.experiment_id)
        estimate, most = total_usd(todo_plans), total_max_usd(todo_plans)
        confirm(most, playground, args.yes, asker(args.json))
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    max_usd = args.max_usd if args.max_usd is not None else batch.max_usd
    print(
        f"experiment {batch.experiment_id}: {len(batch.cells)} cells, {len(batch.cells) - len(todo)} already ok, "
        f"{len(todo)} to run, estimated ${estimate:.4f} (at most ${most:.4f})"
        + (f", cap ${max_usd:.2f}" if max_usd is not None else ""),
        file=sys.stderr,
    )
    tally: Counter[str] = Counter()
    bar = ProgressBar(len(batch.cells), initial=len(batch.cells) - len(todo), quiet=args.json)
    lift_run_slots(playground, args.concurrency or batch.concurrency)

    def done(cell: Cell, record: RunRecord | None) -> None:
        tally["refused" if record is None else record.status] += 1
        bar(cell, record)

    try:
        records = asyncio.run(
            run_cells(
                playground,
                batch.cells,
                batch.experiment_id,
                concurrency=args.concurrency or batch.concurrency,
                max_usd=max_usd,
                on_done=done,
                on_start=bar.started,
            )
        )
    except KeyboardInterrupt:
        bar.close()
        print(
            f"interrupted: {tally['ok']} cell(s) finished ok and are logged; runs in flight were logged as "
            f"cancelled. Re-run the same command to resume.",
            file=sys.stderr,
        )
        return 130
    bar.close()
    return _batch_report(batch, records, tally, len(batch.cells) - len(todo), args.json)


def _batch_report(batch: BatchFile, records: list[RunRecord], tally: Counter[str], skipped: int, as_json: bool) -> int:
    summary = {
        "experiment_id": batch.experiment_id,
        "cells": len(batch.cells),
        "skipped": skipped,
        "ran": len(records),
        "ok": tally["ok"],
        "partial": tally["partial"],
        "error": tally["error"],
        "refused": tally["refused"],
        "cost_usd": round(sum(r.cost_usd for r in records), 6),
    }
    if as_json:
        print(json.dumps(summary))
    else:
        print(" · ".join(f"{k} {v}" for k, v in summary.items()))
        if tally["refused"]:
            print(f"note: {tally['refused']} cell(s) not sent: the cost cap would have been passed", file=sys.stderr)
        print(f"report: python -m playground report --experiment {batch.experiment_id}")
    if (records or tally["refused"]) and not (tally["ok"] or tally["partial"]):
        print("error: no cell succeeded", file=sys.stderr)
        return 1
    return 0


def register(sub: Subparsers, command: str) -> None:
    (_register_compare if command == "compare" else _register_batch)(sub)


def _register_compare(sub: Subparsers) -> None:
    p = sub.add_parser("compare", help="run one story across several arms at once, side by side")
    p.add_argument("--prompt", required=True, help="character and style (the story's shared text)")
    p.add_argument("--frames", type=frames_arg, required=True)
    p.add_argument(
        "--arm",
        action="append",
        required=True,
        help="PROVIDER:MODEL:MODE, repeatable; an empty MODEL means the provider's default (local::baseline); MODE sequence, baseline, chain or chain-previous",
    )
    p.add_argument("--beat", action="append", default=[], help="one per frame, in order (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="the same seed for every arm that takes one")
    p.add_argument("--size", default="")
    p.add_argument("--yes", action="store_true", help="run even above PLAYGROUND_CONFIRM_USD without asking")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_data_dir(p)
    p.set_defaults(func=cmd_compare)


def _register_batch(sub: Subparsers) -> None:
    b = sub.add_parser("batch", help="run an experiment file: stories x arms x variants x repeats (resumable)")
    b.add_argument("file", type=Path, help="a TOML experiment file (see docs/experiments.md, experiments/)")
    b.add_argument("--max-usd", type=float, default=None, help="cost cap of this batch (overrides the file's max_usd)")
    b.add_argument("--concurrency", type=int, default=None, help="cells at once (default: the file's, else 4)")
    b.add_argument("--yes", action="store_true", help="run even above PLAYGROUND_CONFIRM_USD without asking")
    b.add_argument("--json", action="store_true", help="no progress bar; print one JSON summary")
    add_data_dir(b)
    b.set_defaults(func=cmd_batch)
