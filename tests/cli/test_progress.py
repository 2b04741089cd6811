"""The batch and bench-story progress bar (cli/common.py ProgressBar): runs done, in flight,
waiting on a rate limit, spend so far and an ETA."""

from __future__ import annotations

import io

from playground.base.types import RunRecord
from playground.cli.common import ProgressBar


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_line_shows_in_flight_waiting_spend_and_eta(monkeypatch):
    import playground.cli.common as common

    monkeypatch.setattr(common.LIMITERS, "waiting", lambda provider=None: 3)
    clock, stream = Clock(), io.StringIO()
    bar = ProgressBar(10, stream, initial=2, clock=clock)
    assert "2/10 runs" in bar.line() and "ETA ?" in bar.line()
    for _ in range(5):
        bar.started()
    clock.now += 20.0
    bar(None, RunRecord(status="ok", cost_usd=0.25))
    bar(None, RunRecord(status="error", cost_usd=0.0))
    line = bar.line()
    assert line.startswith("[" + "#" * 12 + "." * 18 + "] 4/10 runs  $0.2500")
    assert "3 in flight" in line and "3 waiting on a rate limit" in line
    assert "ETA 1m00s" in line  # 2 runs ended in 20 s: 6 left take 60 s at that pace
    assert "error 1" in line and "ok 1" in line


def test_quiet_draws_nothing_and_counts_still():
    bar = ProgressBar(2, quiet=True)
    bar.started()
    bar(None, RunRecord(status="ok", cost_usd=0.1))
    bar.close()
    assert bar.stream is None and bar.done == 1 and bar.in_flight == 0 and bar.spent == 0.1


def test_the_cli_batch_lifts_the_run_slots_to_its_concurrency(emulator, data_dir):
    """The app keeps 8 runs in flight; a CLI batch with --concurrency 12 holds 12 at the provider."""
    import asyncio
    import threading
    import time

    from playground.cli.common import lift_run_slots
    from playground.core.spend import MAX_RUNS_IN_FLIGHT, RUN_SLOTS
    from playground.experiments.cells import run_cells
    from support.faults import make_playground

    pg = make_playground(emulator.env(), data_dir)
    lift_run_slots(pg, 4)
    assert pg.run_slots is RUN_SLOTS
    lift_run_slots(pg, 12)
    assert pg.run_slots.size == 12 and RUN_SLOTS.size == MAX_RUNS_IN_FLIGHT
    hold = emulator.hold("byteplus")
    done: list = []
    worker = threading.Thread(
        target=lambda: done.append(asyncio.run(run_cells(pg, byteplus_cells(12), "slots", concurrency=12)))
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while hold.seen < 12 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hold.seen == 12  # all twelve creates waiting at the emulator at once
    finally:
        hold.release()
        worker.join(60)
    assert [r.status for r in done[0]] == ["ok"] * 12


def byteplus_cells(n: int) -> list:
    from playground.base.prompts import Story
    from playground.experiments.cells import Arm, Cell

    story = Story("a red fox", "watercolour", ("the fox wakes",))
    return [
        Cell(story, Arm("byteplus", "", "sequence"), repeat=i, frames=1, story_id="fox", size="256x256")
        for i in range(n)
    ]
