"""The core's guarantees under faults that are not the provider's: every run ends as exactly one
row whatever raises (disk full, a progress callback, a second cancel), keys stay out of
repr(), spend that may have been billed is counted, the day cap holds across processes,
and configuration or size mistakes are refused with one clear line.

`ScriptedProvider` is registered like a real provider (through the registry), and its
`generate` runs whatever script the test sets."""

from __future__ import annotations

import asyncio
import errno
import math
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar

import httpx
import pytest

from playground.base.config import Settings
from playground.base.errors import ConfigError, InputError, ProviderError, SpendCapError
from playground.base.types import CallOutcome, GenerationRequest, ModelInfo, ProviderCall, ReferenceImage
from playground.core import Playground, Session, download
from playground.core import run as core_run
from playground.core import sink as run_sink
from playground.core.sink import Progress
from playground.providers.adapters.atlascloud import AtlasCloudProvider
from playground.providers.adapters.fal import FalProvider
from playground.providers.adapters.wavespeed import WaveSpeedProvider
from playground.providers.base import FrameSink, Provider
from playground.store import rundir
from playground.store.reservations import DayReservations
from support.faults import REPO, cli, frame_files, make_playground, rows, tiny_png
from support.providers import register_adapter

FAKE_KEY = "fake-key-0123456789abcdef"
Script = Callable[[ProviderCall, FrameSink], Awaitable[CallOutcome]]


async def no_script(call: ProviderCall, sink: FrameSink) -> CallOutcome:
    raise AssertionError("the test sets ScriptedProvider.script")


class ScriptedProvider(Provider):
    """A provider whose `generate` is the test's script (registered under "scripted")."""

    name = "scripted"
    label = "Scripted"
    models = (ModelInfo(id="seq", label="sequence", native_sequence=True, max_frames=4, max_references=2),)
    script: ClassVar[Script] = staticmethod(no_script)  # type: ignore[assignment]
    fail_billing: ClassVar[bool] = False

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        return await type(self).script(call, sink)

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        if self.fail_billing:
            raise KeyError("usage")  # an adapter bug met while the row is being filled
        return super().billed_images(call, outcome, frames_returned)


@pytest.fixture
def scripted(monkeypatch, data_dir) -> Callable[..., Playground]:
    """set_script(script, **env) -> a Playground on which provider "scripted" runs `script`."""
    register_adapter(monkeypatch, ScriptedProvider)

    def set_script(script: Script, **env: str) -> Playground:
        monkeypatch.setattr(ScriptedProvider, "script", staticmethod(script))
        return make_playground({"PLAYGROUND_PRICES": '{"scripted/seq": 0.05}'}, data_dir, **env)

    return set_script


def request(frames: int = 3) -> GenerationRequest:
    return GenerationRequest(prompt="a fox in a scarf", provider="scripted", frames=frames)


async def deliver_urls(call: ProviderCall, sink: FrameSink) -> CallOutcome:
    for i in range(call.frames):
        await sink.url(i, f"http://frames.test/{i + 1}.png")
    return CallOutcome(request_id="job-1")


async def deliver_bytes(call: ProviderCall, sink: FrameSink) -> CallOutcome:
    for i in range(call.frames):
        await sink.image(i, tiny_png())
    return CallOutcome(request_id="job-1")


async def fake_download(client: httpx.AsyncClient, url: str, run_dir, number: int, max_bytes: int):
    """download_frame without a network: frame 2 meets a full disk."""
    if number == 2:
        _disk_full()
    return await asyncio.to_thread(rundir.save_frame, run_dir, number, tiny_png())


def only_row(pg: Playground) -> dict:
    logged = rows(pg)
    assert len(logged) == 1, f"every run ends as exactly one row, got {len(logged)}"
    return logged[0]


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# -- every run ends as exactly one row, whatever raises (defect 2) -----------------------------------


def test_a_download_that_hits_a_full_disk_is_that_frames_error(scripted, monkeypatch):
    pg = scripted(deliver_urls)
    monkeypatch.setattr(run_sink, "download_frame", fake_download)
    record = asyncio.run(pg.run(request())).record
    assert record.status == "partial" and record.frames_returned == 2
    errors = record.frame_errors
    assert list(errors) == [2] and "No space left on device" in errors[2]
    assert only_row(pg)["status"] == "partial"
    assert frame_files(pg.log.run_dir(record.run_id)) == [
        "frame_01.png",
        "frame_01.preview.webp",
        "frame_03.png",
        "frame_03.preview.webp",
    ]


@pytest.mark.parametrize("deliver", [deliver_urls, deliver_bytes], ids=["downloads", "bytes"])
def test_a_progress_callback_that_raises_loses_no_frame_and_no_row(scripted, monkeypatch, deliver):
    pg = scripted(deliver)
    monkeypatch.setattr(run_sink, "download_frame", lambda *a: frames_ok(*a))

    def broken_view(progress: Progress) -> None:
        raise RuntimeError("the browser went away")

    record = asyncio.run(pg.run(request(), on_progress=broken_view)).record
    assert record.status == "ok" and record.frames_returned == 3
    assert "progress" in record.error and "the browser went away" in record.error  # said, not hidden
    assert only_row(pg)["status"] == "ok"


async def frames_ok(client, url, run_dir, number, max_bytes):
    return await asyncio.to_thread(rundir.save_frame, run_dir, number, tiny_png())


def test_an_unexpected_error_in_the_run_still_logs_one_row(scripted, tmp_path, monkeypatch):
    pg = scripted(deliver_bytes)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setattr(pg.log, "run_dir", lambda run_id: blocker / run_id)  # mkdir fails
    record = asyncio.run(pg.run(request())).record
    assert record.status == "error" and "NotADirectoryError" in record.error
    assert only_row(pg)["error"] == record.error


def test_an_adapter_bug_while_the_row_is_filled_still_logs_it(scripted, monkeypatch):
    pg = scripted(deliver_bytes)
    monkeypatch.setattr(ScriptedProvider, "fail_billing", True)
    record = asyncio.run(pg.run(request())).record
    assert record.status == "error" and "KeyError" in record.error
    assert only_row(pg)["run_id"] == record.run_id


# -- keys never in a repr (defect 11) ------------------------------------------------------------


def test_no_key_in_the_repr_of_anything_that_holds_one(tmp_path):
    call = ProviderCall(model="m", prompt="p", frames=1, size="1K", seed=None, api_key=FAKE_KEY)
    session = Session(keys={"ARK_API_KEY": FAKE_KEY})
    settings = Settings.from_env(env={"ARK_API_KEY": FAKE_KEY}, data_dir=tmp_path)
    for holder in (call, session, settings):
        assert FAKE_KEY not in repr(holder), type(holder).__name__
        assert FAKE_KEY not in str(holder), type(holder).__name__
    assert call.api_key == FAKE_KEY and session.keys["ARK_API_KEY"] == FAKE_KEY  # still there, only hidden


# -- configuration values that would silently disable a limit (defect 20) --------------------------


@pytest.mark.parametrize(
    "name",
    [
        "PLAYGROUND_MAX_USD_PER_RUN",
        "PLAYGROUND_MAX_USD_PER_SESSION",
        "PLAYGROUND_MAX_USD_PER_DAY",
        "PLAYGROUND_CONFIRM_USD",
    ],
)
@pytest.mark.parametrize("raw", ["nan", "-1", "-inf"])
def test_a_cap_that_is_not_a_non_negative_number_is_refused(tmp_path, name, raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env={name: raw}, data_dir=tmp_path)
    message = str(caught.value)
    assert name in message and repr(raw) in message and "\n" not in message


@pytest.mark.parametrize("name", ["PLAYGROUND_MAX_DOWNLOAD_MB", "PLAYGROUND_RUN_DEADLINE_S"])
@pytest.mark.parametrize("raw", ["nan", "inf", "-5", "0"])
def test_a_limit_must_be_a_positive_finite_number(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env={name: raw}, data_dir=tmp_path)


def test_inf_still_lifts_a_cap_and_zero_still_means_free_runs_only(tmp_path):
    settings = Settings.from_env(
        env={"PLAYGROUND_MAX_USD_PER_RUN": "inf", "PLAYGROUND_MAX_USD_PER_DAY": "0"}, data_dir=tmp_path
    )
    assert settings.max_usd_per_run == math.inf and settings.max_usd_per_day == 0.0


def test_the_cli_prints_the_one_line_for_a_nan_cap(data_dir):
    result = cli(["run", "--frames", "2", "--prompt", "a fox"], {"PLAYGROUND_MAX_USD_PER_DAY": "nan"}, data_dir)
    assert result.code == 2 and "PLAYGROUND_MAX_USD_PER_DAY" in result.err and "Traceback" not in result.err


# -- a failed write leaves no file behind (defect 20) ------------------------------------------------


def test_save_frame_removes_its_part_file_when_the_write_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir.os, "replace", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        rundir.save_frame(tmp_path, 1, tiny_png())
    assert frame_files(tmp_path) == []


def test_save_frame_removes_the_frame_when_its_preview_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "write_preview", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        rundir.save_frame(tmp_path, 1, tiny_png())
    assert frame_files(tmp_path) == []  # a frame without its preview is not a frame of the run


def test_a_download_whose_preview_cannot_be_written_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir, "write_preview", _disk_full)
    png = tiny_png()

    async def go() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=png))
        async with httpx.AsyncClient(transport=transport) as client:
            await download.download_frame(client, "http://files.test/1.png", tmp_path, 1, 10**6)

    with pytest.raises(OSError, match="No space left"):
        asyncio.run(go())
    assert frame_files(tmp_path) == []


def test_an_unexpected_error_before_sending_is_raised_after_its_row(scripted, monkeypatch):
    pg = scripted(deliver_bytes)

    def broken_validate(self, call):
        raise KeyError("max_frames")

    monkeypatch.setattr(ScriptedProvider, "validate", broken_validate)
    with pytest.raises(KeyError):
        asyncio.run(pg.run(request()))
    row = only_row(pg)
    assert row["status"] == "error" and "nothing was sent" in row["error"] and "KeyError" in row["error"]


# -- a second cancel cannot lose the row (defect 3) -------------------------------------------------


def slow_scoring(monkeypatch) -> None:
    """Scoring (in a thread, while the row is being finished) takes 0.6 s."""
    monkeypatch.setattr(core_run, "score_into", lambda record, paths, order=None: time.sleep(0.6))


async def two_frames_then_hang(call: ProviderCall, sink: FrameSink) -> CallOutcome:
    await sink.image(0, tiny_png())
    await sink.image(1, tiny_png())
    await asyncio.sleep(3600)
    raise AssertionError("cancelled before this")


async def cancel_at(task: asyncio.Task, *delays: float) -> None:
    for delay in delays:
        await asyncio.sleep(delay)
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_second_cancel_while_the_row_is_finished_does_not_lose_it(scripted, monkeypatch):
    pg = scripted(two_frames_then_hang)
    slow_scoring(monkeypatch)

    async def go() -> None:
        task = asyncio.create_task(pg.run(request()))
        await cancel_at(task, 0.3, 0.2)  # the second lands while the cancelled run is being scored

    asyncio.run(go())
    row = only_row(pg)
    assert row["status"] == "cancelled" and row["frames_returned"] == 2


def test_a_cancel_that_lands_while_a_finished_run_is_scored_keeps_its_row(scripted, monkeypatch):
    pg = scripted(deliver_bytes)
    slow_scoring(monkeypatch)

    async def go() -> None:
        task = asyncio.create_task(pg.run(request()))
        await cancel_at(task, 0.3, 0.1)

    asyncio.run(go())
    row = only_row(pg)
    assert row["status"] == "ok" and row["frames_returned"] == 3  # the run had finished: its row says so


# -- calls that may have been billed are counted (defect 5) -------------------------------------------


async def hang(call: ProviderCall, sink: FrameSink) -> CallOutcome:
    await asyncio.sleep(3600)
    raise AssertionError("stopped before this")


def test_calls_stopped_by_the_deadline_count_as_possibly_billed_and_waiting_ones_do_not(scripted, monkeypatch):
    pg = scripted(hang, PLAYGROUND_RUN_DEADLINE_S="0.3")
    monkeypatch.setattr(ScriptedProvider, "max_concurrency", 1)  # one call in flight, two waiting their turn
    record = asyncio.run(
        pg.run(GenerationRequest(prompt="a fox", provider="scripted", mode="baseline", frames=3))
    ).record
    assert record.status == "error" and "deadline" in record.error
    assert record.images_billed == 0
    assert record.cost_usd == pytest.approx(0.05) and record.cost_source == "possibly billed (estimate)"


def test_a_call_that_failed_after_one_frame_counts_the_rest_as_possibly_billed(scripted):
    async def one_frame_then_reset(call: ProviderCall, sink: FrameSink) -> CallOutcome:
        await sink.image(0, tiny_png())
        raise ProviderError("network", "scripted: connection reset", may_be_billed=True)

    record = asyncio.run(scripted(one_frame_then_reset).run(request())).record
    assert record.status == "partial" and record.images_billed == 1  # known: the frame that came back
    assert record.cost_usd == pytest.approx(3 * 0.05)  # possible: all three under the default rule
    assert "may have been billed" in record.error


def test_a_call_that_says_it_was_not_sent_costs_nothing(scripted):
    async def refused(call: ProviderCall, sink: FrameSink) -> CallOutcome:
        raise ProviderError("network", "scripted: could not connect; nothing was sent")

    record = asyncio.run(scripted(refused).run(request())).record
    assert record.cost_usd == 0 and record.cost_source == "price table"


def test_a_cancelled_call_in_flight_counts_as_possibly_billed(scripted):
    pg = scripted(two_frames_then_hang)

    async def go() -> None:
        await cancel_at(asyncio.create_task(pg.run(request())), 0.3)

    asyncio.run(go())
    row = only_row(pg)
    assert row["status"] == "cancelled" and row["images_billed"] == 2
    assert row["cost_usd"] == pytest.approx(3 * 0.05) and row["cost_source"] == "possibly billed (estimate)"


# -- the day cap holds across processes on one DATA_DIR (defect 6) --------------------------------------

DAY_CAP = {"PLAYGROUND_MAX_USD_PER_DAY": "0.15"}  # one run of 2 frames at $0.05 fits, two do not


def test_two_playgrounds_on_one_data_dir_see_each_others_runs_in_flight(scripted, data_dir):
    first, second = scripted(hang, **DAY_CAP), scripted(hang, **DAY_CAP)  # as two processes would

    async def go() -> str:
        in_flight = asyncio.create_task(first.run(request(frames=2)))
        await asyncio.sleep(0.2)
        try:
            with pytest.raises(SpendCapError) as refused:  # (not let through to hang until the deadline)
                await asyncio.wait_for(second.run(request(frames=2)), timeout=2)
            return str(refused.value)
        finally:
            in_flight.cancel()
            await asyncio.gather(in_flight, return_exceptions=True)

    message = asyncio.run(go())
    assert "PLAYGROUND_MAX_USD_PER_DAY" in message and "in flight" in message
    assert [r["status"] for r in rows(first)] == ["error", "cancelled"]  # the refusal, then the cancelled run
    assert DayReservations(data_dir).reserved_usd() == 0.0  # released once the row was written


HOLDER = """
import sys
from pathlib import Path
from playground.store.reservations import DayReservations
DayReservations(Path(sys.argv[1])).reserve("other-process-run", 0.10, 600, lambda in_flight: None)
print("held", flush=True)
sys.stdin.read()  # hold it until the test closes stdin or ends this process
"""


def test_a_reservation_of_another_process_counts_until_that_process_is_gone(scripted, data_dir):
    pg = scripted(deliver_bytes, **DAY_CAP)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SpendCapError, match="PLAYGROUND_MAX_USD_PER_DAY"):
            asyncio.run(pg.run(request(frames=2)))
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its entry is stale and no longer counts
    assert asyncio.run(pg.run(request(frames=2))).record.status == "ok"


def test_an_expired_reservation_does_not_count(scripted, data_dir):
    pg = scripted(deliver_bytes, **DAY_CAP)
    DayReservations(data_dir).reserve("stuck-run", 0.10, -1.0, lambda in_flight: None)  # already expired
    assert asyncio.run(pg.run(request(frames=2))).record.status == "ok"


# -- sizes a provider names, models a user types (defect 18) ---------------------------------------------


def test_a_size_preset_the_provider_declares_is_accepted_and_other_names_are_not(scripted, monkeypatch):
    pg = scripted(deliver_bytes)
    monkeypatch.setattr(ScriptedProvider, "size_presets", {"square_hd": (1024, 1024), "landscape_16_9": (1024, 576)})
    assert pg.resolve(GenerationRequest(prompt="a fox", provider="scripted", size="square_hd")).size == "square_hd"
    landscape = GenerationRequest(prompt="a fox", provider="scripted", frames=1, size="landscape_16_9")
    assert asyncio.run(pg.run(landscape)).record.status == "ok"
    with pytest.raises(InputError) as refused:
        pg.resolve(GenerationRequest(prompt="a fox", provider="scripted", size="squarehd"))
    assert "square_hd" in str(refused.value)  # the message lists the presets it would take


def test_fal_presets_pass_the_core(playground):
    assert "square_hd" in FalProvider.size_presets
    request = GenerationRequest(prompt="a fox", provider="fal", mode="baseline", frames=1, size="square_hd")
    assert playground.resolve(request).size == "square_hd"


@pytest.mark.parametrize("provider_cls", [WaveSpeedProvider, AtlasCloudProvider])
def test_a_typed_edit_sequential_model_takes_references_like_its_listed_kin(provider_cls):
    typed = "bytedance/seedream-v5.1-lite/edit-sequential"  # not in the model list (ids change)
    info = provider_cls.model(typed)
    assert info.max_references == 10 and info.native_sequence and info.id == typed
    reference = ReferenceImage(data=tiny_png(), mime="image/png", sha256="0" * 64, width=64, height=64)
    call = ProviderCall(
        model=typed, prompt="a fox", frames=3, size="2048x2048", seed=None, references=(reference, reference)
    )
    provider_cls().validate(call)  # was: "accepts at most 0 reference image(s)"


def test_a_typed_text_model_inherits_no_references_and_an_unmatched_id_the_providers_most():
    assert WaveSpeedProvider.model("bytedance/seedream-v5.1-lite/sequential").max_references == 0
    assert WaveSpeedProvider.model("bytedance/seedream-v6").max_references == 10  # nothing alike: the provider's max
    assert WaveSpeedProvider.model("bytedance/seedream-v4/edit-sequential").label.startswith("Seedream 4.0")  # listed
