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
