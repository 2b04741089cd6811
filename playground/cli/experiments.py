"""`python -m playground compare` (one story across arms) and `batch FILE` (an experiment file).

Exit codes, as for `run`: 2 bad arguments or input, or a cost cap / confirmation refusal
(nothing was sent); 1 when every run ended in error; 0 otherwise; batch: 130 when
interrupted (finished rows are kept: re-run the same command to resume).
The batch file format is documented in docs/experiments.md; examples in experiments/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tomllib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.base.errors import InputError, PlaygroundError, SpendCapError
from playground.base.presets import PRESET_DIR, Preset, load_presets
from playground.base.prompts import Story
from playground.base.types import MAX_FRAMES, MIN_FRAMES, RunRecord
from playground.cli import add_data_dir, frames_arg, record_json, settings_from, summary_line
from playground.core.playground import Playground
from playground.core.session import Session
from playground.experiments import (
    Cell,
    compare,
    logged_runs,
    needs_confirmation,
    new_experiment_id,
    parse_arms,
    pending_cells,
    plan_cells,
    plan_comparison,
    raise_problems,
    run_cells,
    total_max_usd,
    total_usd,
    variant_story,
)

FILE_KEYS = {"id", "title", "description", "arms", "variants", "stories", "repeats", "seed", "size", "frames",
             "concurrency", "max_usd"}
STORY_KEYS = {"id", "preset", "character", "style", "beats", "frames"}


# -- the batch file ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchFile:
    experiment_id: str
    cells: list[Cell]
    concurrency: int
    max_usd: float | None


def file_experiment_id(path: Path, data: dict[str, Any], content: bytes) -> str:
    """The file's `id`, else its name + a hash of its content: editing the file starts a new
    experiment, re-running it unchanged resumes the old one."""
    return str(data["id"]) if data.get("id") else f"{path.stem}-{hashlib.sha256(content).hexdigest()[:10]}"


def find_preset(name: str, presets: dict[str, Preset]) -> Preset:
    """A preset by file stem with or without its number prefix ("webcomic" = "01_webcomic"), or title."""
    for preset in presets.values():
        if name in (preset.key, preset.key.split("_", 1)[-1], preset.title):
            return preset
    keys = ", ".join(p.key.split("_", 1)[-1] for p in presets.values())
    raise InputError(f"unknown preset {name!r}; presets in {PRESET_DIR}: {keys}")


def load_story(entry: dict[str, Any], presets: dict[str, Preset]) -> tuple[str, Story, int]:
    """(story_id, story, frames) of one [[stories]] entry: a preset, or an inline story."""
    unknown = set(entry) - STORY_KEYS
    if unknown:
        raise InputError(f"unknown key(s) in a story: {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(STORY_KEYS))}")
    if "preset" in entry:
        preset = find_preset(str(entry["preset"]), presets)
        story_id = str(entry.get("id") or preset.key.split("_", 1)[-1])
        return story_id, preset.story, frames_of(entry.get("frames", preset.frames), f"story {story_id!r}")
    if not entry.get("id") or not entry.get("character"):
        raise InputError("an inline story needs `id` and `character` (and usually `style` and `beats`)")
    beats = entry.get("beats", [])
    if not isinstance(beats, list) or not all(isinstance(b, str) for b in beats):
        raise InputError(f"story {entry['id']!r}: beats must be a list of strings")
    story = Story(character=str(entry["character"]), style=str(entry.get("style", "")), beats=tuple(beats))
    return str(entry["id"]), story, frames_of(entry.get("frames", len(beats) or 4), f"story {entry['id']!r}")


def frames_of(value: object, where: str) -> int:
    """A `frames` value as TOML gave it: a whole number (its range, 1 to 15, is the core's, so an
    out-of-range cell is logged like any refused run). `inf`, `nan` or 2.5 are refused here."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{where}: `frames` must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, got {value!r}")
    return value


def cap_of(value: object) -> float | None:
    """`max_usd`: dollars, 0 or more (`inf` lifts it). NaN compares false with everything and
    would pass every cell, so it is refused like a negative value or a boolean."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InputError(f"`max_usd` must be a number of dollars, 0 or more (inf lifts it), got {value!r}")
    return float(value)


def _whole(data: dict[str, Any], key: str, default: int, low: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InputError(f"`{key}` must be a whole number of at least {low}, got {value!r}")
    return value


def load_batch(path: Path) -> BatchFile:
    """Parse and check an experiment file; every problem is an InputError naming the file."""
    try:
        content = path.read_bytes()
        data = tomllib.loads(content.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from None
    try:
        return _batch_from(path, data, content)
    except (InputError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: {exc}") from None


def _batch_from(path: Path, data: dict[str, Any], content: bytes) -> BatchFile:
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(FILE_KEYS))}")
    if not isinstance(data.get("arms"), list):
        raise InputError('`arms` must be a list such as ["local::sequence", "local::baseline"]')
    arms = parse_arms([str(a) for a in data["arms"]])
    variants = data.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, str) and v.strip() for v in variants.values()):
        raise InputError("`variants` must be a table of label = prompt text")
    entries = data.get("stories")
    if not isinstance(entries, list) or not entries:
        raise InputError('give at least one [[stories]] entry (preset = "webcomic", or id/character/style/beats)')
    presets = load_presets()
    stories = [load_story(e, presets) for e in entries]
    ids = [s[0] for s in stories]
    if len(set(ids)) < len(ids):
        raise InputError(f"story ids must be unique, got {ids}")
    repeats, seed = _whole(data, "repeats", 1, 1), data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InputError(f"`seed` must be a whole number, got {seed!r}")
    default_frames = None if data.get("frames") is None else frames_of(data["frames"], "the file")
    cells = [Cell(story=variant_story(story, text) if label else story, arm=arm, variant=label, repeat=r,
                  frames=default_frames or frames, seed=None if seed is None else seed + r,
                  story_id=story_id, size=str(data.get("size", "")))
             for story_id, story, frames in stories for label, text in (variants.items() or [("", "")])
             for r in range(repeats) for arm in arms]
    return BatchFile(file_experiment_id(path, data, content), cells, _whole(data, "concurrency", 4, 1),
                     cap_of(data.get("max_usd")))


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
    raise SpendCapError(f"at most ${usd:.4f} passes PLAYGROUND_CONFIRM_USD (${limit:.2f}): nothing was sent; "
                        f"pass --yes to run it")


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
        plans = plan_comparison(playground, story, arms, frames=args.frames, seed=args.seed, size=args.size,
                                session=session, experiment_id=experiment_id)  # a refused arm: an error row
        confirm(total_max_usd(plans), playground, args.yes, asker(args.json))
        result = asyncio.run(compare(playground, story, arms, frames=args.frames, seed=args.seed, session=session,
                                     size=args.size, experiment_id=experiment_id))
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        logged = logged_runs(playground, experiment_id)
        if logged:
            print(f"note: nothing was sent; {logged} refused run(s) logged as error rows of experiment "
                  f"{experiment_id}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; runs in flight were logged as cancelled", file=sys.stderr)
        return 1
    records = result.records
    if args.json:
        runs = [{**record_json(o.record), "arm": o.cell.arm.label} for o in result.outcomes if o.record]
        print(json.dumps({"experiment_id": result.experiment_id, "wall_s": result.wall_s, "runs": runs},
                         ensure_ascii=False))
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
    print(f"experiment {batch.experiment_id}: {len(batch.cells)} cells, {len(batch.cells) - len(todo)} already ok, "
          f"{len(todo)} to run, estimated ${estimate:.4f} (at most ${most:.4f})"
          + (f", cap ${max_usd:.2f}" if max_usd is not None else ""),
          file=sys.stderr)
    tally: Counter[str] = Counter()
    bar = _progress_bar(len(batch.cells), len(batch.cells) - len(todo), args.json)

    def done(cell: Cell, record: RunRecord | None) -> None:
        tally["refused" if record is None else record.status] += 1
        bar.set_postfix(tally, refresh=False)
        bar.update(1)

    try:
        records = asyncio.run(run_cells(playground, batch.cells, batch.experiment_id, concurrency=args.concurrency
                                        or batch.concurrency, max_usd=max_usd, on_done=done))
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: {tally['ok']} cell(s) finished ok and are logged; runs in flight were logged as "
              f"cancelled. Re-run the same command to resume.", file=sys.stderr)
        return 130
    bar.close()
    return _batch_report(batch, records, tally, len(batch.cells) - len(todo), args.json)


def _progress_bar(total: int, initial: int, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="cell", file=sys.stderr, disable=quiet, dynamic_ncols=True)


def _batch_report(batch: BatchFile, records: list[RunRecord], tally: Counter[str], skipped: int, as_json: bool) -> int:
    summary = {"experiment_id": batch.experiment_id, "cells": len(batch.cells), "skipped": skipped,
               "ran": len(records), "ok": tally["ok"], "partial": tally["partial"], "error": tally["error"],
               "refused": tally["refused"], "cost_usd": round(sum(r.cost_usd for r in records), 6)}
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="run one story across several arms at once, side by side")
    p.add_argument("--prompt", required=True, help="character and style (the story's shared text)")
    p.add_argument("--frames", type=frames_arg, required=True)
    p.add_argument("--arm", action="append", required=True,
                   help="PROVIDER:MODEL:MODE, repeatable; an empty MODEL means the provider's default (local::baseline)")
    p.add_argument("--beat", action="append", default=[], help="one per frame, in order (repeatable)")
    p.add_argument("--seed", type=int, default=None, help="the same seed for every arm that takes one")
    p.add_argument("--size", default="")
    p.add_argument("--yes", action="store_true", help="run even above PLAYGROUND_CONFIRM_USD without asking")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_data_dir(p)
    p.set_defaults(func=cmd_compare)

    b = sub.add_parser("batch", help="run an experiment file: stories x arms x variants x repeats (resumable)")
    b.add_argument("file", type=Path, help="a TOML experiment file (see docs/experiments.md, experiments/)")
    b.add_argument("--max-usd", type=float, default=None, help="cost cap of this batch (overrides the file's max_usd)")
    b.add_argument("--concurrency", type=int, default=None, help="cells at once (default: the file's, else 4)")
    b.add_argument("--yes", action="store_true", help="run even above PLAYGROUND_CONFIRM_USD without asking")
    b.add_argument("--json", action="store_true", help="no progress bar; print one JSON summary")
    add_data_dir(b)
    b.set_defaults(func=cmd_batch)
