"""Parts 8-10 (issue 16): batches at the speed the providers allow.

    8 limits     a ConsiStory+-shaped batch (stories x 4 arms, one key per arm) against an
                 emulator enforcing 60 requests/min and 5 concurrent generations per key: wall
                 time / the least those limits allow, and rows in error
    9 inflight   1,000 runs in flight in one process (emulator latency L = 10 s): rows whole,
                 slowest run / L, peak memory and CPU of the playground's process
    10 firstreq  `python -m playground run` from process start to its first HTTP request

The emulator runs in its own process (its threads and drawing take no CPU from the figures of
this one). Ratios in one run; absolute times vary with the machine's load (stated with the table).
"""

from __future__ import annotations

import asyncio
import heapq
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from bench.common import REPO, Row, emulator_process, python_env, row

LIMITS_ARMS = ("byteplus::sequence", "wavespeed::sequence", "atlascloud::sequence", "replicate::sequence")


def least_time(runs: int, concurrent: int, per_window: int, window_s: float, latency_s: float) -> float:
    """The least wall time `runs` generations of `latency_s` take on one key allowing `concurrent`
    at once and `per_window` creates in any `window_s`: each starts as soon as both allow it."""
    ends: list[float] = [0.0] * concurrent
    starts: deque[float] = deque()
    last = 0.0
    for _ in range(runs):
        start = heapq.heappop(ends)
        if len(starts) >= per_window:
            start = max(start, starts[-per_window] + window_s)
        starts.append(start)
        heapq.heappush(ends, start + latency_s)
        last = max(last, start + latency_s)
    return last


def _cells(stories: int, arms: tuple[str, ...], beats: int = 2) -> list:  # list[Cell]
    from playground.base.prompts import Story
    from playground.experiments.cells import Cell, parse_arms

    out = []
    for arm in parse_arms(list(arms)):
        for s in range(stories):
            story = Story(
                f"character {s}: a red fox in a blue scarf",
                "watercolour",
                tuple(f"beat {b + 1} of story {s}" for b in range(beats)),
            )
            out.append(Cell(story, arm, frames=beats, story_id=f"story-{s:03d}", size="1024x1024"))
    return out


def _batch(env: dict[str, str], work: Path, cells: list, concurrency: int) -> tuple[float, float, list]:
    """(wall s, CPU s of this process, records) of one batch through run_cells, as the CLI runs it."""
    from playground.base.config import Settings
    from playground.cli.common import lift_run_slots
    from playground.core import Playground
    from playground.experiments.cells import run_cells
    from playground.providers.limiter import LIMITERS

    LIMITERS.clear()
    playground = Playground(Settings.from_env(env=env, data_dir=work))
    lift_run_slots(playground, concurrency)
    wall, cpu = time.perf_counter(), time.process_time()
    records = asyncio.run(run_cells(playground, cells, f"bench-{int(time.time())}", concurrency=concurrency))
    return time.perf_counter() - wall, time.process_time() - cpu, records


def limits(quick: bool) -> list[Row]:
    stories, latency = (12, 1.0) if quick else (48, 2.0)
    rpm, concurrent = 60, 5
    cells = _cells(stories, LIMITS_ARMS)
    with emulator_process(
        latency,
        size="256x256",
        fmt="jpeg",
        draw_first=False,
        textured=False,
        extra=["--limits", f"*={rpm}/min:{concurrent}"],
    ) as emu:
        work = Path(tempfile.mkdtemp(prefix="pg-bench-limits-"))
        wall, _, records = _batch(emu.env, work, cells, concurrency=len(cells))
    least = least_time(stories, concurrent, rpm, 60.0, latency)
    errors = [r for r in records if r.status != "ok"]
    label = (
        f"{stories} stories x {len(LIMITS_ARMS)} arms, {rpm}/min and {concurrent} concurrent per key, L={latency:g} s"
    )
    note = (
        f"{wall:.1f} s against {least:.1f} s allowed (each arm its own key: "
        f"{', '.join(a.split(':')[0] for a in LIMITS_ARMS)}); all {len(cells)} cells sent at once"
    )
    return [
        row("8 limits", f"{label}: wall / least the limits allow", wall / least, "x", "<= 1.15", note),
        row(
            "8 limits",
            f"{label}: rows not ok",
            len(errors),
            "rows",
            "<= 0",
            "; ".join(sorted({(r.error or r.status)[:80] for r in errors}))[:300],
        ),
    ]


def inflight(quick: bool) -> list[Row]:
    runs, latency = (100, 2.0) if quick else (1000, 10.0)
    cells = _cells(runs, ("byteplus::sequence",), beats=1)
    with emulator_process(latency, size="256x256", fmt="jpeg", draw_first=False, textured=False) as emu:
        work = Path(tempfile.mkdtemp(prefix="pg-bench-inflight-"))
        emulator_cpu = emu.cpu_s()
        wall, cpu, records = _batch(emu.env, work, cells, concurrency=runs)
        emulator_cpu = emu.cpu_s() - emulator_cpu
        from playground.store.runlog import RunLog

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the bare clients' own
        logged = RunLog(work).read(["run_id", "status", "latency_s", "frames_returned", "image_dir"])
        bare = asyncio.run(_bare_requests(emu.env, runs))
    whole = logged[(logged["status"] == "ok") & (logged["frames_returned"] == 1) & (logged["image_dir"] != "")]
    slowest = max((r.latency_s or 0.0) for r in records) if records else float("nan")
    label = f"{runs} runs in flight, L={latency:g} s (byteplus, 1 frame each)"
    return [
        row(
            "9 inflight",
            f"{label}: whole ok rows in the log",
            len(whole),
            "rows",
            f">= {runs}",
            f"{len(logged)} rows logged; {len(records)} records returned",
        ),
        row(
            "9 inflight",
            f"{label}: slowest run / L",
            slowest / latency,
            "x",
            "<= 1.10",
            f"slowest {slowest:.2f} s; the batch took {wall:.1f} s",
        ),
        row(
            "9 inflight",
            f"{label}: slowest run / slowest bare httpx request",
            slowest / max(bare),
            "x",
            "",
            f"{runs} bare requests at once (create + frame download, a client each) on the same emulator: "
            f"{min(bare):.2f} to {max(bare):.2f} s; a client and TLS context per request, so mostly that client's "
            "own CPU (docs/benchmarks.md)",
        ),
        row(
            "9 inflight",
            f"{label}: CPU of this process",
            cpu,
            "s",
            "",
            f"{cpu / wall:.0%} of one core over {wall:.1f} s ({1000 * cpu / runs:.1f} ms per run)",
        ),
        row(
            "9 inflight",
            f"{label}: CPU of the emulator's process",
            emulator_cpu,
            "s",
            "",
            f"{emulator_cpu / wall:.0%} of one core over the batch: the emulator is not what holds the runs "
            "back when this is far below the playground's CPU",
        ),
        row(
            "9 inflight",
            f"{label}: peak memory of this process",
            peak_mb,
            "MB",
            "",
            "ru_maxrss after the batch: this bench process, its earlier parts included (run "
            "`--parts inflight` alone for the batch's own)",
        ),
    ]


async def _bare_requests(env: dict[str, str], n: int) -> list[float]:
    """Seconds each of `n` bare create + download pairs takes when all start at once."""
    import httpx

    url, key = env["ARK_BASE_URL"] + "/images/generations", env["ARK_API_KEY"]
    body = {"model": "seedream-4-0-250828", "prompt": "a fox", "size": "1024x1024", "response_format": "url"}

    async def one() -> float:
        started = time.perf_counter()
        async with httpx.AsyncClient(timeout=300) as client:
            answer = await client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
            (await client.get(answer.json()["data"][0]["url"])).raise_for_status()
        return time.perf_counter() - started

    return list(await asyncio.gather(*(one() for _ in range(n))))


def first_request(quick: bool) -> list[Row]:
    """Process start -> first request of `python -m playground run`, through bench/first_request.py
    (which imports httpx first: a few ms the real command spends anyway)."""
    repeats = 2 if quick else 5
    delays = []
    with emulator_process(0.05, size="256x256", fmt="jpeg", draw_first=False, textured=False) as emu:
        for _ in range(repeats):
            work = tempfile.mkdtemp(prefix="pg-bench-first-")
            started = time.time()
            done = subprocess.run(
                [
                    sys.executable,
                    str(REPO / "bench" / "first_request.py"),
                    "run",
                    "--provider",
                    "byteplus",
                    "--frames",
                    "1",
                    "--prompt",
                    "a fox",
                    "--data-dir",
                    work,
                ],
                cwd=REPO,
                env=python_env(emu.env),
                capture_output=True,
                text=True,
                timeout=120,
            )
            marks = [line for line in done.stderr.splitlines() if line.startswith("# first request ")]
            if done.returncode or not marks:
                raise RuntimeError(f"run failed: {done.stderr[-500:]}")
            delays.append(float(marks[0].split()[-1]) - started)
    return [
        row(
            "10 firstreq",
            "CLI `run`: process start -> first request (fastest)",
            min(delays),
            "s",
            "<= 0.5",
            f"median {statistics.median(delays):.2f} s of {repeats}",
        )
    ]
