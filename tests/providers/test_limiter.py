"""The per-key rate limiter (playground/providers/limiter.py): unit tests on virtual time (no
sleeps), then Playground runs over real HTTP against a stand-in server in this file that enforces
limits per key the way providers do (429 with Retry-After, x-ratelimit-* headers)."""

from __future__ import annotations

import asyncio
import base64
import heapq
import itertools
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from playground.base.errors import ConfigError, ProviderError
from playground.base.types import GenerationRequest
from playground.core.spend import MAX_RUNS_IN_FLIGHT
from playground.providers.limiter import (
    LIMITERS,
    Limiter,
    LimiterRegistry,
    LimitSpec,
    Rate,
    exhausted_reset,
    parse_duration,
    parse_rate_limits,
    parse_retry_after,
    retry_hint,
    run_deadline,
    throttle_kind,
)
from support.faults import make_playground, tiny_png

KNOWN = ["byteplus", "wavespeed", "fal", "openai", "stability"]


# -- virtual time ------------------------------------------------------------------------------


class VirtualTime:
    """A clock and a sleep for one event loop: sleepers wake when `run` advances the clock to
    their time, after every runnable task has had its turn. No real time passes."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def run(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        idle = 0
        while True:
            await self.settle()
            if all(t.done() for t in tasks):
                return [t.result() for t in tasks]
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if not self._timers:  # a task still busy (or yielding): give it more turns, within reason
                idle += 1
                assert idle < 100, "deadlock: tasks wait and no timer is set"
                continue
            idle = 0
            when, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            future.set_result(None)


def limiter(vt: VirtualTime, rate: Rate | None = None, concurrency: int | None = None) -> Limiter:
    return Limiter(LimitSpec(rate, concurrency, "[test]"), provider="byteplus", clock=vt.clock, sleep=vt.sleep)


def at_most_in_any_window(times: list[float], count: float, window: float) -> bool:
    times = sorted(times)
    return all(sum(1 for u in times if t <= u < t + window) <= count for t in times)


# -- the window --------------------------------------------------------------------------------


def test_window_admits_a_burst_then_one_as_each_leaves_the_window():
    vt = VirtualTime()
    lim = limiter(vt, Rate(3, 10))
    admitted: list[float] = []

    async def create() -> None:
        await lim.admit(1.0)
        admitted.append(vt.now)

    asyncio.run(vt.run(*(create() for _ in range(7))))
    assert admitted == [0, 0, 0, 10, 10, 10, 20]
    assert at_most_in_any_window(admitted, 3, 10)


def test_a_token_bucket_would_pass_twice_the_limit_in_the_first_window_the_sliding_window_does_not():
    vt = VirtualTime()
    lim = limiter(vt, Rate(10, 60))
    admitted: list[float] = []

    async def steady() -> None:  # one create a second for two minutes
        for _ in range(120):
            await lim.admit(1.0)
            admitted.append(vt.now)
            await vt.sleep(1.0)

    asyncio.run(vt.run(steady()))
    assert at_most_in_any_window(admitted, 10, 60)
    assert len([t for t in admitted if t < 60]) == 10  # a bucket of 10 refilled at 10/min would pass 19 here


def test_images_count_by_frames_and_a_call_bigger_than_the_window_takes_it_whole():
    vt = VirtualTime()
    lim = limiter(vt, Rate(10, 60, "images"))
    assert lim.weight(4) == 4 and limiter(vt, Rate(10, 60)).weight(4) == 1
    admitted: list[tuple[float, int]] = []

    async def create(frames: int) -> None:
        await lim.admit(lim.weight(frames))
        admitted.append((vt.now, frames))

    async def in_order() -> None:
        for frames in (4, 4, 4, 15, 1):
            await create(frames)

    asyncio.run(vt.run(in_order()))
    assert admitted == [(0, 4), (0, 4), (60, 4), (120, 15), (180, 1)]


def test_polls_do_not_count_in_the_window_but_wait_out_a_pause():
    vt = VirtualTime()
    lim = limiter(vt, Rate(1, 60))

    async def go() -> list[float]:
        await lim.admit(1.0)
        for _ in range(5):
            await lim.admit(0.0)  # a poll
        lim.throttled({"Retry-After": "7"}, create=False, fallback=0.5, max_wait=60)
        await lim.admit(0.0)
        return [vt.now]

    assert asyncio.run(vt.run(go())) == [[7.0]]


# -- pauses and 429s ---------------------------------------------------------------------------


def test_a_429_pauses_the_key_for_everyone_but_the_caller_who_waited_it_out():
    vt = VirtualTime()
    lim = limiter(vt)
    wait, honoured = lim.throttled({"Retry-After": "5"}, create=True, fallback=0.5, max_wait=60)
    assert (wait, honoured) == (5.0, 5.0)

    async def other() -> float:
        await lim.admit(1.0)
        return vt.now

    async def refused_caller() -> float:
        # what send() does with a fake sleep that does not move the clock: it slept the wait it was told
        await lim.admit(1.0, honoured=honoured)
        return vt.now

    assert asyncio.run(vt.run(other(), refused_caller())) == [5.0, 0.0]


def test_a_wait_longer_than_max_wait_is_not_imposed_on_the_key():
    vt = VirtualTime()
    lim = limiter(vt)
    wait, _ = lim.throttled({"Retry-After": "3600"}, create=True, fallback=0.5, max_wait=60)
    assert wait == 3600 and lim.stats().paused_for_s == 0


def test_an_empty_bucket_on_a_success_pauses_until_its_reset():
    vt = VirtualTime()
    lim = limiter(vt)
    lim.observe(200, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1.5s"}, max_wait=60)
    lim.observe(200, {"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "9s"}, max_wait=60)

    async def next_request() -> float:
        await lim.admit(1.0)
        return vt.now

    assert asyncio.run(vt.run(next_request())) == [1.5]


def test_deadline_ends_a_wait_that_cannot_end_in_time():
    vt = VirtualTime()
    lim = limiter(vt, Rate(1, 60))

    async def two_creates() -> None:
        await lim.admit(1.0)
        with run_deadline(30):
            await lim.admit(1.0)

    with pytest.raises(ProviderError) as err:
        asyncio.run(vt.run(two_creates()))
    assert err.value.kind == "rate_limit" and "deadline" in str(err.value) and not err.value.may_be_billed


# -- concurrency and AIMD ----------------------------------------------------------------------


def test_slots_are_first_come_first_served_and_waiting_callers_are_counted():
    vt = VirtualTime()
    lim = limiter(vt, concurrency=2)
    order: list[int] = []

    async def go() -> None:
        release = asyncio.Event()

        async def call(i: int) -> None:
            async with lim.slot():
                order.append(i)
                await release.wait()

        tasks = [asyncio.ensure_future(call(i)) for i in range(5)]
        await vt.settle()
        peak_waiting = lim.waiting
        assert lim.stats().in_flight == 2 and LIMITERS.waiting() == 0  # another registry's limiter
        release.set()
        await asyncio.gather(*tasks)
        assert peak_waiting == 3 and lim.waiting == 0 and lim.stats().in_flight == 0

    asyncio.run(go())
    assert order == [0, 1, 2, 3, 4]


def test_slot_is_reentrant_within_a_task_and_its_subtasks():
    lim = Limiter(LimitSpec(None, 1, "[test]"))

    async def go() -> None:
        async with lim.slot() as outer:
            async with lim.slot() as inner:  # super().generate inside generate
                assert inner is outer
            await asyncio.gather(*(asyncio.ensure_future(_nested(lim)) for _ in range(3)))  # uploads in parallel
            assert lim.stats().in_flight == 1

    asyncio.run(asyncio.wait_for(go(), 10))


async def _nested(lim: Limiter) -> None:
    async with lim.slot():
        pass


def test_a_cancelled_waiter_passes_its_turn_on():
    lim = Limiter(LimitSpec(None, 1, "[test]"))

    async def go() -> None:
        hold, done = asyncio.Event(), []

        async def holder() -> None:
            async with lim.slot():
                await hold.wait()

        async def waiter(i: int) -> None:
            async with lim.slot():
                done.append(i)

        first = asyncio.ensure_future(holder())
        await asyncio.sleep(0)
        doomed = asyncio.ensure_future(waiter(1))
        patient = asyncio.ensure_future(waiter(2))
        await asyncio.sleep(0)
        hold.set()  # the slot is granted to `doomed`...
        await first
        doomed.cancel()  # ...which is cancelled before it runs: `patient` must get it
        await asyncio.wait_for(patient, 10)
        assert done == [2] and doomed.cancelled() and lim.stats().in_flight == 0 and lim.waiting == 0

    asyncio.run(go())


def test_a_storm_cuts_the_bound_to_what_the_provider_admitted():
    """8 creates in flight, the provider admits 2 and refuses 6: as each refusal is read the bound
    falls to the other calls still in flight, ending at 2; the refused callers queue again and never
    make more than 2 in flight."""
    vt = VirtualTime()
    lim = limiter(vt)  # no ceiling known
    bounds: list[int | None] = []
    in_flight: list[int] = []

    async def go() -> None:
        all_sent, admitted_done = asyncio.Event(), asyncio.Event()

        async def admitted() -> None:
            async with lim.slot():
                await admitted_done.wait()
                in_flight.append(lim.stats().in_flight)

        async def refused() -> None:
            async with lim.slot():
                await all_sent.wait()  # every create is out before the first refusal is read
                wait, _ = lim.throttled(
                    {"Retry-After": "1"}, b'{"message": "Too Many Requests"}', create=True, fallback=0.5, max_wait=60
                )
                bounds.append(lim.stats().bound)
                await lim.wait_out(wait, create=True)
                in_flight.append(lim.stats().in_flight)
                await vt.sleep(2)  # the retried generation

        tasks = [asyncio.ensure_future(admitted()) for _ in range(2)]
        tasks += [asyncio.ensure_future(refused()) for _ in range(6)]
        await vt.settle()
        assert lim.stats().in_flight == 8
        all_sent.set()
        await vt.settle()
        assert bounds == [7, 6, 5, 4, 3, 2] and lim.stats().throttled == 6 and lim.stats().in_flight == 2
        admitted_done.set()
        await asyncio.gather(*tasks)

    asyncio.run(vt.run(go()))
    assert max(in_flight) <= 2 and lim.stats().bound == 2


def test_a_lone_refusal_halves_the_bound_and_a_rate_refusal_does_not_cut_it():
    vt = VirtualTime()
    lim = limiter(vt, concurrency=8)

    async def refused(headers: dict[str, str], body: bytes) -> int | None:
        async with lim.slot():
            lim.throttled(headers, body, create=True, fallback=0.5, max_wait=60)
            return lim.stats().bound

    async def go() -> list[int | None]:
        return [
            await refused({}, b'{"error": {"code": "RateLimitExceeded.EndpointRPMExceeded"}}'),
            await refused({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}, b""),
            await refused({}, b"Too Many Requests"),
            await refused({}, b"Too Many Requests"),
        ]

    assert asyncio.run(go()) == [8, 8, 4, 2]  # alone in flight: halved, not cut to the 0 others


def test_the_bound_grows_slowly_after_a_quiet_minute_and_never_past_the_ceiling():
    vt = VirtualTime()
    lim = limiter(vt, concurrency=4)
    samples: list[tuple[float, int | None]] = []

    async def go() -> None:
        async with lim.slot():
            lim.throttled({}, b"Too Many Requests", create=True, fallback=0.5, max_wait=60)
        assert lim.stats().bound == 2

        async def worker() -> None:  # more demand than slots: callers always queue
            while vt.now < 100:
                async with lim.slot():
                    await vt.sleep(1)
                samples.append((vt.now, lim.stats().bound))

        await asyncio.gather(*(worker() for _ in range(6)))

    asyncio.run(vt.run(go()))
    assert {b for t, b in samples if t < Limiter.probe_after_s} == {2}  # no growth within a minute of the cut
    grown = [b for t, b in samples if t >= Limiter.probe_after_s]
    assert grown == sorted(grown) and max(grown) == 4  # then up by one per round, to the ceiling, not past it
    first_at = {b: min(t for t, x in samples if x == b) for b in (3, 4)}
    assert Limiter.probe_after_s <= first_at[3] < first_at[4] <= Limiter.probe_after_s + 4


def test_one_limiter_serves_event_loops_in_two_threads():
    """The app's loop and a CLI's or test's loop share the process's limiter."""
    lim = Limiter(LimitSpec(None, 1, "[test]"))
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    async def first() -> None:
        async with lim.slot():
            order.append("first")
            holding.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait)

    async def second() -> None:
        async with lim.slot():
            order.append("second")

    thread = threading.Thread(target=lambda: asyncio.run(first()))
    thread.start()
    assert holding.wait(10)
    other = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(second(), 30)))
    other.start()
    while lim.waiting == 0:  # the second thread is queued behind the first's slot
        assert other.is_alive()
        time.sleep(0.005)
    release.set()
    thread.join(30)
    other.join(30)
    assert order == ["first", "second"] and lim.stats().in_flight == 0


# -- reading what providers say ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("30", 30),
        ("0.5", 0.5),
        ("30s", 30),
        ("20ms", 0.02),
        ("6m0s", 360),
        ("1h2m3.5s", 3723.5),
        ("7.66s", 7.66),
        ("", None),
        ("soon", None),
        ("5x", None),
        (None, None),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_as_seconds_or_an_http_date():
    assert parse_retry_after("2") == 2 and parse_retry_after("1.5") == 1.5 and parse_retry_after("junk") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0  # in the past: at once


def test_empty_buckets_by_any_of_the_documented_header_names():
    assert exhausted_reset({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}) == 360
    assert (
        exhausted_reset(
            {
                "X-RateLimit-Remaining-Tokens": "0",
                "X-RateLimit-Reset-Tokens": "20ms",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
            }
        )
        == 1.0
    )
    assert exhausted_reset({"x-ratelimit-remaining-requests": "4", "x-ratelimit-reset-requests": "1s"}) is None
    assert exhausted_reset({"RateLimit-Remaining": "0", "RateLimit-Reset": "12"}) == 12
    assert exhausted_reset({"RateLimit": '"default";r=0;t=30'}) == 30
    assert exhausted_reset({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000060"}, now=1700000000) == 60
    assert exhausted_reset({"x-ratelimit-remaining-requests": "0"}) is None  # no reset: nothing to wait for


def test_the_wait_a_429_asks_for_in_order_of_precedence():
    assert retry_hint({"retry-after-ms": "250", "retry-after": "3"}) == 0.25  # [sdk openai]
    assert (
        retry_hint({"Retry-After": "3", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "9s"}) == 3
    )
    assert retry_hint({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "9s"}) == 9
    gemini = json.dumps(
        {
            "error": {
                "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"}],
            }
        }
    ).encode()
    assert retry_hint({}, gemini) == 31
    assert retry_hint({}, b'{"detail":"Request was throttled. Your rate limit resets in ~30s."}') == 30  # Replicate
    assert retry_hint({}, b"Too Many Requests") is None


def test_what_a_429_was_about():
    assert throttle_kind({}, b'{"error": {"code": "RateLimitExceeded.EndpointRPMExceeded"}}') == "rate"
    assert throttle_kind({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}) == "rate"
    assert throttle_kind({}, b"Request was throttled. Your rate limit resets in ~30s.") == "rate"
    assert throttle_kind({}, b"too many concurrent requests") == "concurrency"
    assert throttle_kind({}, b"Too Many Requests") == "unknown"


# -- PLAYGROUND_RATE_LIMITS --------------------------------------------------------------------


def test_override_syntax():
    parsed = parse_rate_limits(
        " byteplus=500/min:8, wavespeed=10/min:3,fal=:40,stability=150/10s,openai=off,*=-:2 ", KNOWN
    )
    seed = LimitSpec(Rate(10, 60, "images"), 3, "[doc]")
    assert parsed["wavespeed"].apply(seed, "images") == LimitSpec(
        Rate(10, 60, "images"), 3, "[user PLAYGROUND_RATE_LIMITS] over [doc]"
    )
    assert parsed["byteplus"].apply(seed, "images").rate == Rate(500, 60, "images")
    assert parsed["fal"].apply(seed).rate == seed.rate and parsed["fal"].apply(seed).concurrency == 40
    assert parsed["stability"].apply(seed).rate == Rate(150, 10) and parsed["stability"].apply(seed).concurrency == 3
    assert (parsed["openai"].apply(seed).rate, parsed["openai"].apply(seed).concurrency) == (None, None)
    assert (parsed["*"].apply(seed).rate, parsed["*"].apply(seed).concurrency) == (None, 2)
    assert parse_rate_limits("byteplus=2/s", KNOWN)["byteplus"].apply(seed).rate == Rate(2, 1)
    assert parse_rate_limits("byteplus=1000/h:none", KNOWN)["byteplus"].apply(seed).concurrency is None
    assert parse_rate_limits("", KNOWN) == {} and parse_rate_limits(" , ", KNOWN) == {}


@pytest.mark.parametrize(
    "text,says",
    [
        ("bytplus=10/min", "unknown provider 'bytplus'; choose from"),
        ("wavespeed=10/minute:3", "unknown period 'minute'"),
        ("wavespeed=10 per min", "must be COUNT/PERIOD"),
        ("wavespeed=0/min", "at least 1 request"),
        ("wavespeed=10/min:0", "concurrency '0' must be a whole number >= 1"),
        ("wavespeed=10/min:2.5", "must be a whole number"),
        ("wavespeed", "write PROVIDER=LIMITS"),
        ("wavespeed=", "no limits given"),
        ("fal=:4,fal=:8", "fal is set twice"),
    ],
)
def test_override_errors_name_the_entry_and_the_fix(text, says):
    with pytest.raises(ConfigError) as err:
        parse_rate_limits(text, KNOWN)
    assert says in str(err.value) and "PLAYGROUND_RATE_LIMITS" in str(err.value)


def test_registry_keys_by_provider_host_and_a_salted_hash_never_the_key():
    secret = "sk-live-abcdef0123456789"
    registry = LimiterRegistry(env={})
    one = registry.get("wavespeed", secret, "https://api.wavespeed.ai/api/v3")
    assert registry.get("wavespeed", secret, "https://api.wavespeed.ai/api/v3/other") is one
    assert registry.get("wavespeed", "another-key", "https://api.wavespeed.ai/api/v3") is not one
    assert registry.get("byteplus", secret, "https://api.wavespeed.ai/api/v3") is not one
    assert registry.get("wavespeed", secret, "https://eu.example.com") is not one
    assert secret not in repr(registry.__dict__) + repr([vars(x) for x in registry._limiters.values()])
    assert secret not in repr(registry.stats()) and len(one.key_id) == 12
    # seeded from the documented limits on the provider's host; nothing seeded on loopback
    assert (one.spec.rate, one.spec.concurrency) == (Rate(10, 60, "images"), 3) and "[doc " in one.spec.source
    local = registry.get("wavespeed", secret, "http://127.0.0.1:8000/api/v3")
    assert (local.spec.rate, local.spec.concurrency) == (None, None) and "loopback" in local.spec.source


def test_registry_stays_bounded_by_forgetting_idle_keys():
    """On a Space every visitor's typed key makes a limiter: past max_keys the idle ones go."""
    registry = LimiterRegistry(env={}, max_keys=4)
    busy = registry.get("byteplus", "key-busy", "https://ark.example.com")

    async def hold_and_fill() -> None:
        async with busy.slot():
            for i in range(10):
                registry.get("byteplus", f"visitor-{i}", "https://ark.example.com")
            assert registry.get("byteplus", "key-busy", "https://ark.example.com") is busy  # in use: kept
            assert len(registry.stats()) <= 4

    asyncio.run(hold_and_fill())


def test_registry_applies_the_override_and_starts_afresh_when_it_changes():
    env: dict[str, str] = {"PLAYGROUND_RATE_LIMITS": "wavespeed=500/min:100"}
    registry = LimiterRegistry(env=env)
    silver = registry.get("wavespeed", "k", "http://localhost:9/api")
    assert (silver.spec.rate, silver.spec.concurrency) == (Rate(500, 60, "images"), 100)
    env["PLAYGROUND_RATE_LIMITS"] = "wavespeed=oops"
    with pytest.raises(ConfigError):
        registry.get("wavespeed", "k", "http://localhost:9/api")
    env["PLAYGROUND_RATE_LIMITS"] = ""
    assert registry.get("wavespeed", "k", "http://localhost:9/api") is not silver


def test_a_bad_override_is_refused_at_start_up_through_the_settings(data_dir):
    """PLAYGROUND_RATE_LIMITS is read through Settings and checked when the Playground starts (the
    app and every CLI command make one first): a typo is a ConfigError naming the entry, before any
    run could be sent."""
    for text, says in [("byteplus=10/minute", "unknown period"), ("bytepluss=10/min", "unknown provider")]:
        with pytest.raises(ConfigError) as err:
            make_playground({}, data_dir, PLAYGROUND_RATE_LIMITS=text)
        assert "PLAYGROUND_RATE_LIMITS" in str(err.value) and says in str(err.value)


def test_the_settings_override_reaches_the_process_limiter(data_dir, monkeypatch):
    """The Settings' text wins over os.environ (a Playground made from an explicit environment)."""
    monkeypatch.setenv("PLAYGROUND_RATE_LIMITS", "byteplus=1/s")
    make_playground({}, data_dir, PLAYGROUND_RATE_LIMITS="byteplus=7/min:3")
    spec = LIMITERS.get("byteplus", "k", "http://127.0.0.1:9/api").spec
    assert (spec.rate, spec.concurrency) == (Rate(7, 60, "images"), 3)


# -- over real HTTP: a provider that enforces limits per key -----------------------------------


def _png_answer() -> bytes:
    b64 = base64.b64encode(tiny_png()).decode()
    return json.dumps(
        {
            "model": "seedream-4-0-250828",
            "created": 1,
            "data": [{"b64_json": b64, "size": "64x64"}],
            "usage": {"generated_images": 1, "output_tokens": 4096, "total_tokens": 4096},
        }
    ).encode()


class LimitedServer:
    """BytePlus-shaped (POST /images/generations, plain JSON answer), enforcing per key (the
    Authorization header) at most `concurrent` generations in progress and at most `per_window`
    creates in any `window_s` seconds. A refusal is HTTP 429 with `Retry-After` (the time until the
    window frees, or `retry_after` for concurrency) and a body naming no reason, like WaveSpeed's.
    `rate_headers`: every answer carries x-ratelimit-remaining-requests / -reset-requests (OpenAI's
    names and duration format).

    The server holds every answer until `burst` requests have arrived (the runs started at once
    all send before any answer could slow them: one storm, whatever the machine's load), then holds
    an admitted generation until `hold()` is true and for `latency_s`."""

    def __init__(
        self,
        *,
        concurrent: int | None = None,
        per_window: int | None = None,
        window_s: float = 1.0,
        retry_after: str = "1",
        rate_headers: bool = False,
        burst: int = 0,
        latency_s: float = 0.05,
        hold: Callable[[LimitedServer], bool] | None = None,
    ) -> None:
        self.concurrent, self.per_window, self.window_s = concurrent, per_window, window_s
        self.retry_after, self.rate_headers, self.burst, self.latency_s = retry_after, rate_headers, burst, latency_s
        self.hold = hold
        self.cond = threading.Condition()
        self.arrivals: list[tuple[float, bool, int]] = []  # (when, refused, requests held at once incl. this)
        self.refusals: list[tuple[float, float]] = []  # (when, Retry-After announced)
        self.in_progress: dict[str, int] = {}
        self.open = 0
        self.window: dict[str, deque[float]] = {}
        self.waiting_seen: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, headers, body = server.handle(self.headers.get("Authorization", ""))
                self.send_response(status)
                for name, value in {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    **headers,
                }.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v3"

    def env(self) -> dict[str, str]:
        return {"ARK_API_KEY": "stand-in-key-0123456789", "ARK_BASE_URL": self.url}

    def _window(self, key: str, now: float) -> deque[float]:
        sent = self.window.setdefault(key, deque())
        while sent and sent[0] <= now - self.window_s:
            sent.popleft()
        return sent

    def handle(self, key: str) -> tuple[int, dict[str, str], bytes]:
        with self.cond:
            now = time.monotonic()
            self.open += 1
            sent = self._window(key, now)
            busy = self.concurrent is not None and self.in_progress.get(key, 0) >= self.concurrent
            full = self.per_window is not None and len(sent) >= self.per_window
            refused = busy or full
            self.arrivals.append((now, refused, self.open))
            if refused:
                wait = (
                    math.ceil((sent[0] + self.window_s - now) * 1000) / 1000
                    if full and not busy
                    else float(self.retry_after)
                )
                self.refusals.append((now, wait))
            else:
                self.in_progress[key] = self.in_progress.get(key, 0) + 1
                sent.append(now)
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: len(self.arrivals) >= self.burst, timeout=60), "burst never came"
        try:
            if refused:
                retry_after = f"{wait:.3f}" if full and not busy else self.retry_after  # rounded up above
                return (
                    429,
                    {"Retry-After": retry_after, **self._rate_headers(key)},
                    b'{"error": {"code": "TooManyRequests", "message": "Too Many Requests"}}',
                )
            self._wait_for_hold()
            time.sleep(self.latency_s)  # the generation (the answer waits on it; nothing asserts on it)
            with self.cond:
                self.in_progress[key] -= 1  # done before the answer leaves: the client may send at once
            return 200, self._rate_headers(key), _png_answer()
        finally:
            with self.cond:
                self.open -= 1

    def _wait_for_hold(self) -> None:
        if self.hold is None:
            return
        deadline = time.monotonic() + 60
        while not self.hold(self):  # a condition on the client's limiter, polled
            self.waiting_seen.append(LIMITERS.waiting())
            assert time.monotonic() < deadline, "the hold condition never came true"
            time.sleep(0.005)
        self.waiting_seen.append(LIMITERS.waiting())

    def _rate_headers(self, key: str) -> dict[str, str]:
        if not self.rate_headers or self.per_window is None:
            return {}
        with self.cond:
            now = time.monotonic()
            sent = self._window(key, now)
            remaining = max(0, self.per_window - len(sent))
            reset = (sent[0] + self.window_s - now) if sent else 0.0
            return {
                "x-ratelimit-limit-requests": str(self.per_window),
                "x-ratelimit-remaining-requests": str(remaining),
                "x-ratelimit-reset-requests": f"{max(1, math.ceil(reset * 1000))}ms",
            }

    def __enter__(self) -> LimitedServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def twelve_runs(server: LimitedServer, data_dir: Any, **env: str) -> list[Any]:
    pg = make_playground(server.env(), data_dir, **env)

    async def go() -> list[Any]:
        return await asyncio.gather(
            *(
                pg.run(GenerationRequest(prompt=f"fox {i}", provider="byteplus", frames=1, size="256x256"))
                for i in range(12)
            )
        )

    return [r.record for r in asyncio.run(go())]


def every_refusal_read(server: LimitedServer) -> bool:
    """True once the client's limiter has read every 429 the server sent (and so cut its bound)."""
    with server.cond:
        sent = len(server.refusals)
    read = sum(s.throttled for s in LIMITERS.stats())
    return sent > 0 and read >= sent


def test_twelve_runs_under_two_concurrent_all_end_ok_and_never_pass_the_limit_after_the_storm(data_dir):
    """Issue 16: under a limit of 2 concurrent calls per key, 12 one-frame runs used to end with 6 rows
    in error. Now: the first burst (all runs in flight at once) meets one storm of 429s; once the
    client has read them, it never has more than 2 requests at the server, and every row is ok."""
    burst = min(12, MAX_RUNS_IN_FLIGHT)
    with LimitedServer(concurrent=2, retry_after="1", burst=burst, hold=every_refusal_read) as server:
        records = twelve_runs(server, data_dir)
    assert [r.status for r in records] == ["ok"] * 12 and all(not r.error for r in records)
    refused = [a for a in server.arrivals if a[1]]
    assert len(refused) == burst - 2  # one storm: the burst's requests beyond the limit, nothing after it
    after_storm = server.arrivals[burst:]
    assert len(after_storm) == 12 - 2 + len(refused) - (burst - 2) and max(a[2] for a in after_storm) <= 2
    stats = next(s for s in LIMITERS.stats() if s.provider == "byteplus")
    assert stats.throttled == burst - 2 and stats.bound == 2 and stats.in_flight == 0 and stats.waiting == 0
    assert max(server.waiting_seen) >= 1 and stats.waited_s >= 1.0  # the refused runs waited, and it showed


def test_a_rate_limit_announced_in_headers_is_kept_without_a_single_429(data_dir):
    """4 creates per second per key, announced on every answer (x-ratelimit-remaining/reset-requests):
    a key left at one call at a time pauses when the bucket is empty and is never refused."""
    with LimitedServer(per_window=4, window_s=1.0, rate_headers=True) as server:
        records = twelve_runs(server, data_dir, PLAYGROUND_RATE_LIMITS="byteplus=:1")
    assert [r.status for r in records] == ["ok"] * 12
    assert server.refusals == [] and len(server.arrivals) == 12
    times = [a[0] for a in server.arrivals]
    assert times[-1] - times[0] >= 2.0  # 12 creates at 4 per second take at least two full windows


def test_a_rate_limit_learned_only_from_429s_is_waited_out_as_announced(data_dir):
    """The same limit without headers: each refusal names its Retry-After, and no request of the key
    arrives before the time it announced; every row ends ok."""
    with LimitedServer(per_window=4, window_s=1.0) as server:
        records = twelve_runs(server, data_dir, PLAYGROUND_RATE_LIMITS="byteplus=:1")
    assert [r.status for r in records] == ["ok"] * 12
    assert server.refusals, "the stand-in refused nothing: the test proves nothing"
    for when, wait in server.refusals:
        assert all(t >= when + wait for t, _, _ in server.arrivals if t > when)
    assert len([a for a in server.arrivals if not a[1]]) == 12


# -- the run's deadline ------------------------------------------------------------------------


def one_run(pg: Any, prompt: str = "fox") -> Any:
    return asyncio.run(pg.run(GenerationRequest(prompt=prompt, provider="byteplus", frames=1, size="256x256"))).record


def test_a_wait_on_the_rate_limit_past_the_run_deadline_ends_as_rate_limited_nothing_sent(data_dir):
    """One create per minute on the key and a 3 s run deadline: the second run cannot be admitted
    before its deadline, so it ends at once as "rate limited", nothing sent, not "may be billed"."""
    with LimitedServer() as server:
        pg = make_playground(
            server.env(), data_dir, PLAYGROUND_RATE_LIMITS="byteplus=1/min", PLAYGROUND_RUN_DEADLINE_S="3"
        )
        first, second = one_run(pg, "fox 1"), one_run(pg, "fox 2")
    assert first.status == "ok" and len(server.arrivals) == 1
    assert second.status == "error" and "rate limited" in second.error and "deadline" in second.error
    assert "may have been billed" not in second.error and "passed its" not in second.error
    assert second.cost_usd == 0 and second.latency_s < 3  # refused up front, not at the timeout


def test_a_429_naming_a_wait_past_the_run_deadline_is_the_answer_nothing_billed(data_dir):
    """Two concurrent per key, two runs already holding them: a third is refused with Retry-After
    longer than its deadline; it is not waited out, and the row says rate limited, not billed."""

    def hold(server: LimitedServer) -> bool:
        return len(server.refusals) >= 1

    with LimitedServer(concurrent=2, retry_after="30", burst=3, hold=hold) as server:
        pg = make_playground(server.env(), data_dir, PLAYGROUND_RUN_DEADLINE_S="5")

        async def go() -> list[Any]:
            return await asyncio.gather(
                *(
                    pg.run(GenerationRequest(prompt=f"fox {i}", provider="byteplus", frames=1, size="256x256"))
                    for i in range(3)
                )
            )

        records = [r.record for r in asyncio.run(go())]
    refused = [r for r in records if r.status != "ok"]
    assert len(refused) == 1 and len(server.refusals) == 1 and len(server.arrivals) == 3
    assert "rate limit" in refused[0].error.lower() and "may have been billed" not in refused[0].error
    assert "passed its" not in refused[0].error and refused[0].cost_usd == 0
