"""`python -m playground bench-story FILE --arm ...`: the ConsiStory+ prompt sets as one
experiment (playground.experiments.consistory), with a progress bar and the table at the end."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from playground.base.errors import InputError, PlaygroundError, SpendCapError
from playground.base.types import RunRecord
from playground.cli.common import (
    ProgressBar,
    Subparsers,
    add_data_dir,
    add_hub_arg,
    lift_run_slots,
    settings_from,
    snapshots_from,
)
from playground.core.playground import Playground
from playground.core.session import Session
from playground.experiments.cells import run_cells
from playground.experiments.consistory import BenchPlan, check_bench_budget, experiment_runs, plan_bench


def register(subparsers: Subparsers, command: str) -> None:
    p = subparsers.add_parser(
        "bench-story",
        help="run the ConsiStory+ benchmark (every story x arm) and tabulate it",
        description="Run ConsiStory+ prompt sets as one resumable experiment and write "
        "the results table (Markdown, CSV, plot). See docs/consistory.md.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="ConsiStory+ YAML (consistory_plus.yaml)")
    p.add_argument(
        "--arm",
        action="append",
        default=[],
        required=True,
        metavar="PROVIDER:MODEL:MODE",
        help="an arm, e.g. local::sequence or local::chain (repeatable; empty MODEL = the provider's default)",
    )
    p.add_argument(
        "--categories",
        nargs="+",
        default=[],
        metavar="CATEGORY",
        help="only these categories (space- or comma-separated)",
    )
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N stories (after the other filters)"
    )
    p.add_argument("--sample", type=int, default=None, metavar="N", help="a random sample of N stories")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S", help="seed of --sample (default 0)")
    p.add_argument(
        "--max-usd",
        type=float,
        default=None,
        metavar="X",
        help="refuse when the estimate passes X; stop sending once spend would pass X",
    )
    p.add_argument("--repeats", type=int, default=1, metavar="R", help="runs per story and arm (default 1)")
    p.add_argument("--seed", type=int, default=None, help="seed of repeat 0 (repeat r uses seed + r); default: none")
    p.add_argument("--size", default="", help="image size, e.g. 512x512 (default: each model's default)")
    p.add_argument("--concurrency", type=int, default=4, help="runs in flight at once (default 4)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the table and plot go (default: DATA_DIR/bench/EXPERIMENT_ID)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    add_hub_arg(p)
    add_data_dir(p)
    p.set_defaults(func=cmd_bench_story)


def _categories(values: Sequence[str]) -> list[str]:
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def cmd_bench_story(args: argparse.Namespace) -> int:
    playground = Playground(settings_from(args))
    session = Session()
    try:
        plan = plan_bench(
            playground,
            args.file,
            args.arm,
            categories=_categories(args.categories),
            limit=args.limit,
            sample=args.sample,
            sample_seed=args.sample_seed,
            repeats=args.repeats,
            seed=args.seed,
            size=args.size,
            session=session,
        )
        done = len(plan.cells) - len(plan.pending)
        print(
            f"experiment {plan.experiment_id}: {len(plan.stories)} stories x {len(plan.arms)} arms x "
            f"{args.repeats} repeat(s) = {len(plan.cells)} runs; {done} already done, {len(plan.pending)} to run; "
            f"estimated cost ${plan.estimate_usd:.4f} (at most ${plan.max_usd:.4f})",
            file=sys.stderr,
        )
        check_bench_budget(playground, plan, args.max_usd, session)
    except (InputError, SpendCapError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar(len(plan.pending))
    lift_run_slots(playground, args.concurrency)
    try:
        records = asyncio.run(
            run_cells(
                playground,
                plan.pending,
                plan.experiment_id,
                concurrency=args.concurrency,
                max_usd=args.max_usd,
                session=session,
                on_done=bar,
                on_start=bar.started,
            )
        )
    except KeyboardInterrupt:
        bar.close()
        print(f"error: interrupted; rerun the same command to resume experiment {plan.experiment_id}", file=sys.stderr)
        return 1
    bar.close()
    return _report(playground, plan, records, args)


def _report(playground: Playground, plan: BenchPlan, records: Sequence[RunRecord], args: argparse.Namespace) -> int:
    from playground.experiments import consistory_table as table

    try:
        snapshots = snapshots_from(args, playground.settings)
    except PlaygroundError as exc:  # --hub OWNER/NAME could not be pulled: the table of this writer alone
        print(f"error: {exc}", file=sys.stderr)
        snapshots = []
    overall, per_category = table.summarise_experiment(
        experiment_runs(playground, plan, snapshots), plan.categories, [a.label for a in plan.arms]
    )
    out_dir = args.out or playground.settings.data_dir / "bench" / plan.experiment_id
    title = f"ConsiStory+ ({len(plan.stories)} stories), experiment {plan.experiment_id}"
    paths = table.write_outputs(out_dir, overall, per_category, title)
    not_sent = len(plan.pending) - len(records)
    errors = sum(1 for r in records if r.status in ("error", "cancelled"))
    if args.json:
        rows = table.csv_rows(overall, []).astype(object).where(lambda f: f.notna(), None)
        print(
            json.dumps(
                {
                    "experiment_id": plan.experiment_id,
                    "stories": len(plan.stories),
                    "arms": [a.label for a in plan.arms],
                    "runs": len(plan.cells),
                    "sent": len(records),
                    "not_sent": not_sent,
                    "errors": errors,
                    "estimate_usd": plan.estimate_usd,
                    "spent_usd": round(sum(r.cost_usd for r in records), 6),
                    "outputs": {k: str(v) for k, v in paths.items()},
                    "table": rows.to_dict(orient="records"),
                },
                ensure_ascii=False,
            )
        )
    else:
        print(paths["markdown"].read_text(encoding="utf-8"))
        print(f"written: {', '.join(str(p) for p in paths.values())}")
    if not_sent:
        print(
            f"error: the --max-usd cap stopped {not_sent} run(s) before sending; rerun with a higher cap to "
            f"continue experiment {plan.experiment_id}",
            file=sys.stderr,
        )
    elif errors:
        print(f"error: {errors} run(s) ended in error; rerun the same command to retry them", file=sys.stderr)
    return 1 if not_sent or errors else 0
