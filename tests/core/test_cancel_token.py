"""The cancel token: a run (or a comparison) stopped by its caller's token is logged and
returned as cancelled, with the frames that arrived and the cost that may have been billed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.base.prompts import Story
from playground.base.types import GenerationRequest
from playground.core import Playground
from playground.experiments.cells import Arm
from playground.experiments.compare import compare


def on_emulator(emulator, data_dir: Path) -> Playground:
    return Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir))


def test_a_cancelled_run_returns_its_result(emulator, data_dir: Path) -> None:
    emulator.latency_s = 4.0  # a frame a second
    pg = on_emulator(emulator, data_dir)
    token = asyncio.Event()

    def progress(p) -> None:
        if p.frames_done >= 1:
            token.set()

    result = asyncio.run(
        pg.run(
            GenerationRequest(prompt="A fox.", frames=4, provider="byteplus", size="2048x2048"),
            on_progress=progress,
            cancel=token,
        )
    )
    record = result.record
    assert record.status == "cancelled" and record.error.startswith("cancelled by the user")
    assert 1 <= record.frames_returned < 4 and len(result.frames) == record.frames_returned
    assert record.cost_usd > 0 and record.cost_source == "possibly billed (estimate)"
    log = pg.log.read()
    assert list(log["run_id"]) == [record.run_id] and list(log["status"]) == ["cancelled"]


def test_a_token_set_before_the_run_sends_nothing(emulator, data_dir: Path) -> None:
    pg = on_emulator(emulator, data_dir)
    token = asyncio.Event()
    token.set()
    record = asyncio.run(
        pg.run(GenerationRequest(prompt="A fox.", frames=2, provider="byteplus", size="2048x2048"), cancel=token)
    ).record
    assert record.status == "cancelled" and "nothing was sent" in record.error and record.cost_usd == 0
    assert emulator.requests == [] and len(pg.log.read()) == 1


def test_a_cancelled_comparison_logs_every_arm_cancelled(emulator, data_dir: Path) -> None:
    emulator.latency_s = 4.0
    pg = on_emulator(emulator, data_dir)
    token = asyncio.Event()
    arms = [Arm("byteplus", "", "sequence"), Arm("byteplus", "", "baseline")]

    def progress(_index: int, p) -> None:
        if p.frames_done >= 1:
            token.set()

    result = asyncio.run(
        compare(
            pg,
            Story("A fox.", beats=("a", "b", "c", "d")),
            arms,
            frames=4,
            seed=None,
            size="2048x2048",
            on_progress=progress,
            cancel=token,
        )
    )
    assert [r.status for r in result.records] == ["cancelled", "cancelled"]
    assert sorted(pg.log.read()["status"]) == ["cancelled", "cancelled"]
    assert sum(r.cost_usd for r in result.records) > 0


def test_analysis_counts_cancelled_spend(emulator, data_dir: Path) -> None:
    from playground.experiments.analysis import analyse, report_json

    emulator.latency_s = 2.0
    pg = on_emulator(emulator, data_dir)
    request = GenerationRequest(prompt="A fox.", frames=4, provider="byteplus", size="2048x2048")
    finished = asyncio.run(pg.run(request)).record
    token = asyncio.Event()
    stopped = asyncio.run(pg.run(request, on_progress=lambda p: p.frames_done and token.set(), cancel=token)).record
    assert finished.status == "ok" and stopped.status == "cancelled" and stopped.cost_usd > 0
    result = analyse(pg)
    assert result.spend_usd == pytest.approx(finished.cost_usd + stopped.cost_usd)
    assert result.cancelled_usd == pytest.approx(stopped.cost_usd) and result.cancelled_runs == 1
    arm = result.summary.iloc[0]
    assert arm["runs"] == 1 and arm["cancelled"] == 1  # quality figures over the finished run only
    assert arm["spend_usd"] == pytest.approx(finished.cost_usd + stopped.cost_usd)
    assert any("possibly billed by 1 cancelled run" in note for note in result.notes)
    report = report_json(result, None)
    assert report["cancelled_runs"] == 1 and report["spend_usd"] == pytest.approx(result.spend_usd, abs=1e-6)
