"""Provider faults end to end: Playground.run against the loopback emulator over real HTTP.

Each fault must end as one logged row with a clear `status` and `error`, within the run's
deadline, never as a crash. Generations that may already be billed are never re-sent; GETs
(polls, results) are retried. The emulator's request log is the proof of what was sent.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from playground.core import run as core
from playground.providers.http import HttpProvider, RetryPolicy
from support.faults import make_playground, rows, run

SEQ = dict(provider="byteplus", frames=3, size="256x256")


@pytest.fixture
def pg(emulator, data_dir):
    """A Playground on the emulator (real retry policy and polling, a 20 s run deadline)."""
    return make_playground(emulator.env(), data_dir, PLAYGROUND_RUN_DEADLINE_S="20")


@pytest.fixture
def pg_short(emulator, data_dir):
    """The same with a 1.5 s run deadline, so stuck jobs end fast."""
    return make_playground(emulator.env(), data_dir, PLAYGROUND_RUN_DEADLINE_S="1.5")


def posts(emulator, provider: str) -> int:
    return len(emulator.requests_for(provider, "POST"))


def only_row(pg) -> dict:
    logged = rows(pg)
    assert len(logged) == 1, "every run ends as exactly one row"
    return logged[0]


# -- keys -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider, fault, env_var, mode",
    [
        ("byteplus", "auth", "ARK_API_KEY", "sequence"),
        ("evolink", "forbidden", "EVOLINK_API_KEY", "sequence"),
        ("openai", "auth", "OPENAI_API_KEY", "baseline"),
    ],
)
def test_rejected_key_names_the_variable_never_the_key(pg, emulator, provider, fault, env_var, mode):
    emulator.set_fault(provider, fault)
    key = emulator.env()[env_var]
    result = run(pg, provider=provider, frames=2, mode=mode, size="1024x1024" if provider == "openai" else "256x256")
    record = result.record
    assert record.status == "error" and record.frames_returned == 0
    assert "key rejected" in record.error and env_var in record.error
    assert key not in record.error and key[-10:] not in record.error  # the emulator echoed it: redacted
    assert key not in pg.log.runs.path.read_text()
    assert only_row(pg)["error"] == record.error


def test_a_key_typed_in_the_session_is_used_and_redacted(pg, emulator):
    from playground.core import Session

    typed = "sess-typed-key-ABCDEF123456"
    emulator.set_fault("byteplus", "auth")
    record = run(pg, Session(keys={"ARK_API_KEY": typed}), **SEQ).record
    assert "key rejected" in record.error and typed not in record.error
    assert typed not in pg.log.runs.path.read_text()


# -- rate limits ------------------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured_then_succeeds(pg, emulator):
    emulator.set_fault("wavespeed", "rate_limit", count=2, retry_after=0.3)
    started = time.monotonic()
    record = run(pg, provider="wavespeed", frames=2, size="256x256").record
    assert record.status == "ok" and record.frames_returned == 2
    assert posts(emulator, "wavespeed") == 3  # refused twice (not accepted, so safe to re-send)
    assert time.monotonic() - started >= 0.6  # both Retry-After waits were honoured


def test_429_without_retry_after_backs_off_and_succeeds(pg, emulator):
    emulator.set_fault("openai", "rate_limit", count=2, retry_after=None)
    started = time.monotonic()
    record = run(pg, provider="openai", frames=1, mode="baseline", size="1024x1024").record
    elapsed = time.monotonic() - started
    assert record.status == "ok"
    assert posts(emulator, "openai") == 3
    policy = RetryPolicy()
    low = (policy.base_delay + policy.base_delay * 2) * (1 - policy.jitter)
    assert low <= elapsed < 10  # exponential backoff with jitter: 0.5 s then 1 s, +/- 25 %


def test_429_forever_is_waited_out_until_the_patience_then_reported(pg, emulator, monkeypatch):
    """A 429 is the key's limiter's business (providers/limiter.py): waited out as often as it comes,
    not given up after RetryPolicy.attempts, until the request's patience for 429s is spent."""
    monkeypatch.setattr(HttpProvider, "retry_policy", RetryPolicy(rate_limit_patience_s=0.52))
    emulator.set_fault("byteplus", "rate_limit", retry_after=0.05)
    record = run(pg, **SEQ).record
    assert record.status == "error" and "rate limited" in record.error and "may have been billed" not in record.error
    assert posts(emulator, "byteplus") == 11  # the first try, then one after each 0.05 s wait (ten fit in 0.52 s)
    assert record.cost_usd == 0


def test_a_long_retry_after_is_reported_not_waited_for(pg, emulator):
    emulator.set_fault("byteplus", "rate_limit", retry_after=3600)
    started = time.monotonic()
    record = run(pg, **SEQ).record
    assert time.monotonic() - started < 1.0
    assert record.status == "error" and "retry after 3600 s" in record.error
    assert posts(emulator, "byteplus") == 1


# -- server errors and resets ---------------------------------------------------------------------------


def test_5xx_on_a_generation_is_not_resent(pg, emulator):
    emulator.set_fault("byteplus", "server", count=1)
    record = run(pg, **SEQ).record
    assert record.status == "error" and "server error (HTTP 500" in record.error
    assert "may have been billed" in record.error
    assert posts(emulator, "byteplus") == 1  # a 500 may come after the job was accepted


def test_reset_on_a_generation_is_not_resent(pg, emulator):
    emulator.set_fault("openai", "reset", count=1)
    record = run(pg, provider="openai", frames=1, mode="baseline", size="1024x1024").record
    assert record.status == "error" and "connection failed" in record.error and "billed" in record.error
    assert posts(emulator, "openai") == 1


@pytest.mark.parametrize("provider, fault", [("evolink", "server"), ("wavespeed", "reset"), ("atlascloud", "server")])
def test_5xx_and_resets_on_polls_are_retried(pg, emulator, provider, fault):
    emulator.latency_s, emulator.sync_wait_s = 0.3, 0.0  # sync mode (WaveSpeed, AtlasCloud): the wait runs out at once
    emulator.set_fault(provider, fault, count=2, on="poll")
    record = run(pg, provider=provider, frames=2, size="256x256").record
    assert record.status == "ok" and record.frames_returned == 2
    assert posts(emulator, provider) == 1
    assert len(emulator.requests_for(provider, "GET")) >= 3  # two failed polls, then the answer


def test_fal_result_fetch_is_retried(pg, emulator):
    emulator.set_fault("fal", "server", count=1, on="result")
    record = run(pg, provider="fal", frames=2, mode="baseline", size="512x512").record
    assert record.status == "ok" and record.frames_returned == 2
    assert posts(emulator, "fal") == 2


# -- timeouts ---------------------------------------------------------------------------------------------


def test_connection_refused_says_nothing_was_sent(emulator, data_dir, monkeypatch):
    monkeypatch.setattr(HttpProvider, "retry_policy", RetryPolicy(base_delay=0.01))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    pg = make_playground(emulator.env(), data_dir, ARK_BASE_URL=f"http://127.0.0.1:{closed}/api/v3")
    record = run(pg, **SEQ).record
    assert record.status == "error"
    assert "could not connect" in record.error and "nothing was sent" in record.error
    assert "may have been billed" not in record.error


def test_connect_timeout(emulator, data_dir, monkeypatch):
    """A listener whose backlog is full drops SYNs: the connect times out (retried: not sent)."""
    monkeypatch.setattr(HttpProvider, "retry_policy", RetryPolicy(base_delay=0.01))
    monkeypatch.setattr(core, "HTTP_TIMEOUT", httpx.Timeout(connect=0.3, read=5.0, write=5.0, pool=5.0))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    for _ in range(3):  # fill the accept queue; nobody ever accepts
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(listener.getsockname())
        fillers.append(c)
    try:
        port = listener.getsockname()[1]
        pg = make_playground(emulator.env(), data_dir, ARK_BASE_URL=f"http://127.0.0.1:{port}/api/v3")
        started = time.monotonic()
        record = run(pg, **SEQ).record
        assert time.monotonic() - started < 5
        assert record.status == "error" and "ConnectTimeout" in record.error and "nothing was sent" in record.error
    finally:
        for c in fillers:
            c.close()
        listener.close()


def test_read_timeout_on_a_generation_is_not_resent(pg, emulator, monkeypatch):
    from playground.providers.adapters.openai import OpenAIImagesProvider

    monkeypatch.setattr(core, "HTTP_TIMEOUT", httpx.Timeout(connect=2.0, read=0.4, write=2.0, pool=2.0))
    monkeypatch.setattr(OpenAIImagesProvider, "read_timeout_s", 0.4)  # the adapter's own bound (600 s, as the SDK)
    emulator.set_fault("openai", "slow", count=1, latency=3.0)
    record = run(pg, provider="openai", frames=1, mode="baseline", size="1024x1024").record
    assert record.status == "error" and "ReadTimeout" in record.error and "billed" in record.error
    assert posts(emulator, "openai") == 1


def test_overall_deadline_stops_a_hanging_call(pg_short, emulator):
    emulator.set_fault("byteplus", "stuck")
    started = time.monotonic()
    record = run(pg_short, **SEQ).record
    assert time.monotonic() - started < 4  # 1.5 s deadline, not the emulator's 5 s hang
    assert record.status == "error"
    assert "1.5 s deadline" in record.error and "PLAYGROUND_RUN_DEADLINE_S" in record.error
    assert only_row(pg_short)["status"] == "error"


def test_a_job_that_never_finishes_is_cancelled_where_the_protocol_allows(pg_short, emulator):
    emulator.set_fault("fal", "stuck")
    record = run(pg_short, provider="fal", frames=1, mode="baseline", size="512x512").record
    assert record.status == "error" and "deadline" in record.error
    job_ids = [j for j, job in emulator.jobs.items() if job.provider == "fal"]
    assert emulator.cancelled == job_ids  # PUT cancel_url was sent for the abandoned job


def test_a_job_that_never_finishes_without_a_cancel_endpoint(pg_short, emulator):
    emulator.set_fault("evolink", "stuck")
    started = time.monotonic()
    record = run(pg_short, provider="evolink", frames=2, size="256x256").record
    assert time.monotonic() - started < 4
    assert record.status == "error" and "deadline" in record.error and "billed" in record.error
    assert emulator.cancelled == []
    assert emulator.polls("evolink") >= 2


# -- bad answers ---------------------------------------------------------------------------------------------


def test_truncated_json_on_create(pg, emulator):
    emulator.set_fault("evolink", "malformed", count=1)
    record = run(pg, provider="evolink", frames=2, size="256x256").record
    assert record.status == "error" and "unreadable JSON" in record.error
    assert posts(emulator, "evolink") == 1


def test_truncated_json_on_a_poll(pg, emulator):
    emulator.latency_s, emulator.sync_wait_s = 0.3, 0.0  # sync mode: the wait runs out at once, the job is polled
    emulator.set_fault("wavespeed", "malformed", on="poll")
    record = run(pg, provider="wavespeed", frames=2, size="256x256").record
    assert record.status == "error" and "unreadable JSON" in record.error


@pytest.mark.parametrize(
    "provider, mode, frames",
    [("evolink", "sequence", 2), ("wavespeed", "sequence", 2), ("fal", "baseline", 1), ("atlascloud", "sequence", 2)],
)
def test_an_async_job_that_fails(pg, emulator, provider, mode, frames):
    emulator.set_fault(provider, "job_failed")
    record = run(pg, provider=provider, mode=mode, frames=frames, size="512x512").record
    assert record.status == "error" and "fail" in record.error.lower()
    assert record.frames_returned == 0 and record.frame_errors


def test_content_refused_at_submission(pg, emulator):
    emulator.set_fault("byteplus", "content")
    record = run(pg, **SEQ).record
    assert record.status == "error" and "refused for content" in record.error


# -- fewer frames, refused frames, billing -------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider, billed",
    [
        ("byteplus", 2),  # usage.generated_images: successful images only
        ("evolink", 2),  # settles on images generated
        ("wavespeed", 4),  # max_images requested, whatever comes back
    ],
)
def test_fewer_frames_than_asked_is_partial_and_billed_by_the_providers_rule(pg, emulator, provider, billed):
    emulator.set_fault(provider, "fewer", n=2)
    record = run(pg, provider=provider, frames=4, size="256x256").record
    assert record.status == "partial"
    assert (record.frames_requested, record.frames_returned) == (4, 2)
    assert record.images_billed == billed
    assert record.cost_usd == pytest.approx(billed * record.price_per_image_usd)
    assert record.error == "the provider returned 2 frame(s) fewer than asked"  # no frame failed: the count says why
    assert not (record.frame_errors or {})


@pytest.mark.parametrize("stream", [True, False])
def test_byteplus_bills_generated_images_not_frames_delivered(pg, emulator, monkeypatch, stream):
    """Frame 2 is generated (usage.generated_images counts it) but its URL answers 404: the run
    keeps 2 frames and is billed for the 3 BytePlus reports, not for what arrived."""
    from playground.providers.adapters.byteplus import BytePlusProvider

    monkeypatch.setattr(BytePlusProvider, "stream", stream)  # the JSON answer too, not only the stream
    emulator.set_fault("byteplus", "lost_frame", index=1)
    record = run(pg, **SEQ).record
    assert emulator.requests_for("byteplus")[-1].json["stream"] is stream
    assert record.status == "partial" and record.frames_returned == 2
    assert record.images_billed == 3 > record.frames_returned
    assert record.cost_usd == pytest.approx(3 * record.price_per_image_usd)
    assert "404" in record.frame_errors[2]


def test_a_frame_refused_for_content_keeps_its_reason(pg, emulator):
    emulator.set_fault("byteplus", "refused")
    record = run(pg, **SEQ).record
    assert record.status == "partial" and record.frames_returned == 2
    errors = record.frame_errors
    assert list(errors) == [2] and "Sensitive" in errors[2]
    assert record.images_billed == 2
    assert sorted(p.name for p in pg.log.run_dir(record.run_id).glob("frame_*.png")) == ["frame_01.png", "frame_03.png"]


def test_a_byteplus_generation_stopped_midway_keeps_its_frames(pg, emulator):
    emulator.set_fault("byteplus", "job_failed")
    record = run(pg, **SEQ).record
    assert record.status == "partial" and record.frames_returned == 1
    assert record.images_billed == 1
    assert 2 in record.frame_errors


def test_a_baseline_call_refused_by_the_safety_checker(pg, emulator):
    emulator.set_fault("fal", "refused", count=1)
    record = run(pg, provider="fal", mode="baseline", frames=3, size="512x512").record
    assert record.status == "partial" and record.frames_returned == 2
    errors = record.frame_errors
    assert len(errors) == 1 and "safety" in next(iter(errors.values()))


# -- a sync-mode POST that ends in a gateway timeout -------------------------------------------------------------


@pytest.mark.parametrize("provider", ["wavespeed", "atlascloud"])
def test_a_sync_mode_gateway_timeout_says_the_prediction_cannot_be_looked_up(pg, emulator, provider):
    """WaveSpeed's docs: a sync-mode POST may end in HTTP 504 while the task runs on and
    completes. The 504 carries no prediction id, so nothing can fetch or cancel it: the row says
    so, counts it as possibly billed, and the POST is not re-sent (it would be a second job)."""
    emulator.set_fault(provider, "gateway_timeout")
    record = run(pg, provider=provider, frames=2, size="256x256").record
    row = only_row(pg)
    assert record.status == "error" and row["status"] == "error" and record.frames_returned == 0
    assert "the sync-mode request (enable_sync_mode) ended in HTTP 504, a gateway timeout" in row["error"]
    assert "carries no prediction id (in neither its headers nor its body)" in row["error"]
    assert "can be neither fetched nor cancelled" in row["error"] and "may have been billed" in row["error"]
    assert "<html>" not in row["error"]  # the gateway's page says nothing the words above do not
    assert row["cost_source"] == "possibly billed (estimate)" and row["cost_usd"] > 0
    assert posts(emulator, provider) == 1 and [r.method for r in emulator.requests_for(provider)] == ["POST"]
    assert len(emulator.jobs) == 1  # the job the gateway's timeout left behind exists on the provider's side


# -- no fault leaves a run in flight ----------------------------------------------------------------------------


def test_a_fault_matrix_logs_one_finished_row_per_run(pg_short, emulator):
    faults = ["auth", "server", "reset", "malformed", "content", "quota", "stuck", "fewer", "refused", "job_failed"]
    for fault in faults:
        emulator.set_fault("byteplus", fault, count=1, n=1)
        run(pg_short, **SEQ)
    logged = rows(pg_short)
    assert len(logged) == len(faults)
    for fault, row in zip(faults, logged):
        assert row["status"] in ("error", "partial"), fault
        assert row["error"], f"{fault}: a failed run must say why"
        assert row["latency_s"] < 4, fault


# -- a stream that breaks off ------------------------------------------------------------------------------------


@pytest.fixture
def cut_server():
    from support.faults import FileServer

    server = FileServer()
    yield server
    server.close()


@pytest.mark.parametrize("route, words", [("cut", "fewer than asked"), ("garbled", "unreadable stream event")])
def test_a_stream_cut_after_one_frame_keeps_that_frame(emulator, data_dir, cut_server, route, words):
    pg = make_playground(emulator.env(), data_dir, ARK_BASE_URL=f"{cut_server.url}/{route}")
    record = run(pg, **SEQ).record
    assert record.status == "partial" and record.frames_returned == 1
    assert words in record.error
    assert record.images_billed == 1  # no usage came: billed = frames returned


# -- the user stops a run ----------------------------------------------------------------------------------------


def test_a_cancelled_run_is_logged_and_its_job_cancelled(pg, emulator):
    from playground.base.types import GenerationRequest

    emulator.set_fault("fal", "stuck")

    async def start_then_cancel():
        task = asyncio.create_task(
            pg.run(GenerationRequest(prompt="a fox", provider="fal", mode="baseline", frames=2, size="512x512"))
        )
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(start_then_cancel())
    row = only_row(pg)
    assert row["status"] == "cancelled" and row["error"].startswith("cancelled by the user")
    assert sorted(emulator.cancelled) == sorted(emulator.jobs)  # both queued jobs were cancelled
    # the jobs had been sent: they may be billed (a cancel may come too late), and the caps count them
    assert (
        row["cost_source"] == "possibly billed (estimate)"
        and row["cost_usd"] > 0
        and "may have been billed" in row["error"]
    )
