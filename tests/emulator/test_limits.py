"""The emulator's rate limits per key (emulator/limits.py) over HTTP, and the playground's limiter
against them: a batch under a concurrency limit ends with every row ok, a 429 storm is waited
out as each Retry-After asks."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from emulator import Emulator
from emulator.cli import limits_text
from playground.base.errors import ConfigError
from playground.base.prompts import Story
from playground.experiments.cells import Arm, Cell, run_cells
from playground.providers.limiter import LIMITERS
from support.faults import make_playground

BYTEPLUS_BODY = {"model": "seedream-4-0-250828", "prompt": "a fox", "size": "256x256", "response_format": "url"}


def post_byteplus(emu: Emulator, key: str = "emu-key-one") -> httpx.Response:
    return httpx.post(
        f"{emu.base_urls()['ARK_BASE_URL']}/images/generations",
        json=BYTEPLUS_BODY,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


def test_requests_per_minute_per_key_refused_with_retry_after(emulator):
    emulator.set_limits("byteplus=2/min")
    answers = [post_byteplus(emulator) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["error"]["code"] == "RateLimitExceeded.EndpointRPMExceeded"
    assert 55 <= int(answers[2].headers["Retry-After"]) <= 60  # when the window's first create leaves it
    assert post_byteplus(emulator, "emu-key-two").status_code == 200  # another key, its own window


def test_concurrent_generations_per_key_refused_until_one_ends(emulator):
    emulator.set_limits({"byteplus": ":1"})
    emulator.latency_s = 2.0
    hold = emulator.hold("byteplus")  # the first create waits at the emulator: in progress, for sure
    with httpx.Client(timeout=30) as client:
        first = asyncio_free_post(client, emulator)
        assert hold.arrived.wait(10)
        second = post_byteplus(emulator)
        hold.release()
        assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
        assert first.result(timeout=30).status_code == 200
    assert post_byteplus(emulator).status_code == 200  # the first ended: its place is free again
    assert emulator.limits.stats()["byteplus"] == {"refused": 1, "peak": 1}


def asyncio_free_post(client: httpx.Client, emu: Emulator):
    """The first request in a thread, so the test can act while it is held."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    future = pool.submit(
        client.post,
        f"{emu.base_urls()['ARK_BASE_URL']}/images/generations",
        json=BYTEPLUS_BODY,
        headers={"Authorization": "Bearer emu-key-one"},
    )
    pool.shutdown(wait=False)
    return future


def test_each_provider_refuses_in_its_own_words(emulator):
    """OpenAI: x-ratelimit-* on every answer; AtlasCloud: no Retry-After (its docs say so); Gemini:
    RetryInfo in the body, no header."""
    emulator.set_limits("*=1/min")
    env, urls = emulator.env(), emulator.base_urls()
    openai = {"model": "gpt-image-1", "prompt": "a fox", "size": "1024x1024"}
    auth = {"Authorization": f"Bearer {env['OPENAI_API_KEY']}"}
    ok = httpx.post(f"{urls['OPENAI_BASE_URL']}/images/generations", json=openai, headers=auth, timeout=30)
    refused = httpx.post(f"{urls['OPENAI_BASE_URL']}/images/generations", json=openai, headers=auth, timeout=30)
    assert ok.status_code == 200 and ok.headers["x-ratelimit-remaining-requests"] == "0"
    assert ok.headers["x-ratelimit-limit-requests"] == "1" and ok.headers["x-ratelimit-reset-requests"].endswith("ms")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["Retry-After"]) >= 55 and "x-ratelimit-reset-requests" in refused.headers

    atlas = {"model": "bytedance/seedream-v4", "prompt": "a fox", "size": "1024*1024"}
    auth = {"Authorization": f"Bearer {env['ATLASCLOUD_API_KEY']}"}
    url = f"{urls['ATLASCLOUD_BASE_URL']}/model/generateImage"
    answers = [httpx.post(url, json=atlas, headers=auth, timeout=30) for _ in range(2)]
    assert answers[1].status_code == 429 and "retry-after" not in answers[1].headers, answers[0].text

    gemini = {"contents": [{"parts": [{"text": "a fox"}]}]}
    url = f"{urls['GOOGLE_GEMINI_BASE_URL']}/v1beta/models/gemini-2.5-flash-image:generateContent"
    auth = {"x-goog-api-key": env["GEMINI_API_KEY"]}
    answers = [httpx.post(url, json=gemini, headers=auth, timeout=30) for _ in range(2)]
    assert answers[0].status_code == 200, answers[0].text
    assert answers[1].status_code == 429 and "retry-after" not in answers[1].headers
    delay = answers[1].json()["error"]["details"][0]["retryDelay"]
    assert delay.endswith("s") and float(delay[:-1]) >= 55


def test_fal_queues_past_its_concurrency_instead_of_refusing(emulator):
    """fal documents no refusal: past the key's concurrency a request waits IN_QUEUE until a place
    frees [doc fal concurrency-limits]."""
    emulator.set_limits("fal=:1")
    emulator.latency_s = 5.0
    url = f"{emulator.base_urls()['FAL_QUEUE_URL']}/fal-ai/flux-pro/v1.1"
    auth = {"Authorization": f"Key {emulator.env()['FAL_KEY']}"}
    first, second = (httpx.post(url, json={"prompt": "a fox"}, headers=auth, timeout=30) for _ in range(2))
    assert first.status_code == second.status_code == 200
    jobs = [emulator.jobs[a.json()["request_id"]] for a in (first, second)]
    assert jobs[1].created >= jobs[0].created + jobs[0].latency - 1e-6  # it starts when the first ends
    status = httpx.get(second.json()["status_url"], headers=auth, timeout=30).json()
    assert status["status"] == "IN_QUEUE" and emulator.limits.stats()["fal"] == {"refused": 0, "peak": 1}


def test_limits_syntax_of_the_emulator_and_its_flags():
    assert limits_text("", 60, 5) == "*=60/min:5" and limits_text("fal=:2", None, 3) == "fal=:2,*=:3"
    assert Emulator(limits=limits_text("", 60, None)).limits.spec("byteplus").concurrency is None
    with pytest.raises(ConfigError):
        Emulator(limits="byteplus=60/minute")
    with pytest.raises(ConfigError):
        limits_text("", 0, None)


# -- the playground against it ------------------------------------------------------------------


def batch_cells(n: int) -> list[Cell]:
    story = Story("a red fox", "watercolour", ("the fox wakes",))
    arm = Arm("byteplus", "", "sequence")
    return [Cell(story, arm, repeat=i, frames=1, story_id="fox", size="256x256") for i in range(n)]


def test_a_batch_of_16_under_two_concurrent_ends_with_zero_error_rows(emulator, data_dir):
    """Issue 16: under 2 concurrent generations per key, a batch of 12 one-frame runs used to end
    with 6 rows in error. The batch (8 runs at once) meets a storm of 429s, the limiter cuts its
    bound to what the emulator admitted and waits each Retry-After out: every row ok, and the
    emulator never ran more than 2 of the key's generations at once."""
    emulator.set_limits("byteplus=:2")
    emulator.latency_s = 0.3
    pg = make_playground(emulator.env(), data_dir)
    records = asyncio.run(run_cells(pg, batch_cells(16), "exp-limits", concurrency=8))
    assert len(records) == 16 and [r.status for r in records] == ["ok"] * 16, [r.error for r in records]
    stats = emulator.limits.stats()["byteplus"]
    assert stats["refused"] >= 1 and stats["peak"] <= 2  # the storm came, and the limit held
    limiter = next(s for s in LIMITERS.stats() if s.provider == "byteplus")
    assert limiter.throttled == stats["refused"] and limiter.bound is not None and limiter.bound <= 2
    assert pg.log.read()["status"].tolist() == ["ok"] * 16


def test_a_retry_after_storm_is_waited_out_with_no_error_row(emulator, data_dir):
    """Two creates per 2 s per key, 10 runs at once: the refusals name Retry-After (whole seconds,
    rounded up) and the limiter pauses the key for it, so each 429 is followed by a wait; no run
    fails and the key's creates never pass the window (the emulator would have refused them)."""
    emulator.set_limits("byteplus=2/2s")
    pg = make_playground(emulator.env(), data_dir)

    async def go() -> list:
        from playground.base.types import GenerationRequest

        return await asyncio.gather(
            *(
                pg.run(GenerationRequest(prompt=f"fox {i}", provider="byteplus", frames=1, size="256x256"))
                for i in range(10)
            )
        )

    started = time.monotonic()
    records = [r.record for r in asyncio.run(go())]
    took = time.monotonic() - started
    assert [r.status for r in records] == ["ok"] * 10, [r.error for r in records]
    refused = emulator.limits.stats()["byteplus"]["refused"]
    creates = emulator.requests_for("byteplus", "POST")
    assert len(creates) == 10 + refused and refused >= 1
    assert took >= 8.0  # 10 creates at 2 per 2 s need four more windows after the first
    limiter = next(s for s in LIMITERS.stats() if s.provider == "byteplus")
    assert limiter.waited_s >= 1.0 and limiter.throttled == refused
    assert refused <= 2 * 10  # a storm per window at most, not a flood of retries
