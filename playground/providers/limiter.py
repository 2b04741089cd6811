"""One rate limiter per provider key, shared by everything in the process (every app session,
Compare, batch, bench-story), so that a batch runs at the speed the provider allows and a 429
storm ends in waiting, not in failed rows.

A limiter is found by (provider, host of the base URL, salted hash of the key) in the process-wide
registry `LIMITERS`; the key itself is never stored, logged or shown (`key_id` is a hash salted
per process). The host is part of the name because limits belong to a service: a BytePlus key is
per region, an emulator on 127.0.0.1 is not the provider.

What a limiter enforces
-----------------------
- **Concurrency**: generations of the key in progress at once. A generation holds a slot from its
  first request to the end of `Provider.generate` (create, polls, result of an async job): the
  providers count jobs in progress, not open connections [doc https://wavespeed.ai/docs/account-levels,
  https://docs.fal.ai/documentation/model-apis/concurrency-limits]. Waiters are served first come,
  first served.
- **Rate**: a sliding window, at most N requests (or N images, where the provider counts images)
  in any W seconds, over the requests that create a generation. Polls, uploads and cancels are not
  counted: the documented rates are about creations (Replicate counts its other endpoints apart, at
  5x [doc https://replicate.com/docs/topics/predictions/rate-limits]); they still honour pauses.
  A sliding window, not a token bucket: a bucket of N tokens refilled at N/W lets 2N through in the
  first W seconds, which a provider counting N per minute refuses. A call asking for more images
  than the window holds takes the whole window.
- **Pauses**: after a 429, nothing more is sent on the key until the wait the provider named has
  passed (`retry-after-ms`, `Retry-After` in seconds or as a date, else an exhausted bucket's
  `x-ratelimit-reset-*` / `ratelimit-reset`, else a hint in the body: Gemini's
  `RetryInfo.retryDelay` [3p], Replicate's "resets in ~30s" [doc]); without any, the caller's
  backoff (0.5 s doubling to 8 s). An answer saying a bucket is empty
  (`x-ratelimit-remaining-requests: 0` and kin, any suffix) pauses the key until its reset before
  any 429 [3p OpenAI headers]. A wait longer than `RetryPolicy.max_retry_after` is reported by the
  caller, not imposed on the key's other calls.

Adapting (AIMD)
---------------
A create refused with 429 for a reason that is not a rate (no exhausted bucket, no "RPM"/"per
minute"/"resets in" in the answer) lowers the concurrency bound multiplicatively: to the number of
the key's other generations still in progress (the provider is running those: under a concurrency
limit that is the limit), but by at most half of the bound per refusal (a lone 429 halves it, it
does not collapse it to 1). The refused caller gives its slot back and queues again behind the new
bound, so once every refusal of a storm has been read, the key never has more in flight than the
provider admitted (each refusal read lowers the bound and the count in flight by one together). The
bound grows again additively, by 1 per `bound` successful generations, only while callers queue for
a slot, not within `probe_after_s` (60 s) of the last cut, and never above the seeded or user
ceiling.

Waiting is not an error: only the run's deadline (`run_deadline`, set by the core around a run),
a wait over `max_retry_after`, or `RetryPolicy.rate_limit_patience_s` of 429s for one request
end a call with "rate limited".

Seeds and overrides
-------------------
`SEEDS` holds each provider's documented limits with their source. They apply to the provider's
own hosts; a base URL on a loopback address (the emulator, a local proxy) starts with no limits
but adapts the same way. PLAYGROUND_RATE_LIMITS overrides per provider (see `parse_rate_limits`):

    PLAYGROUND_RATE_LIMITS="byteplus=500/min:8,wavespeed=10/min:3,fal=:40,stability=150/10s,openai=off"

Observing it (progress bars, tests)
-----------------------------------
`LIMITERS.waiting()` is the number of callers waiting on a rate limit right now (for a slot, a
pause or the window); `LIMITERS.stats()` one `LimiterStats` per key: in flight, bound, ceiling,
waiting, 429s seen, seconds waited, pause left. Clocks and sleeps are injectable
(`Limiter(clock=, sleep=)`, `admit(sleep=)`) so tests assert waits without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import hashlib
import hmac
import ipaddress
import math
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from playground.base.errors import ConfigError, ProviderError

ENV_NAME = "PLAYGROUND_RATE_LIMITS"
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Rate:
    count: float  # requests (or images) ...
    period_s: float  # ... in any window of this many seconds
    unit: str = "requests"  # "images": a create weighs the frames it asks for

    def __str__(self) -> str:
        period = "min" if self.period_s == 60 else "h" if self.period_s == 3600 else f"{self.period_s:g}s"
        return f"{self.count:g} {self.unit}/{period}"


@dataclass(frozen=True)
class LimitSpec:
    rate: Rate | None  # None: no rate enforced (adaptation only)
    concurrency: int | None  # the ceiling of the concurrency bound; None: none known
    source: str


NO_LIMITS = LimitSpec(None, None, "[none known: adapts to 429s and rate-limit headers]")
_LOOPBACK = LimitSpec(None, None, "[none: a loopback base URL is not the provider; adapts to 429s and headers]")

# Documented limits per provider. Where a provider documents levels, the seed is a new account's.
SEEDS: dict[str, LimitSpec] = {
    "byteplus": LimitSpec(
        Rate(500, 60, "images"),
        None,
        "[3p docs/providers.md: image models about 500 images/min per model; concurrency "
        "undocumented, doc https://docs.byteplus.com/en/docs/modelark/1330310]",
    ),
    "wavespeed": LimitSpec(
        Rate(10, 60, "images"),
        3,
        "[doc https://wavespeed.ai/docs/account-levels: Bronze (a new account) 10 images/min, "
        "3 concurrent; Silver 500/100, Gold 3000/2000]",
    ),
    "atlascloud": LimitSpec(
        None,
        None,
        "[doc https://atlascloud.ai/docs/en/errors: per account and model, numbers "
        "not published; no rate-limit headers on media endpoints]",
    ),
    "openai": LimitSpec(
        None,
        None,
        "[3p https://github.com/api-evangelist/openai: per tier (RPM, IPM); read from x-ratelimit-* headers]",
    ),
    "stability": LimitSpec(
        Rate(150, 10), None, "[3p https://apifox.com/apidoc/docs-site/3757851/doc-3401709: 150 requests per 10 s]"
    ),
    "fal": LimitSpec(
        None,
        40,
        "[doc https://docs.fal.ai/documentation/model-apis/concurrency-limits: 2 to 40 in "
        "progress per account by credit; above it fal queues, never refuses; no RPM]",
    ),
    "evolink": LimitSpec(None, None, "[guess: nothing published]"),
    "replicate": LimitSpec(
        Rate(600, 60), None, "[doc https://replicate.com/docs/topics/predictions/rate-limits: 600 creates/min]"
    ),
    "gemini": LimitSpec(
        None, None, "[doc https://ai.google.dev/gemini-api/docs/rate-limits: per project and tier, shown in AI Studio]"
    ),
}


# -- PLAYGROUND_RATE_LIMITS ------------------------------------------------------------------

_KEEP = object()  # a part the user left out: the seed's value
_PERIODS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}
_RATE = re.compile(r"^(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)?([a-z]+)$")
_NONE = ("-", "none")


@dataclass(frozen=True)
class Override:
    rate: object = _KEEP  # Rate, None (no rate) or _KEEP
    concurrency: object = _KEEP  # int, None (no bound) or _KEEP

    def apply(self, seed: LimitSpec, unit: str = "requests") -> LimitSpec:
        """`seed` with the user's parts; a rate the user set counts in the provider's `unit`."""
        rate = seed.rate if self.rate is _KEEP else self.rate
        if isinstance(rate, Rate) and self.rate is not _KEEP:
            rate = replace(rate, unit=unit)
        concurrency = seed.concurrency if self.concurrency is _KEEP else self.concurrency
        return LimitSpec(rate, concurrency, f"[user {ENV_NAME}] over {seed.source}")  # type: ignore[arg-type]


def parse_rate_limits(text: str, known: Iterable[str] | None = None) -> dict[str, Override]:
    """PLAYGROUND_RATE_LIMITS as {provider or "*": Override}; ConfigError naming the bad entry.

    Syntax: entries `PROVIDER=LIMITS` separated by commas; PROVIDER a provider name or `*` (every
    provider not named). LIMITS is `off` (no rate, no ceiling: adapt only), or `RATE[:CONCURRENCY]`,
    or `:CONCURRENCY`. RATE is `N/min`, `N/s`, `N/h` or `N/<P>s|min|h` (N per P seconds, minutes,
    hours), e.g. `500/min`, `150/10s`; CONCURRENCY a whole number >= 1. A part left out keeps the
    documented value, `-` or `none` removes it: `wavespeed=500/min` keeps 3 concurrent,
    `wavespeed=500/min:-` has no concurrency bound. The unit (requests or images) is the provider's."""
    names = set(known) if known is not None else None
    out: dict[str, Override] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, eq, limits = (s.strip() for s in entry.partition("="))
        where = f"{ENV_NAME}: in {entry!r}"
        if not eq or not name:
            raise ConfigError(f"{where}: write PROVIDER=LIMITS, e.g. byteplus=500/min:8 or fal=:40")
        if names is not None and name != "*" and name not in names:
            raise ConfigError(f"{where}: unknown provider {name!r}; choose from {', '.join(sorted(names))} or *")
        if name in out:
            raise ConfigError(f"{where}: {name} is set twice")
        out[name] = _parse_limits(limits.lower(), where)
    return out


def _parse_limits(limits: str, where: str) -> Override:
    if limits == "off":
        return Override(None, None)
    rate_text, colon, conc_text = limits.partition(":")
    if not rate_text and not colon:
        raise ConfigError(f"{where}: no limits given; write RATE[:CONCURRENCY] (e.g. 10/min:3), :CONCURRENCY or off")
    rate: object = _KEEP if not rate_text else None if rate_text in _NONE else _parse_rate(rate_text, where)
    concurrency: object = _KEEP
    if colon:
        if conc_text in _NONE:
            concurrency = None
        elif conc_text.isdigit() and int(conc_text) >= 1:
            concurrency = int(conc_text)
        else:
            raise ConfigError(f"{where}: concurrency {conc_text!r} must be a whole number >= 1 (or - for none)")
    return Override(rate, concurrency)


def _parse_rate(text: str, where: str) -> Rate:
    match = _RATE.match(text)
    if not match:
        raise ConfigError(f"{where}: rate {text!r} must be COUNT/PERIOD, e.g. 10/min, 2/s, 150/10s or 1000/h")
    count, periods, unit = float(match[1]), float(match[2] or 1), match[3]
    if unit not in _PERIODS:
        raise ConfigError(f"{where}: unknown period {unit!r} in {text!r}; use s, min or h (e.g. 10/min, 150/10s)")
    if count < 1 or periods <= 0:
        raise ConfigError(f"{where}: rate {text!r} must allow at least 1 request in a period longer than 0")
    return Rate(count, periods * _PERIODS[unit])


# -- reading what the provider said ----------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_EPOCH_AFTER = 1e9  # a reset this large is a Unix time (GitHub style), not a delay


def parse_duration(text: str | None) -> float | None:
    """Seconds from "30", "0.5", "30s", "20ms", "6m0s", "1h2m3.5s" (OpenAI's reset format); None when
    unreadable."""
    if text is None:
        return None
    text = text.strip().lower()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _reset_seconds(value: str | None, now: float) -> float | None:
    seconds = parse_duration(value)
    if seconds is not None and seconds > _EPOCH_AFTER:
        return max(0.0, seconds - now)
    return seconds


def exhausted_reset(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until a bucket that has run out refills, or None when no bucket is empty:
    `x-ratelimit-remaining[-X]: 0` with `x-ratelimit-reset[-X]` for any X (requests, tokens, images)
    [3p OpenAI], `ratelimit-remaining: 0` with `ratelimit-reset`, and `ratelimit: ...;r=0;t=N`
    (IETF httpapi drafts). The longest reset of the empty buckets."""
    now = time.time() if now is None else now
    lower = {k.lower(): v for k, v in headers.items()}
    waits: list[float] = []
    for name, value in lower.items():
        for prefix in ("x-ratelimit-remaining", "ratelimit-remaining"):
            if name.startswith(prefix) and parse_duration(value) == 0:
                reset = _reset_seconds(lower.get(name.replace("remaining", "reset", 1)), now)
                if reset is not None:
                    waits.append(reset)
    structured = lower.get("ratelimit", "")
    for item in structured.split(","):
        params = dict(p.strip().split("=", 1) for p in item.split(";") if "=" in p)
        if params.get("r", "").strip() == "0" and parse_duration(params.get("t")) is not None:
            waits.append(parse_duration(params.get("t")) or 0.0)
    return max(waits) if waits else None


_BODY_DELAY = re.compile(r'"retrydelay"\s*:\s*"(\d+(?:\.\d+)?)s"')  # Gemini RetryInfo [3p research]
_BODY_RESETS = re.compile(r"resets? in ~?\s*(\d+(?:\.\d+)?)\s*s")  # Replicate [doc]


def retry_hint(headers: Mapping[str, str], body: bytes | str = b"", now: float | None = None) -> float | None:
    """The wait a 429 asks for: retry-after-ms [sdk openai], Retry-After, an empty bucket's reset, a
    delay named in the body; None when it names none."""
    lower = {k.lower(): v for k, v in headers.items()}
    millis = parse_duration(lower.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    for hint in (parse_retry_after(lower.get("retry-after"), now), exhausted_reset(lower, now)):
        if hint is not None:
            return hint
    text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body).lower()
    match = _BODY_DELAY.search(text) or _BODY_RESETS.search(text)
    return float(match[1]) if match else None


_CONCURRENCY_WORDS = ("concurren", "in progress", "in-progress", "parallel", "simultaneous")
_RATE_WORDS = (
    "rpm",
    "tpm",
    "ipm",
    "rpd",
    "per minute",
    "per day",
    "per hour",
    "resets in",
    "requests per",
    "resource_exhausted",
)


def throttle_kind(headers: Mapping[str, str], body: bytes | str = b"") -> str:
    """ "concurrency", "rate" or "unknown": what a 429 says it was about. Only a rate needs no cut
    of the concurrency bound."""
    text = (body.decode("utf-8", "replace") if isinstance(body, bytes) else body).lower()
    if any(word in text for word in _CONCURRENCY_WORDS):
        return "concurrency"
    if exhausted_reset(headers) is not None or any(word in text for word in _RATE_WORDS):
        return "rate"
    return "unknown"


# -- the run's deadline ----------------------------------------------------------------------

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("rate_limit_deadline", default=None)


@contextlib.contextmanager
def run_deadline(seconds: float) -> Iterator[None]:
    """Within this block (and the tasks it starts) no wait on a rate limit may end later than
    `seconds` from now: such a wait ends the call with ProviderError("rate_limit"), nothing sent."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def deadline_left() -> float | None:
    """Seconds left before the run's deadline (`run_deadline`), None when no deadline is set."""
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


# -- the limiter -----------------------------------------------------------------------------

_HELD: contextvars.ContextVar[tuple[Permit, ...]] = contextvars.ContextVar("rate_limit_permits", default=())


class _Waiter:
    """A caller queued for a slot, on its own event loop (the app's, a CLI's, a test's)."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self.loop.create_future()
        self.granted = False

    def wake(self) -> bool:
        """Resolve the future from any thread; False when its loop is gone."""
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # the loop was closed: the waiter is gone with it
            return False
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class Permit:
    """A generation's slot. `throttled` once a create of it was refused (no growth from it)."""

    limiter: Limiter
    held: bool = False
    throttled: bool = False

    def release(self, ok: bool = False) -> None:
        if self.held:
            self.held = False
            self.limiter._release(ok and not self.throttled)


@dataclass(frozen=True)
class LimiterStats:
    provider: str
    host: str
    key_id: str  # a per-process salted hash, never the key
    in_flight: int
    bound: int | None  # the concurrency bound now (None: unbounded)
    ceiling: int | None
    rate: str
    source: str
    waiting_for_slot: int
    waiting_for_rate: int  # on a pause, the window, or a 429's wait
    throttled: int  # 429s seen
    waited_s: float  # seconds callers spent waiting, summed
    paused_for_s: float  # pause left

    @property
    def waiting(self) -> int:
        return self.waiting_for_slot + self.waiting_for_rate


class Limiter:
    """One key's limits; see the module docstring. Thread-safe: a limiter may be shared by event
    loops in several threads (the app's and a test's)."""

    beta = 0.5  # the most one refusal may cut the bound by: to half
    probe_after_s = 60.0  # no growth this soon after a cut

    def __init__(
        self,
        spec: LimitSpec = NO_LIMITS,
        *,
        provider: str = "",
        host: str = "",
        key_id: str = "",
        label: str = "",
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.spec, self.provider, self.host, self.key_id = spec, provider, host, key_id
        self.label = label or provider or "provider"
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._ceiling = float(spec.concurrency) if spec.concurrency else math.inf
        self._bound = self._ceiling
        self._in_flight = 0
        self._queue: deque[_Waiter] = deque()
        self._sent: deque[tuple[float, float]] = deque()  # (when, weight) of creates in the window
        self._sent_weight = 0.0
        self._paused_until = -math.inf
        self._last_cut = -math.inf
        self._waiting_slot = self._waiting_rate = 0
        self._throttled = 0
        self._waited_s = 0.0

    # concurrency ------------------------------------------------------------------------------
    def _cap(self) -> float:
        return max(1, math.floor(self._bound)) if self._bound != math.inf else math.inf

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[Permit]:
        """Hold one of the key's concurrency slots for the block. Re-entrant: within a block that
        already holds this limiter's slot (nested calls, tasks it started) it holds no second one."""
        held = _HELD.get()
        mine = next((p for p in held if p.limiter is self), None)
        if mine is not None:
            yield mine
            return
        permit = Permit(self)
        await self._acquire(permit)
        token = _HELD.set(held + (permit,))
        ok = False
        try:
            yield permit
            ok = True
        finally:
            _HELD.reset(token)
            permit.release(ok)

    def held_permit(self) -> Permit | None:
        """This limiter's slot held by the running task, if any."""
        return next((p for p in _HELD.get() if p.limiter is self and p.held), None)

    async def _acquire(self, permit: Permit) -> None:
        with self._lock:
            if not self._queue and self._in_flight < self._cap():
                self._in_flight += 1
                permit.held = True
                return
            waiter = _Waiter()
            self._queue.append(waiter)
            self._waiting_slot += 1
        started = self.clock()
        try:
            await self._bounded_wait(waiter.future, "a free slot")
            permit.held = True
        except BaseException:
            with self._lock:
                if waiter.granted:  # given a slot as it was cancelled: pass it on
                    self._in_flight -= 1
                    self._grant()
                else:
                    self._queue.remove(waiter)
            raise
        finally:
            with self._lock:
                self._waiting_slot -= 1
                self._waited_s += max(0.0, self.clock() - started)

    def _grant(self) -> None:
        """Hand free slots to the first waiters (under the lock)."""
        while self._queue and self._in_flight < self._cap():
            waiter = self._queue.popleft()
            waiter.granted = True
            self._in_flight += 1
            if not waiter.wake():
                self._in_flight -= 1

    def _release(self, ok: bool) -> None:
        with self._lock:
            saturated = self._in_flight >= self._cap()
            self._in_flight -= 1
            if ok and saturated and self._bound < self._ceiling and self.clock() - self._last_cut >= self.probe_after_s:
                self._bound = min(self._ceiling, self._bound + 1 / self._bound)
            self._grant()

    def _cut(self) -> None:
        """A create was refused for concurrency (or no stated reason): see the module docstring."""
        others = self._in_flight - 1  # the refused caller still holds its slot here
        half = math.floor((self._bound if self._bound != math.inf else self._in_flight) * self.beta)
        self._bound = min(self._bound, max(1, half, others))
        self._last_cut = self.clock()

    # rate and pauses ---------------------------------------------------------------------------
    def weight(self, frames: int) -> float:
        """What a create asking for `frames` frames counts in the window."""
        return float(max(1, frames)) if self.spec.rate is not None and self.spec.rate.unit == "images" else 1.0

    async def admit(self, weight: float = 0.0, *, sleep: Sleep | None = None, honoured: float = -math.inf) -> None:
        """Wait until one more request may go: no pause (one ending by `honoured`, which this caller
        already waited out, counts as over) and, for a create (`weight` > 0), room in the window;
        then count it."""
        sleep = sleep or self.sleep
        started: float | None = None
        try:
            while True:
                with self._lock:
                    delay = self._delay(weight, honoured)
                    if delay <= 0:
                        self._record(weight)
                        return
                    if started is None:
                        started = self.clock()
                        self._waiting_rate += 1
                self._check_deadline(delay, may_be_billed=weight <= 0)  # not a create: a job may exist
                await sleep(delay)
        finally:
            if started is not None:
                with self._lock:
                    self._waiting_rate -= 1
                    self._waited_s += max(0.0, self.clock() - started)

    def _delay(self, weight: float, honoured: float) -> float:
        now = self.clock()
        pause = self._paused_until - now if self._paused_until > honoured else 0.0
        rate = self.spec.rate
        if weight <= 0 or rate is None:
            return pause
        while self._sent and self._sent[0][0] <= now - rate.period_s:
            self._sent_weight -= self._sent.popleft()[1]
        excess = self._sent_weight + min(weight, rate.count) - rate.count
        window = 0.0
        for when, sent in self._sent:
            if excess <= 1e-9:
                break
            excess -= sent
            window = when + rate.period_s - now
        return max(pause, window)

    def _record(self, weight: float) -> None:
        if weight > 0 and self.spec.rate is not None:
            weight = min(weight, self.spec.rate.count)
            self._sent.append((self.clock(), weight))
            self._sent_weight += weight

    def observe(self, status: int, headers: Mapping[str, str], *, max_wait: float) -> None:
        """Any answer: an empty bucket (remaining 0 with a reset within `max_wait`) pauses the key
        until the reset, before any 429."""
        if status == 429:
            return  # `throttled` reads it
        reset = exhausted_reset(headers)
        if reset is not None and 0 < reset <= max_wait:
            self._pause(reset)

    def throttled(
        self, headers: Mapping[str, str], body: bytes = b"", *, create: bool, fallback: float, max_wait: float
    ) -> tuple[float, float]:
        """Note a 429: (the wait it asks for, else `fallback`; the pause's end this caller may treat
        as honoured once it has slept the wait). A wait within `max_wait` pauses the key; a create
        refused for concurrency or no stated reason cuts the bound."""
        hint = retry_hint(headers, body)
        wait = fallback if hint is None else hint
        with self._lock:
            self._throttled += 1
            end = self.clock() + wait
            if wait <= max_wait:
                self._paused_until = max(self._paused_until, end)
            permit = self.held_permit()
            if create and permit is not None and throttle_kind(headers, body) != "rate":
                self._cut()
                permit.throttled = True
        return wait, end

    async def wait_out(self, wait: float, *, create: bool, sleep: Sleep | None = None) -> None:
        """Sleep a 429's wait. A refused create gives its slot back for the wait and queues again,
        behind the (maybe lower) bound: the provider did not take it."""
        permit = self.held_permit() if create else None
        if permit is not None:
            permit.release(False)
        started = self.clock()
        with self._lock:
            self._waiting_rate += 1
        try:
            await (sleep or self.sleep)(wait)
        finally:
            with self._lock:
                self._waiting_rate -= 1
                self._waited_s += max(0.0, self.clock() - started)
        if permit is not None:
            await self._acquire(permit)
            permit.throttled = True

    def _pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, self.clock() + seconds)

    # the deadline -------------------------------------------------------------------------------
    def _check_deadline(self, wait: float, *, may_be_billed: bool) -> None:
        left = deadline_left()
        if left is not None and wait > left:
            raise ProviderError(
                "rate_limit",
                f"{self.label}: rate limited: waiting {wait:.3g} s for the rate limit "
                f"would pass the run's deadline ({max(0.0, left):.3g} s left); nothing more was sent",
                retry_after=wait,
                may_be_billed=may_be_billed,
            )

    async def _bounded_wait(self, future: asyncio.Future[None], what: str) -> None:
        left = deadline_left()
        if left is None:
            await future
            return
        try:
            async with asyncio.timeout(max(0.0, left)):
                await future
        except TimeoutError:
            raise ProviderError(
                "rate_limit",
                f"{self.label}: rate limited: still waiting for {what} at the run's deadline; nothing was sent",
            ) from None

    # observing --------------------------------------------------------------------------------
    def stats(self) -> LimiterStats:
        with self._lock:
            rate = str(self.spec.rate) if self.spec.rate else "none"
            return LimiterStats(
                self.provider,
                self.host,
                self.key_id,
                self._in_flight,
                None if self._bound == math.inf else self._cap(),  # type: ignore[arg-type]
                self.spec.concurrency,
                rate,
                self.spec.source,
                self._waiting_slot,
                self._waiting_rate,
                self._throttled,
                round(self._waited_s, 3),
                max(0.0, self._paused_until - self.clock()),
            )

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._waiting_slot + self._waiting_rate

    def idle(self) -> bool:
        """Nothing in flight, nobody waiting, no pause running: forgetting it loses only what it learned."""
        with self._lock:
            return not (self._in_flight or self._queue or self._waiting_rate) and self._paused_until <= self.clock()


# -- the registry ----------------------------------------------------------------------------

_SALT = secrets.token_bytes(16)  # per process: a key_id means nothing outside it


def key_id(api_key: str) -> str:
    return hmac.new(_SALT, api_key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:12]


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class LimiterRegistry:
    """The process's limiters by (provider, host, key_id). Overrides are read from
    PLAYGROUND_RATE_LIMITS (in `env`, default os.environ) when first needed and again whenever
    its text changes (which starts every key afresh). Past `max_keys` keys (a Space: every visitor's
    typed key), the idle limiters are forgotten."""

    env: Mapping[str, str] | None = None
    max_keys: int = 1024  # past this many keys, idle limiters are forgotten
    clock: Callable[[], float] = time.monotonic
    sleep: Sleep = asyncio.sleep
    _limiters: dict[tuple[str, str, str], Limiter] = field(default_factory=dict)
    _overrides: dict[str, Override] = field(default_factory=dict)
    _text: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, text: str) -> None:
        """Take PLAYGROUND_RATE_LIMITS from the Settings (Playground does at start-up) instead of
        os.environ: ConfigError naming the bad entry now, not at the first call. A changed text
        starts every key afresh (as `get` does for a changed environment)."""
        parse_rate_limits(text, _known_providers())
        self.env = {ENV_NAME: text}

    def get(self, provider: str, api_key: str, base_url: str = "", label: str = "") -> Limiter:
        """The limiter of this key at this base URL's host; ConfigError for a bad override."""
        text = (self.env if self.env is not None else os.environ).get(ENV_NAME, "")
        host = (urlsplit(base_url).hostname or "") if base_url else ""
        ident = (provider, host, key_id(api_key))
        with self._lock:
            if text != self._text:
                self._overrides = parse_rate_limits(text, _known_providers())
                self._text = text
                self._limiters.clear()
            limiter = self._limiters.get(ident)
            if limiter is None:
                if len(self._limiters) >= self.max_keys:
                    self._forget_idle()
                seed = _LOOPBACK if is_loopback(host) else SEEDS.get(provider, NO_LIMITS)
                override = self._overrides.get(provider) or self._overrides.get("*")
                documented = SEEDS.get(provider, NO_LIMITS)
                unit = documented.rate.unit if documented.rate else "requests"
                spec = override.apply(seed, unit) if override else seed
                limiter = self._limiters[ident] = Limiter(
                    spec, provider=provider, host=host, key_id=ident[2], label=label, clock=self.clock, sleep=self.sleep
                )
            return limiter

    def _forget_idle(self) -> None:
        """Drop the limiters nobody uses now (none in flight, waiting or paused), under the lock: on
        a Space every visitor's typed key makes one, and the registry must stay bounded."""
        for ident, limiter in list(self._limiters.items()):
            if limiter.idle():
                del self._limiters[ident]

    def stats(self) -> list[LimiterStats]:
        with self._lock:
            limiters = list(self._limiters.values())
        return [limiter.stats() for limiter in limiters]

    def waiting(self, provider: str | None = None) -> int:
        """Callers waiting on a rate limit now (for a slot, a pause or the window)."""
        with self._lock:
            limiters = [v for k, v in self._limiters.items() if provider is None or k[0] == provider]
        return sum(limiter.waiting for limiter in limiters)

    def clear(self) -> None:
        """Forget every key's limiter (tests; a new configuration)."""
        with self._lock:
            self._limiters.clear()
            self._text = None


def _known_providers() -> list[str]:
    from playground.providers import provider_names  # the registry imports this package's modules lazily

    return sorted(set(provider_names()) | set(SEEDS))


LIMITERS = LimiterRegistry()
