"""`python -m playground run`, `providers` and `score`: one run, the provider list, and the
consistency of any set of frames."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from playground.base.errors import InputError, PlaygroundError, SpendCapError
from playground.base.types import CHAIN_FROM, MODES, GenerationRequest, RunResult
from playground.cli.common import Subparsers, add_data_dir, frames_arg, opened, report_run, settings_from
from playground.core.plan import frames_from_beats
from playground.core.playground import Playground
from playground.present.providers import provider_rows


def register(sub: Subparsers, command: str) -> None:
    {"run": _register_run, "providers": _register_providers, "score": _register_score}[command](sub)


def _register_run(sub: Subparsers) -> None:
    p = sub.add_parser("run", help="generate one run and log it")
    p.add_argument("--provider", default=None, help="provider name (see `providers`); default: local")
    p.add_argument("--model", default="", help="model id (default: the provider's default)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="sequence",
        help="sequence: one call for N frames; baseline: N independent calls; chain: frame 1, then "
        "frames 2..N each with an earlier frame as their reference image",
    )
    p.add_argument(
        "--chain-from",
        choices=CHAIN_FROM,
        default="first",
        help="chain mode: the reference of frames 2..N is frame 1 (sent together once it is back) "
        "or the frame before (one after another); default: first",
    )
    p.add_argument("--frames", type=frames_arg, default=None, help="frames to make (default: one per --beat)")
    p.add_argument("--prompt", required=True)
    p.add_argument(
        "--beat",
        action="append",
        default=[],
        help="one per frame, in order (repeatable); beyond --frames only the first are sent",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--size", default="")
    p.add_argument("--ref", action="append", default=[], type=Path, help="reference image (repeatable)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_data_dir(p)
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    with opened(args) as playground:
        return _run_one(playground, args)


def _run_one(playground: Playground, args: argparse.Namespace) -> int:
    try:
        frames = frames_from_beats(args.frames, args.beat)
    except InputError:
        print("error: give --frames N, or one --beat per frame", file=sys.stderr)
        return 2
    request = GenerationRequest(
        prompt=args.prompt,
        frames=frames,
        mode=args.mode,
        provider=args.provider or playground.settings.default_provider,
        model=args.model,
        beats=args.beat,
        size=args.size,
        seed=args.seed,
        references=args.ref,
        chain_from=args.chain_from,
    )
    try:
        result: RunResult = asyncio.run(playground.run(request))
    except (InputError, SpendCapError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PlaygroundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; the run was logged as cancelled", file=sys.stderr)
        return 1
    return report_run(result.record, args.json)


def _register_providers(sub: Subparsers) -> None:
    p = sub.add_parser("providers", help="list providers, models, prices and whether each is configured")
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_providers)


def cmd_providers(args: argparse.Namespace) -> int:
    rows = provider_rows(Playground(settings_from(args)))
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'provider':<11} {'model':<44} {'modes':<24} {'price':<20} {'configured'}")
    for r in rows:
        modes = "+".join(r["modes"])  # type: ignore[arg-type]
        price = f"${r['price_usd']:.4f}/{r['price_unit']}"
        configured = "yes" if r["configured"] else f"no (set {r['key_env']})"
        model = f"{r['model']}{' [retired]' if r['retired'] else ''}"
        print(f"{r['provider']:<11} {model:<44} {modes:<24} {price:<20} {configured}")
    return 0


def _register_score(sub: Subparsers) -> None:
    p = sub.add_parser("score", help="score the consistency of any set of frames")
    p.add_argument("images", nargs="+", type=Path)
    p.add_argument("--prompt", action="append", default=None, help="prompt per frame, for text alignment metrics")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    from playground.base.images import check_image
    from playground.metrics.score import score_frames

    for path in args.images:
        try:
            check_image(path.read_bytes())
        except (OSError, ValueError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
    scores = score_frames(args.images, prompts=args.prompt)
    if args.json:
        print(json.dumps(scores))
    else:
        for name, value in scores.items():
            shown = f"{value:.4f}" if isinstance(value, float) else "" if value is None else value
            print(f"{name:<24} {shown}")  # --json keeps full precision
    return 0
