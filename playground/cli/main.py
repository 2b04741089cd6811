"""`python -m playground COMMAND`: the same core as the web app, for the shell and batch runs.

Exit codes: 0 ok or partial, 1 a run that ended in error (one-line reason on stderr),
2 bad arguments or input rejected before anything was sent.
Commands that live in other modules register themselves through `EXTRA_COMMANDS`
(command -> module with `register(subparsers)`, imported only when that command runs).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from playground.base.config import Settings
from playground.base.errors import ConfigError, InputError, PlaygroundError, SpendCapError
from playground.base.types import MAX_FRAMES, MIN_FRAMES, MODES, GenerationRequest, RunRecord, RunResult
from playground.core.playground import Playground

# command name -> module whose `register(subparsers)` adds it
EXTRA_COMMANDS: dict[str, str] = {
    "compare": "playground.experiments_cli",
    "batch": "playground.experiments_cli",
    "report": "playground.analysis_cli",
    "export": "playground.export",
    "import": "playground.importer",
    "bench": "playground.bench",
    "bench-story": "playground.consistory",
    "sync": "playground.hub_cli",
}

RUN_JSON_KEYS = ("run_id", "status", "frames_requested", "frames_returned", "cost_usd", "latency_s",
                 "first_frame_s", "images_billed", "api_calls", "provider", "model", "mode", "error", "image_dir",
                 "palette_consistency", "structure_consistency", "subject_consistency", "estimate_usd", "max_cost_usd")


class _Parser(argparse.ArgumentParser):
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


def record_json(record: RunRecord) -> dict[str, object]:
    row = record.as_row()
    return {key: row[key] for key in RUN_JSON_KEYS}


def summary_line(record: RunRecord) -> str:
    line = (f"{record.status.upper()}  {record.frames_returned}/{record.frames_requested} frames  "
            f"${record.cost_usd:.4f}  {record.latency_s or 0:.2f}s  {record.provider}/{record.model} ({record.mode})")
    if record.subject_consistency is not None:
        line += (f"  consistency: subject {record.subject_consistency:.3f}, palette {record.palette_consistency:.3f},"
                 f" structure {record.structure_consistency:.3f}")
    return line


def _register_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="generate one run and log it")
    p.add_argument("--provider", default=None, help="provider name (see `providers`); default: local")
    p.add_argument("--model", default="", help="model id (default: the provider's default)")
    p.add_argument("--mode", choices=MODES, default="sequence")
    p.add_argument("--frames", type=frames_arg, required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--beat", action="append", default=[], help="one per frame, in order (repeatable)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--size", default="")
    p.add_argument("--ref", action="append", default=[], type=Path, help="reference image (repeatable)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_data_dir(p)
    p.set_defaults(func=cmd_run)


def warn_damaged(playground: Playground) -> None:
    """One line on stderr while the log holds damaged rows (set aside: the command went on)."""
    note = playground.log.damage_note()
    if note:
        print(f"warning: {note}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    playground = Playground(settings_from(args))
    try:
        return _run_one(playground, args)
    finally:
        warn_damaged(playground)


def _run_one(playground: Playground, args: argparse.Namespace) -> int:
    request = GenerationRequest(prompt=args.prompt, frames=args.frames, mode=args.mode,
                                provider=args.provider or playground.settings.default_provider, model=args.model,
                                beats=args.beat, size=args.size, seed=args.seed, references=args.ref)
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


def _register_providers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("providers", help="list providers, models, prices and whether each is configured")
    p.add_argument("--json", action="store_true")
    add_data_dir(p)
    p.set_defaults(func=cmd_providers)


def provider_rows(playground: Playground) -> list[dict[str, object]]:
    """One row per provider and model (shared by the CLI and the UI's provider table)."""
    from playground.base import pricing
    from playground.providers import provider_class, provider_names

    rows = []
    for name in provider_names():
        cls = provider_class(name)
        for info in cls.models:
            price = pricing.price_for(name, info.id, playground.price_overrides)
            rows.append({"provider": name, "model": info.id, "label": info.label, "sequence": info.native_sequence,
                         "price_usd": price.usd, "price_unit": price.unit, "configured": playground.configured(name),
                         "key_env": cls.key_env or "", "retired": info.retired})
    return rows


def cmd_providers(args: argparse.Namespace) -> int:
    rows = provider_rows(Playground(settings_from(args)))
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'provider':<11} {'model':<44} {'modes':<18} {'price':<20} {'configured'}")
    for r in rows:
        modes = "sequence+baseline" if r["sequence"] else "baseline"
        price = f"${r['price_usd']:.4f}/{r['price_unit']}"
        configured = "yes" if r["configured"] else f"no (set {r['key_env']})"
        model = f"{r['model']}{' [retired]' if r['retired'] else ''}"
        print(f"{r['provider']:<11} {model:<44} {modes:<18} {price:<20} {configured}")
    return 0


def _register_score(sub: argparse._SubParsersAction) -> None:
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
            print(f"{name:<24} {'' if value is None else value}")
    return 0


def _register_emulator(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulator", help="serve every provider's protocol on 127.0.0.1 (demos without keys)",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args: importlib.import_module("playground.emulator").main(args.rest))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command` given, only that command's module is imported (fast start)."""
    parser = _Parser(prog="python -m playground", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _register_run(sub)
    _register_providers(sub)
    _register_score(sub)
    _register_emulator(sub)
    wanted = [EXTRA_COMMANDS[command]] if command in EXTRA_COMMANDS else list(EXTRA_COMMANDS.values())
    if command in ("run", "providers", "score", "emulator"):
        wanted = []
    for module_name in dict.fromkeys(wanted):
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Text from argv or a provider may hold lone surrogates (undecodable bytes in argv arrive as
    # such): printed as escapes, never a crash after the run was logged.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if argv[:1] == ["emulator"]:  # its own parser: argparse's REMAINDER rejects leading options
        return int(importlib.import_module("playground.emulator").main(argv[1:]) or 0)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:  # e.g. PLAYGROUND_MAX_USD_PER_RUN=abc: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
