"""The UI's helpers and its Generate / History callbacks, called as Gradio calls them (no browser)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from playground.base.config import Settings
from playground.base.types import Frame, GenerationRequest, RunRecord
from playground.core import Playground, Progress, Session
from playground.present.estimate import estimate_text
from playground.present.runs import format_summary, history_table, progress_items, progress_text
from playground.ui.app import build_app
from playground.ui.generate import CANCELLED, InFlight
from playground.ui.history import HISTORY_COLUMNS, download_updates, run_frames
from playground.ui.shared import request_cancel


def handler(app: gr.Blocks, api_name: str) -> Any:
    return next(f for f in app.fns.values() if f.api_name == api_name)


def by_id(outputs: list[Any]) -> dict[str, Any]:
    return {getattr(c, "elem_id", None) or f"state{i}": c for i, c in enumerate(outputs)}


def form(
    prompt: str = "A fox courier. Flat style.",
    beats: str = "packs\nruns\nrests",
    frames: int = 3,
    provider: str = "local",
    model: str = "",
) -> list[Any]:
    return [prompt, beats, frames, provider, model, "sequence", 7, "", None, "", InFlight(), Session()]


# -- pure helpers --------------------------------------------------------------------------------
def test_progress_text_counts_frames_time_and_first_frame(tmp_path: Path) -> None:
    p = Progress(
        2,
        5,
        3.25,
        [
            Frame(1, tmp_path / "a", tmp_path / "a.webp", "packs"),
            Frame(3, tmp_path / "c", tmp_path / "c.webp", "rests"),
        ],
        "frame 4 of 5",
    )
    text = progress_text(p, first_frame_s=1.04)
    assert "2 / 5 frames" in text and "▰▰▱▱▱" in text and "3.2 s elapsed" in text
    assert "first frame after 1.0 s" in text and "frame 4 of 5" in text
    assert "first frame" not in progress_text(Progress(0, 4, 0.4, []))
    assert progress_items(p) == [(str(tmp_path / "a.webp"), "1. packs"), (str(tmp_path / "c.webp"), "3. rests")]


def test_estimate_text_prices_a_request_or_says_why_not(playground: Playground) -> None:
    assert estimate_text(playground, GenerationRequest(prompt="a fox", frames=4)).startswith(
        "**Estimated cost** $0.0000"
    )
    first_four = estimate_text(playground, GenerationRequest(prompt="a", frames=4, beats=list("abcdef")))
    assert "uses beats 1–4 of 6" in first_four and first_four.endswith("ready")
    assert "not configured" in estimate_text(playground, GenerationRequest(prompt="a", frames=2, provider="byteplus"))


def test_summary_shows_status_cost_timing_and_references() -> None:
    record = RunRecord(
        run_id="r1",
        provider="byteplus",
        model="m",
        mode="sequence",
        status="partial",
        frames_requested=4,
        frames_returned=3,
        cost_usd=0.105,
        cost_source="reported",
        latency_s=6.5,
        first_frame_s=1.25,
        api_calls=1,
        images_billed=3,
        ref_count=2,
        error="frame 4: refused",
    )
    text = format_summary(record)
    assert "partial: 3 of 4 frames" in text and "$0.1050" in text and "**First frame** 1.25 s" in text
    assert "2 reference image(s)" in text and "frame 4: refused" in text


def test_summary_names_each_frame_that_did_not_come_back() -> None:
    reason = "OutputImageSensitiveContentDetected: The output image may contain sensitive information."
    record = RunRecord(
        run_id="r2", status="partial", frames_requested=4, frames_returned=3, error=reason, frame_errors={2: reason}
    )
    text = format_summary(record)
    assert f"- Frame 2: {reason}" in text and text.count(reason) == 1  # not repeated as a bare "Error:"
    both = RunRecord(
        status="error",
        frames_requested=3,
        error="server error; lost",
        frame_errors={1: "server error", 2: "server error", 3: "lost"},
    )
    assert "Frames 1–2: server error" in format_summary(both) and "Frame 3: lost" in format_summary(both)
    other = RunRecord(status="partial", frames_requested=4, frames_returned=3, error="returned 1 frame fewer")
    assert "**Error:** returned 1 frame fewer" in format_summary(other)


def test_a_refused_frame_leaves_a_numbered_gap(emulator_env: dict[str, str], emulator, tmp_path: Path) -> None:
    emulator.set_fault("byteplus", "refused")  # the second frame is refused for content
    playground = Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))
    generate = handler(build_app(playground), "generate")
    updates = asyncio.run(collect(generate.fn(*form(provider="byteplus", beats="packs\nruns\nrests", frames=3))))
    final = next(u for u in updates if u.get("run-summary"))
    assert [c for _, c in final["sequence-gallery"]] == ["1. packs", "3. rests"]
    assert "partial: 2 of 3 frames" in final["run-summary"]
    assert "- Frame 2: OutputImageSensitiveContentDetected" in final["run-summary"]
    items, summary = run_frames(playground, playground.log.latest(1).iloc[0]["run_id"])  # History: the same
    assert [c for _, c in items] == ["1. packs", "3. rests"] and "- Frame 2: OutputImage" in summary


def test_history_lists_newest_first_and_reopens_with_downloads(playground: Playground) -> None:
    ids = [
        asyncio.run(playground.run(GenerationRequest(prompt=f"fox {i}", frames=2, beats=["a", "b"]))).record.run_id
        for i in range(2)
    ]
    table = history_table(playground)
    assert list(table["run_id"]) == ids[::-1] and list(table["frames"]) == ["2/2", "2/2"]
    assert list(table.columns) == list(HISTORY_COLUMNS)
    row = table.iloc[0]
    assert row["cost $"] == "0.0000" and len(row["latency s"].split(".")[1]) == 2
    assert len(row["subject"].split(".")[1]) == 3 and len(row["when (UTC)"]) == len("11-26 11:43")
    items, summary = run_frames(playground, ids[0])
    assert [caption for _, caption in items] == ["1. a", "2. b"] and all(p.endswith(".preview.webp") for p, _ in items)
    assert "ok: 2 of 2 frames" in summary
    updates = download_updates(playground, ids[0])
    assert [u.visible for u in updates] == [True, True, True]
    assert [u.value["orig_name"] for u in updates] == [f"{ids[0]}.zip", f"{ids[0]}-sheet.png", f"{ids[0]}.gif"]
    assert [u.visible for u in download_updates(playground, "")] == [False, False, False]


# -- the callbacks -------------------------------------------------------------------------------
async def collect(gen: AsyncIterator[dict[Any, Any]]) -> list[dict[str, Any]]:
    return [{getattr(k, "elem_id", None) or type(k).__name__: v for k, v in update.items()} async for update in gen]


def test_generate_streams_frames_one_by_one_then_offers_downloads(
    emulator_env: dict[str, str], emulator, tmp_path: Path
) -> None:
    emulator.latency_s = 1.5  # BytePlus streams one frame every 0.5 s
    playground = Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))
    generate = handler(build_app(playground), "generate")
    updates = asyncio.run(collect(generate.fn(*form(provider="byteplus"))))
    counts = [len(u["sequence-gallery"]) for u in updates if "sequence-gallery" in u]
    assert counts[0] == 0 and counts[-1] == 3
    assert {1, 2} <= set(counts[1:-1]) and counts[1:-1] == sorted(counts[1:-1])  # grew one frame at a time
    texts = [u["run-progress"] for u in updates if u.get("run-progress")]
    assert any("1 / 3 frames" in t and "first frame after" in t for t in texts)
    assert any("0 / 3 frames" in t and "s elapsed" in t for t in texts)
    final = next(u for u in updates if u.get("run-summary"))
    assert "ok: 3 of 3 frames" in final["run-summary"]
    assert not [u for u in updates if "run-download-zip" in u][-1]["run-download-zip"].visible  # hidden while running
    row = playground.log.latest(1).iloc[0]
    assert row["status"] == "ok" and 0 < row["first_frame_s"] < row["latency_s"]


def test_async_job_progress_and_baseline_calls_show_while_running(
    emulator_env: dict[str, str], emulator, tmp_path: Path
) -> None:
    emulator.latency_s, emulator.sync_wait_s = 1.2, 0.1  # sync mode's wait runs out: the job is polled
    playground = Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))
    generate = handler(build_app(playground), "generate")
    job = asyncio.run(
        collect(
            generate.fn(*form(provider="wavespeed", model="bytedance/seedream-v4.5/sequential", beats="", frames=2))
        )
    )
    notes = [u["run-progress"] for u in job if u.get("run-progress")]
    assert any("0 / 2 frames" in t and ("processing" in t or "queued" in t or "created" in t) for t in notes), notes
    baseline = form(frames=3)
    baseline[5] = "baseline"  # three independent local calls, each a frame when it finishes
    counts = [
        len(u["sequence-gallery"]) for u in asyncio.run(collect(generate.fn(*baseline))) if "sequence-gallery" in u
    ]
    assert counts[0] == 0 and counts[-1] == 3 and any(0 < c < 3 for c in counts), counts
    assert [r["status"] for _, r in playground.log.read().iterrows()] == ["ok", "ok"]


def test_cancelling_the_event_logs_a_cancelled_run_with_the_frames_so_far(
    emulator_env: dict[str, str], emulator, tmp_path: Path
) -> None:
    emulator.latency_s = 4.0  # 1 s per frame of 4
    playground = Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))
    generate = handler(build_app(playground), "generate")

    async def scenario() -> None:
        first_frame = asyncio.Event()

        async def consume() -> None:  # what Gradio's queue does with a generator event
            async for update in generate.fn(*form(provider="byteplus", frames=4, beats="")):
                if (
                    len(
                        update.get(
                            next((k for k in update if getattr(k, "elem_id", "") == "sequence-gallery"), None), []
                        )
                        or []
                    )
                    >= 1
                ):
                    first_frame.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first_frame.wait(), 10)
        task.cancel()  # Gradio's `cancels=` cancels the task iterating the generator
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    row = playground.log.latest(1).iloc[0]
    assert row["status"] == "cancelled" and row["error"].startswith("cancelled by the user")
    assert 1 <= row["frames_returned"] < 4


def test_cancel_sets_the_token_and_the_run_shows_its_own_cancelled_result(
    emulator_env: dict[str, str], emulator, tmp_path: Path
) -> None:
    """Cancel only sets the run's token; the run's event yields the cancelled run itself, last:
    no progress line after it (the race left "Running… 2 / 4 frames" under "Cancelled.")."""
    emulator.latency_s = 4.0  # 1 s per frame of 4
    playground = Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))
    generate = handler(build_app(playground), "generate")
    in_flight = InFlight()
    values = form(provider="byteplus", frames=4, beats="")
    values[-2] = in_flight

    async def scenario() -> list[dict[str, object]]:
        updates: list[dict[str, object]] = []
        async for update in generate.fn(*values):
            shown = {getattr(k, "elem_id", ""): v for k, v in update.items()}
            updates.append(shown)
            if shown.get("sequence-gallery") and in_flight.tokens:  # the first frame is on screen
                await request_cancel(in_flight)
        return updates

    updates = asyncio.run(scenario())
    row = playground.log.latest(1).iloc[0]
    assert len(playground.log.read()) == 1 and row["status"] == "cancelled" and 1 <= row["frames_returned"] < 4
    last = updates[-1]
    assert last["run-progress"] == "" and not in_flight.tokens
    summary = str(last["run-summary"])
    assert summary.startswith(CANCELLED) and f"cancelled: {row['frames_returned']} of 4 frames" in summary
    assert row["run_id"] in summary and "possibly billed" in summary
    assert len(last["sequence-gallery"]) == row["frames_returned"]  # type: ignore[arg-type]


def test_cancel_with_nothing_in_flight_sets_nothing() -> None:
    in_flight = InFlight()
    asyncio.run(request_cancel(in_flight))  # says so (a toast) and changes nothing
    assert in_flight.runs == 0


def test_bad_input_is_a_clear_error_and_a_logged_row(playground: Playground) -> None:
    generate = handler(build_app(playground), "generate")
    with pytest.raises(gr.Error, match="the prompt is empty"):
        asyncio.run(collect(generate.fn(*form(prompt="  "))))
    assert playground.log.latest(1).iloc[0]["status"] == "error"


@pytest.mark.parametrize("typed", [16, 0, 2.5, None])
def test_frames_reach_the_core_as_typed(playground: Playground, typed: float | None) -> None:
    """No clamping or rounding in the UI: the core refuses the value and logs it, nothing is sent."""
    generate = handler(build_app(playground), "generate")
    with pytest.raises(gr.Error, match="frames must be between 1 and 15"):
        asyncio.run(collect(generate.fn(*form(frames=typed))))  # type: ignore[arg-type]
    row = playground.log.latest(1).iloc[0]
    assert row["status"] == "error" and row["api_calls"] == 0 and row["frames_returned"] == 0
    assert str(2.5 if typed == 2.5 else int(typed or 0)) in row["error"]


def test_a_refused_run_keeps_the_frames_on_screen_and_says_why(playground: Playground) -> None:
    """Refused before sending: no update clears the gallery, the summary names the reason (the
    toast is the gr.Error) and the run whose frames stay on screen."""
    generate = handler(build_app(playground), "generate")
    refused = form(prompt="  ")
    refused[-3] = "20250101-000000-abcdef"  # the run shown before
    updates: list[dict[str, Any]] = []

    async def run() -> None:
        async for update in generate.fn(*refused):
            updates.append({getattr(k, "elem_id", None) or type(k).__name__: v for k, v in update.items()})

    with pytest.raises(gr.Error, match="the prompt is empty"):
        asyncio.run(run())
    assert updates and all("sequence-gallery" not in u for u in updates)
    text = updates[-1]["run-summary"]
    assert "Not sent" in text and "the prompt is empty" in text and "20250101-000000-abcdef" in text
    assert playground.log.latest(1).iloc[0]["status"] == "error"


def test_open_run_refuses_an_unknown_id(playground: Playground) -> None:
    open_run = handler(build_app(playground), "open_run")
    with pytest.raises(gr.Error, match="no run 'nope-123' in the log") as refused:
        open_run.fn("nope-123")
    assert str(playground.settings.data_dir) not in str(refused.value)  # no server path on a public Space
    assert "runs.csv" not in str(refused.value)
