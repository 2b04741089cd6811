"""The shared HTTP layer: retry policy, error mapping, poller, SSE parser (over real HTTP
against the emulator where the network matters, plain unit tests elsewhere)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from playground.base.errors import ProviderError
from playground.providers.http import (
    ErrorContext,
    PollPolicy,
    RetryPolicy,
    classify,
    extract_error,
    iter_sse,
    parse_retry_after,
    poll_job,
    scrub,
    send,
)

CTX = ErrorContext("Test", "TEST_KEY", ("sk-secret-123456",))


def run(coro):
    return asyncio.run(coro)


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


# -- retry policy over real HTTP -------------------------------------------------------------


def _post(emulator, body=None, **headers):
    url = emulator.base_urls()["ARK_BASE_URL"] + "/images/generations"
    body = body or {"model": "seedream-4-0-250828", "prompt": "p", "size": "64x64"}
    return lambda client: client.build_request(
        "POST", url, json=body, headers={"Authorization": "Bearer emu-k", **headers}
    )


def test_post_retried_on_429_honouring_retry_after(emulator):
    emulator.set_fault("byteplus", "rate_limit", count=2, retry_after=1.5)
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            return await send(client, _post(emulator)(client), repeatable=False, ctx=CTX, sleep=sleep)

    resp = run(go())
    assert resp.status_code == 200
    assert sleep.sleeps == [1.5, 1.5]
    assert len(emulator.requests_for("byteplus", "POST")) == 3


def test_429_without_retry_after_backs_off_exponentially(emulator):
    emulator.set_fault("byteplus", "rate_limit", count=2, retry_after=None)
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            return await send(
                client,
                _post(emulator)(client),
                repeatable=False,
                ctx=CTX,
                sleep=sleep,
                policy=RetryPolicy(base_delay=0.5, jitter=0.25),
            )

    assert run(go()).status_code == 200
    assert 0.375 <= sleep.sleeps[0] <= 0.625 and 0.75 <= sleep.sleeps[1] <= 1.25


def test_429_gives_up_after_the_attempts(emulator):
    emulator.set_fault("byteplus", "rate_limit", retry_after=2)
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            return await send(client, _post(emulator)(client), repeatable=False, ctx=CTX, sleep=sleep)

    resp = run(go())
    assert resp.status_code == 429 and sleep.sleeps == [2, 2]
    assert len(emulator.requests_for("byteplus")) == 3


def test_long_retry_after_is_not_waited_for(emulator):
    emulator.set_fault("byteplus", "rate_limit", retry_after=600)
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            return await send(client, _post(emulator)(client), repeatable=False, ctx=CTX, sleep=sleep)

    assert run(go()).status_code == 429
    assert sleep.sleeps == [] and len(emulator.requests_for("byteplus")) == 1


def test_post_not_retried_on_500(emulator):
    emulator.set_fault("byteplus", "server", count=1)
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            return await send(client, _post(emulator)(client), repeatable=False, ctx=CTX, sleep=sleep)

    assert run(go()).status_code == 500
    assert sleep.sleeps == [] and len(emulator.requests_for("byteplus")) == 1


def test_post_not_retried_after_reset_and_may_be_billed(emulator):
    emulator.set_fault("byteplus", "reset", count=1)

    async def go():
        async with httpx.AsyncClient() as client:
            await send(client, _post(emulator)(client), repeatable=False, ctx=CTX, sleep=Recorder())

    with pytest.raises(ProviderError) as err:
        run(go())
    assert err.value.kind == "network" and err.value.may_be_billed
    assert len(emulator.requests_for("byteplus")) == 1


def test_get_retried_on_500_and_reset(emulator):
    url = emulator.base_urls()["EVOLINK_BASE_URL"] + "/tasks/task-unknown"
    emulator.set_fault("evolink", "server", count=1, on="poll")
    emulator.set_fault("evolink", "reset", count=1, on="poll")
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            req = client.build_request("GET", url, headers={"Authorization": "Bearer k"})
            return await send(client, req, repeatable=True, ctx=CTX, sleep=sleep)

    resp = run(go())
    assert resp.status_code == 404  # an unknown task: 4xx other than 429 is not retried
    assert len(sleep.sleeps) == 2 and len(emulator.requests_for("evolink")) == 3


def test_connect_error_is_retried_even_for_post():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleep = Recorder()

    async def go():
        async with httpx.AsyncClient() as client:
            req = client.build_request("POST", f"http://127.0.0.1:{port}/x", json={})
            await send(client, req, repeatable=False, ctx=CTX, sleep=sleep)

    with pytest.raises(ProviderError) as err:
        run(go())
    assert err.value.kind == "network" and not err.value.may_be_billed
    assert len(sleep.sleeps) == 2 and "nothing was sent" in str(err.value)


# -- error mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,code,message",
    [
        ({"error": {"code": "InvalidParameter", "message": "bad size"}}, "InvalidParameter", "bad size"),
        ({"error": "boom"}, "", "boom"),
        ({"code": 400, "message": "size invalid", "data": None}, "400", "size invalid"),
        ({"detail": "Not authenticated"}, "", "Not authenticated"),
        ({"detail": [{"loc": ["body", "seed"], "msg": "not an int"}]}, "", "body.seed: not an int"),
        ({"id": "x", "name": "content_moderation", "errors": ["flagged"]}, "content_moderation", "flagged"),
    ],
)
def test_extract_error_shapes(body, code, message):
    assert extract_error(body) == (code, message)


@pytest.mark.parametrize(
    "status,code,message,kind",
    [
        (401, "", "", "auth"),
        (403, "AccessDenied", "", "auth"),
        (403, "AccountOverdueError", "", "quota"),
        (402, "", "", "quota"),
        (429, "rate_limit_exceeded", "", "rate_limit"),
        (429, "insufficient_quota", "", "quota"),
        (400, "OutputImageSensitiveContentDetected", "", "content"),
        (400, "moderation_blocked", "safety system", "content"),
        (400, "InvalidParameter", "", "invalid"),
        (404, "", "", "invalid"),
        (500, "", "", "server"),
        (503, "", "", "server"),
    ],
)
def test_classify(status, code, message, kind):
    assert classify(status, code, message) == kind


def test_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 59 <= parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=1767225600.0) <= 60


def test_scrub_hides_data_urls():
    body = {"image": ["data:image/png;base64," + "A" * 5000], "prompt": "x"}
    out = scrub(body)
    assert out["prompt"] == "x" and "AAAA" not in out["image"][0] and out["image"][0].startswith("<data:image/png")


# -- poller ----------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_interval_grows_and_finds_quick_jobs_quickly():
    clock = FakeClock()
    states = iter(["pending"] * 8 + ["done"])

    async def fetch():
        return next(states)

    result = run(poll_job(fetch, lambda s: s == "done", policy=PollPolicy(), sleep=clock.sleep, clock=clock))
    assert result == "done"
    assert clock.sleeps[0] == PollPolicy().first_interval and max(clock.sleeps) == PollPolicy().max_interval
    assert clock.sleeps == sorted(clock.sleeps)
    polls_per_second = 9 / clock.now
    assert 0.8 <= polls_per_second <= 1.6  # about one poll a second on average


def test_poll_deadline_cancels_and_raises_timeout():
    clock = FakeClock()
    cancelled = []

    async def fetch():
        return "pending"

    async def cancel():
        cancelled.append(True)

    with pytest.raises(ProviderError) as err:
        run(
            poll_job(
                fetch,
                lambda s: False,
                policy=PollPolicy(deadline_s=30),
                sleep=clock.sleep,
                clock=clock,
                cancel=cancel,
                ctx=CTX,
                job="job-1",
            )
        )
    assert err.value.kind == "timeout" and err.value.may_be_billed
    assert cancelled == [True] and "cancel requested" in str(err.value) and "job-1" in str(err.value)
    assert 30 <= clock.now <= 30.01


def test_poll_without_cancel_says_so():
    clock = FakeClock()

    async def fetch():
        return "pending"

    with pytest.raises(ProviderError, match="no cancel"):
        run(poll_job(fetch, lambda s: False, policy=PollPolicy(deadline_s=5), sleep=clock.sleep, clock=clock, ctx=CTX))


def test_poll_cancelled_by_caller_cancels_the_job():
    cancelled = []

    async def fetch():
        return "pending"

    async def cancel():
        cancelled.append(True)

    async def go():
        task = asyncio.create_task(
            poll_job(fetch, lambda s: False, policy=PollPolicy(first_interval=0.01), cancel=cancel)
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(go())
    assert cancelled == [True]


# -- SSE -------------------------------------------------------------------------------------


def test_sse_parser():
    lines = [": keepalive", "event: a", 'data: {"x":', "data: 1}", "", "data: second", "id: 7", "", "data: [DONE]", ""]

    async def source():
        for line in lines:
            yield line

    async def go():
        return [e async for e in iter_sse(source())]

    events = run(go())
    assert [(e.event, e.data) for e in events] == [("a", '{"x":\n1}'), ("message", "second"), ("message", "[DONE]")]
    assert events[1].id == "7"


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,on", [("openai", "create"), ("byteplus", "create"), ("evolink", "poll"), ("fal", "create")]
)
def test_a_redirect_is_reported_as_such_not_as_unreadable_json(emulator, make_provider, make_call, sink, name, on):
    emulator.set_fault(name, "redirect", on=on)
    p = make_provider(name)
    call = make_call(p, size="1024x1024" if name == "openai" else "256x256")

    async def go():
        async with httpx.AsyncClient(timeout=10) as client:
            await p.generate(call, client, sink)

    with pytest.raises(ProviderError) as err:
        run(go())
    message = str(err.value)
    assert "unexpected redirect (HTTP 307 to " in message and "/moved/" in message
    assert p.base_url_env in message and "JSON" not in message
    assert err.value.kind == "invalid" and err.value.status == 307
    assert err.value.may_be_billed == (on == "poll")  # a job created before the redirected poll may run on
    assert not any(r.path.startswith("/moved") for r in emulator.requests)  # never followed


def test_error_context_leaves_our_wording_alone():
    err = CTX.error("auth", "key rejected (HTTP 401): check TEST_KEY")
    assert str(err) == "Test: key rejected (HTTP 401): check TEST_KEY"
