"""The run log under concurrency and crashes: threads, asyncio runs and several processes on
one DATA_DIR append whole rows; a SIGKILLed writer leaves a readable CSV with every earlier
row intact; hazardous text round-trips exactly and is neutralised in the raw file."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from playground.base.types import RUN_COLUMNS, GenerationRequest, RunRecord
from playground.store.runlog import RunLog
from support.faults import (
    REPO,
    check_tricky_rows,
    make_playground,
    tricky_record,
    tricky_text,
)

TEXT_COLUMNS = [c for c in RUN_COLUMNS if isinstance(getattr(RunRecord(), c), str)]


def raw_rows(data_dir: Path) -> list[dict[str, str]]:
    with open(data_dir / "runs.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def writer_script(data_dir: Path, writer: str, count: int | None, pad: int = 0) -> list[str]:
    """A Python process appending tricky rows (count None = forever), printing each index."""
    code = textwrap.dedent(f"""
        import itertools, sys
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "tests")!r}]
        from playground.store.runlog import RunLog
        from support.faults import tricky_record
        log = RunLog({str(data_dir)!r})
        for i in itertools.count() if {count!r} is None else range({count!r}):
            log.append(tricky_record({writer!r}, i, {pad}))
            print(i, flush=True)
    """)
    return [sys.executable, "-c", code]


def test_hazardous_text_round_trips_and_is_neutralised_in_the_raw_file(data_dir):
    log = RunLog(data_dir)
    records = [tricky_record("w", i) for i in range(16)]
    for record in records:
        log.append(record)
    assert check_tricky_rows(log.read()) == {"w": 16}
    for raw in raw_rows(data_dir):
        for column in TEXT_COLUMNS:
            assert not raw[column].startswith(("=", "+", "-", "@", "\t", "\r")), (column, raw[column][:10])
        assert raw["seed"].startswith("-") or raw["seed"] == "0"  # numbers stay numbers
    assert raw_rows(data_dir)[0]["prompt"] == "'" + tricky_text("w", 0)
    assert len(pd.read_csv(data_dir / "runs.csv")) == 16  # plain pandas reads it with no options


def test_the_history_view_shows_the_text_as_typed(data_dir):
    from playground.present.runs import history_table

    pg = make_playground({}, data_dir)
    for i in range(8):
        pg.log.append(tricky_record("h", i))
    table = history_table(pg)
    shown = list(table["prompt"])[::-1]  # newest first
    assert shown == [tricky_text("h", i)[:80] for i in range(8)]
    assert list(table["error"])[::-1] == [f"-{i}" for i in range(8)]


def test_many_threads_append_whole_rows(data_dir):
    writers, per_writer = 16, 40
    barrier = threading.Barrier(writers)

    def write(w: int) -> None:
        log = RunLog(data_dir)  # each its own instance, as separate requests would have
        barrier.wait()
        for i in range(per_writer):
            log.append(tricky_record(f"t{w}", i, pad=(i * 37) % 3000))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = check_tricky_rows(RunLog(data_dir).read())
    assert counts == {f"t{w}": per_writer for w in range(writers)}
    assert len(pd.read_csv(data_dir / "runs.csv")) == writers * per_writer


def test_several_processes_append_whole_rows(data_dir):
    processes, per_process = 6, 60
    procs = [
        subprocess.Popen(writer_script(data_dir, f"p{n}", per_process, pad=4000), stdout=subprocess.DEVNULL)
        for n in range(processes)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    counts = check_tricky_rows(RunLog(data_dir).read())
    assert counts == {f"p{n}": per_process for n in range(processes)}
    assert len(raw_rows(data_dir)) == processes * per_process


def test_concurrent_runs_each_log_one_row(emulator, data_dir):
    """Thirty runs at once through the core (what a batch or the Gradio queue does)."""
    pg = make_playground(emulator.env(), data_dir)
    providers = ["byteplus", "evolink", "wavespeed", "local"]

    async def all_runs():
        requests = [
            GenerationRequest(
                prompt=tricky_text("c", i),
                frames=2,
                provider=providers[i % 4],
                size="256x256" if providers[i % 4] != "local" else "512x512",
            )
            for i in range(30)
        ]
        return await asyncio.gather(*(pg.run(r) for r in requests))

    results = asyncio.run(all_runs())
    assert all(r.record.status == "ok" for r in results)
    frame = pg.log.read()
    assert len(frame) == 30
    assert sorted(frame["run_id"]) == sorted(r.record.run_id for r in results)
    assert sorted(frame["prompt"]) == sorted(tricky_text("c", i) for i in range(30))


# -- crashes ------------------------------------------------------------------------------------------------------


def kill_after(cmd: list[str], lines: int, env: dict[str, str] | None = None, timeout: float = 60) -> list[str]:
    """Start cmd, read `lines` lines of its stdout, SIGKILL it, return what it printed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert len(seen) >= lines, "the writer did not get going"
    return seen


def test_a_writer_killed_mid_append_leaves_a_readable_log(data_dir):
    """Big rows in a tight loop, killed at an arbitrary moment, twice; then more appends."""
    for attempt in range(2):
        kill_after(writer_script(data_dir, f"k{attempt}", None, pad=60_000), lines=25 + attempt * 7)
    log = RunLog(data_dir)
    log.append(tricky_record("after", 0))
    counts = check_tricky_rows(log.read())
    assert counts["k0"] >= 25 and counts["k1"] >= 32 and counts["after"] == 1
    assert len(pd.read_csv(data_dir / "runs.csv")) == sum(counts.values())


def test_a_process_killed_mid_run_keeps_every_earlier_row(emulator, data_dir):
    """`python -m playground run` style loop (real runs against the emulator), SIGKILLed while a
    run is in flight: every run it finished is in the log, whole; the next process appends fine."""
    emulator.latency_s = 0.15
    code = textwrap.dedent(f"""
        import asyncio, sys
        sys.path[:0] = [{str(REPO)!r}]
        from playground.base.config import Settings
        from playground.core import Playground
        from playground.base.types import GenerationRequest
        pg = Playground(Settings.from_env(data_dir={str(data_dir)!r}))
        i = 0
        while True:
            r = asyncio.run(pg.run(GenerationRequest(prompt=f"=run {{i}}, \\"fox\\"\\n🦊", frames=3,
                                                     provider="byteplus", size="256x256")))
            print(r.record.run_id, r.record.status, flush=True)
            i += 1
    """)
    finished = kill_after([sys.executable, "-c", code], lines=4, env={**os.environ, **emulator.env()})
    time.sleep(0.2)  # the killed run's frames may be half-written; its row must simply be absent
    frame = RunLog(data_dir).read()
    logged = dict(zip(frame["run_id"], frame["status"]))
    for line in finished:
        run_id, status = line.split()
        assert logged[run_id] == status == "ok"
    assert list(frame["prompt"][:4]) == [f'=run {i}, "fox"\n🦊' for i in range(4)]
    pg = make_playground(emulator.env(), data_dir)
    result = asyncio.run(pg.run(GenerationRequest(prompt="after the crash", frames=1, provider="local")))
    assert pg.log.get(result.record.run_id)["prompt"] == "after the crash"


@pytest.mark.parametrize("cut", [10, 200])
def test_a_torn_last_row_does_not_spoil_later_rows(data_dir, cut):
    """A crash of the machine (not just the process) can leave half a row at the end of the
    file. Rows before it stay readable and rows appended after it are whole."""
    log = RunLog(data_dir)
    for i in range(5):
        log.append(tricky_record("before", i))
    path = data_dir / "runs.csv"
    whole = path.read_bytes()
    log.append(tricky_record("torn", 0, pad=400))
    path.write_bytes(path.read_bytes()[: len(whole) + cut])  # half of the sixth row
    later = RunLog(data_dir)
    later.append(tricky_record("after", 0))
    later.append(tricky_record("after", 1))
    frame = later.read()
    kept = frame[frame["run_id"].astype(str).str.startswith(("before-", "after-"))]
    assert check_tricky_rows(kept) == {"before": 5, "after": 2}
