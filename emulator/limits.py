"""Rate limits the emulator enforces per provider key (`Emulator(limits=...)`, `python -m
playground emulator --limits ...`), so the playground's limiter is tested over HTTP against a
server that refuses as the providers do.

Limits are written as PLAYGROUND_RATE_LIMITS is (`byteplus=60/min:5,*=60/min:5`: N creates per
period, `:C` generations in progress at once), per provider or `*` for every provider not named.
A key is the request's credential (Authorization, x-goog-api-key or ?key=), so two keys of one
provider have their own limits, as on the real services.

- **Requests per period**: a sliding window over the creates of the key; the one past it is
  refused with the provider's 429.
- **Concurrent**: a create is admitted while fewer than C of the key's generations are in
  progress: from its admission until the job's end (its latency; a cancelled job ends at once),
  so a sync call holds its place for its whole answer and an async job until it is done, polls
  or not. fal does not refuse past its concurrency: the job waits IN_QUEUE until a place frees
  [doc https://docs.fal.ai/documentation/model-apis/concurrency-limits].

What a refusal carries, per the research notes (issue 16) and each provider's error body:
`Retry-After` in whole seconds (rounded up: when the window frees or the first generation in
progress ends) everywhere but AtlasCloud (its media endpoints send none [doc
https://atlascloud.ai/docs/en/errors]) and Gemini (a `RetryInfo.retryDelay` in the body
instead); OpenAI's answers all carry `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`
and `x-ratelimit-reset-requests` [3p https://github.com/api-evangelist/openai].
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from emulator.faults import Fault
from emulator.wire import Job
from playground.providers.limiter import NO_LIMITS, LimitSpec, parse_rate_limits

RATE_HEADERS = frozenset({"openai"})  # x-ratelimit-* on every answer
QUEUES = frozenset({"fal"})  # past its concurrency a job queues, never refused


def parse_limits(limits: str | Mapping[str, str] | None, known: list[str]) -> dict[str, LimitSpec]:
    """{provider or "*": LimitSpec} from `byteplus=60/min:5,*=:2` or {"byteplus": "60/min:5"}."""
    if not limits:
        return {}
    text = limits if isinstance(limits, str) else ",".join(f"{k}={v}" for k, v in limits.items())
    return {name: override.apply(NO_LIMITS) for name, override in parse_rate_limits(text, known).items()}


@dataclass
class Slot:
    """A place among the key's generations in progress, from admission to the job's end."""

    job: Job | None = None  # None: admitted, its job not made yet (or the request failed first)
    start: float = 0.0  # when a queued (fal) job may start
    expected: float = 0.0  # its end as foreseen at admission (the emulator's latency), until its job says

    def active(self, now: float, stuck_s: float) -> bool:
        if self.job is None:
            return True
        if self.job.cancelled:
            return False
        stuck = self.job.fault is not None and self.job.fault.name == "stuck"
        return now < self.job.created + self.job.latency + (stuck_s if stuck else 0.0)

    def end(self) -> float:
        return self.expected if self.job is None else self.job.created + self.job.latency


@dataclass
class KeyState:
    sent: deque[float] = field(default_factory=deque)  # admitted creates in the window
    slots: list[Slot] = field(default_factory=list)
    refused: int = 0
    peak: int = 0  # most generations in progress at once


class Limits:
    """Every key's window and generations in progress; the emulator calls `admit` under its lock."""

    def __init__(self, specs: dict[str, LimitSpec], stuck_s: float) -> None:
        self.specs, self.stuck_s = specs, stuck_s
        self.keys: dict[tuple[str, str], KeyState] = {}

    def spec(self, provider: str) -> LimitSpec | None:
        return self.specs.get(provider) or self.specs.get("*")

    def admit(
        self, provider: str, key: str, latency: float, now: float | None = None
    ) -> tuple[Fault | None, Slot | None, dict[str, str]]:
        """(a 429 fault to answer, or None; the slot taken; headers for every answer of the key)."""
        spec = self.spec(provider)
        if spec is None:
            return None, None, {}
        now = time.monotonic() if now is None else now
        state = self.keys.setdefault((provider, key), KeyState())
        rate = spec.rate
        while rate and state.sent and state.sent[0] <= now - rate.period_s:
            state.sent.popleft()
        state.slots = [s for s in state.slots if s.active(now, self.stuck_s)]
        wait = None
        if rate and len(state.sent) >= rate.count:
            wait = state.sent[0] + rate.period_s - now
        busy = spec.concurrency is not None and len(state.slots) >= spec.concurrency
        start = now
        if busy and provider in QUEUES and wait is None:  # fal: queued until the earliest place frees
            ends = sorted(s.end() for s in state.slots)
            start = max(now, ends[len(state.slots) - spec.concurrency])
        elif busy:
            wait = max(wait or 0.0, min(s.end() for s in state.slots) - now)
        if wait is not None:
            state.refused += 1
            why = (
                "too many concurrent generations in progress"
                if busy
                else f"too many requests per {rate.period_s:g} s"
                if rate
                else ""
            )
            return self._refusal(provider, wait, why, self._headers(provider, spec, state, now)), None, {}
        if rate:
            state.sent.append(now)
        slot = Slot(start=start, expected=start + latency)
        state.slots.append(slot)
        state.peak = max(state.peak, sum(1 for s in state.slots if s.start <= now))
        return None, slot, self._headers(provider, spec, state, now)

    @staticmethod
    def _refusal(provider: str, wait: float, why: str, headers: dict[str, str]) -> Fault:
        """The provider's 429 (answered by its route as any rate_limit fault): `retry_after` becomes
        the Retry-After header, or Gemini's retryDelay; AtlasCloud sends none."""
        seconds = max(1, math.ceil(wait - 1e-6))  # whole seconds, rounded up: never too early
        retry_after = None if provider == "atlascloud" else seconds
        return Fault(
            "rate_limit",
            provider,
            1,
            "create",
            {"retry_after": retry_after, "headers": headers, "message": f"{why} for this key"},
        )

    @staticmethod
    def _headers(provider: str, spec: LimitSpec, state: KeyState, now: float) -> dict[str, str]:
        if provider not in RATE_HEADERS or spec.rate is None:
            return {}
        reset = state.sent[0] + spec.rate.period_s - now if state.sent else 0.0
        return {
            "x-ratelimit-limit-requests": f"{spec.rate.count:g}",
            "x-ratelimit-remaining-requests": str(max(0, int(spec.rate.count) - len(state.sent))),
            "x-ratelimit-reset-requests": f"{max(1, math.ceil(reset * 1000))}ms",
        }

    def stats(self) -> dict[str, dict[str, int]]:
        """Per provider: 429s sent and the most generations of one key in progress at once."""
        out: dict[str, dict[str, int]] = {}
        for (provider, _), state in self.keys.items():
            entry = out.setdefault(provider, {"refused": 0, "peak": 0})
            entry["refused"] += state.refused
            entry["peak"] = max(entry["peak"], state.peak)
        return out
