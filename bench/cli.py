"""`python -m playground bench`: does the playground add anything to the provider's own time?

Starts the loopback emulator with a fixed generation latency L and prints a table of ratios
measured in the same run (absolute times vary on shared machines):

    1 single run    per protocol style, two pairings against a bare httpx reference client:
                    in-process core vs reference, the CLI vs the reference as a script
    2 polling       completion -> noticed, and polls per second, for async jobs
    3 fan-out       a 4-arm comparison and an 8-call baseline: wall / L
    4 log scale     append, History, get, spent_since, Analysis on 100k and 1M-row logs
    5 start-up      `python app.py` to the first HTTP 200 vs a bare Gradio app
    6 offline       local provider frames per second; metrics on 8 frames at 2K
    7 UI delivery   bytes the gallery sends per 8-frame 2K run (previews vs originals)
    8 limits        a ConsiStory+-shaped batch under 60 requests/min and 5 concurrent per key:
                    wall / the least those limits allow, rows in error
    9 inflight      1,000 runs in flight in one process: whole rows, slowest / L, CPU, memory
    10 firstreq     CLI `run`: process start -> first request

`--quick` runs every part small and once (about a minute; the smoke test uses it). The parts live
in bench/ at the repository root, beside playground/ (`python -m bench` runs this too);
docs/benchmarks.md has the table and how to read it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import common, remote

PARTS = (
    "overhead",
    "polling",
    "fanout",
    "logscale",
    "startup",
    "offline",
    "delivery",
    "limits",
    "inflight",
    "firstreq",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground bench",
        description="benchmark the playground against the provider's own time (ratios)",
    )
    add_arguments(parser)
    return cmd_bench(parser.parse_args(argv))


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes, one repeat: a short smoke run")
    p.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of: {', '.join(PARTS)}")
    p.add_argument("--latency", type=float, default=None, help="generation latency L in seconds (default 2, quick 0.3)")
    p.add_argument(
        "--file-delay",
        type=float,
        default=None,
        help="time to first byte of each frame download, like a CDN (default 0.1 s, quick 0.03 s)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="repeats per measurement, the fastest taken (default 3, quick 1)"
    )
    p.add_argument("--log-rows", default=None, help="synthetic runs.csv sizes (default 100000,1000000; quick 5000)")
    p.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown to this file")
    p.add_argument(
        "--port",
        type=int,
        default=0,
        help="port of the emulator started for the overhead, fan-out and delivery parts (default 0: a free "
        "one); the polling part's emulators, several at once, always take free ports",
    )


def _parts(text: str) -> list[str]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise SystemExit(f"error: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return parts


def cmd_bench(args: argparse.Namespace) -> int:
    parts = _parts(args.parts)
    quick = args.quick
    if not 0 <= args.port <= 65535:
        raise SystemExit(f"error: --port must be 0 (a free port) to 65535, got {args.port}")
    common.EMULATOR_PORT = args.port
    cfg = remote.Settings(
        latency_s=args.latency or (0.3 if quick else 2.0),
        file_delay_s=args.file_delay if args.file_delay is not None else (0.03 if quick else 0.1),
        repeats=args.repeats or (1 if quick else 3),
        poll_latencies=(1.0,) if quick else (2.0, 6.3, 12.5, 30.0),
        long_latency_s=0.6 if quick else 12.5,
        frame_size="1024x1024" if quick else "2048x2048",
        quick=quick,
    )
    log_rows = [int(n) for n in (args.log_rows or ("5000" if quick else "100000,1000000")).split(",")]
    print(
        f"# playground bench{' --quick' if quick else ''}: L={cfg.latency_s:g} s, frame download delay "
        f"{cfg.file_delay_s:g} s, {cfg.repeats} repeat(s); {common.machine()}",
        flush=True,
    )
    rows, failed, begun = [], False, time.perf_counter()
    for part in parts:
        started = time.perf_counter()
        try:
            rows += _runner(part, cfg, log_rows, quick)()
        except Exception as exc:  # one broken part must not hide the others' figures
            failed = True
            traceback.print_exc()
            rows.append(common.Row(part, f"{part}: FAILED", None, note=f"{type(exc).__name__}: {exc}"))
        print(f"# {part}: {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    shutil.rmtree(cfg.work, ignore_errors=True)  # frames of every run: hundreds of MB
    print(common.table(rows))
    if {"overhead", "fanout"} & set(parts):
        print(f"# {remote.note(cfg)}")
    missed = [r for r in rows if r.ok is False]
    print(
        f"# {len(rows)} rows, {sum(r.ok is True for r in rows)} targets met, {len(missed)} missed; "
        f"{common.load()} at the end; {time.perf_counter() - begun:.0f} s in all"
    )
    if args.markdown:
        args.markdown.write_text(
            f"Machine: {common.machine()}\n\n{common.table(rows, markdown=True)}\n", encoding="utf-8"
        )
    return 1 if failed else 0


def _runner(part: str, cfg: object, log_rows: list[int], quick: bool) -> Callable[[], list]:
    """The part's function, its module imported only when the part runs."""
    if part in ("overhead", "polling", "fanout"):
        return lambda: getattr(remote, part)(cfg)
    if part in ("limits", "inflight", "firstreq"):
        from bench import scale

        return lambda: {"limits": scale.limits, "inflight": scale.inflight, "firstreq": scale.first_request}[part](
            quick
        )
    if part == "logscale":
        from bench import logscale

        return lambda: logscale.run(log_rows)
    if part == "startup":
        from bench import startup

        return lambda: startup.run(repeats=1 if quick else 3)
    from bench import offline

    return (lambda: offline.speed(quick)) if part == "offline" else (lambda: offline.delivery(cfg.work))  # type: ignore[attr-defined]
