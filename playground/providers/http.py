"""Shared HTTP plumbing for the network providers: one retry policy, one error mapping,
one job poller, one server-sent-events parser.

Retry policy (the only one; every provider call goes through `send`)
--------------------------------------------------------------------
A generation may be billed as soon as the provider has *received* it, so:

    call                         retried on                              never retried on
    ---------------------------  --------------------------------------  ---------------------------
    POST create / generate       429 (the provider refused it, so it     5xx, read timeouts, resets
    (repeatable=False)           was not accepted); connection errors    after the request was sent:
                                 that happen before the request is       the job may exist and be
                                 sent (connect error/timeout, pool       billed. These raise with
                                 timeout)                                may_be_billed=True.
    GET poll / status / result   429, 500, 502, 503, 504, timeouts,      4xx other than 429
    PUT cancel (repeatable=True) resets, connection errors

At most `RetryPolicy.attempts` tries in all (3). Between tries we wait `Retry-After` when
the response carries one (seconds, or an HTTP date), else a capped exponential backoff
with jitter: base 0.5 s doubling to at most 8 s, times a random factor in [0.75, 1.25].
A Retry-After longer than `max_retry_after` (60 s) is not waited for: the error is raised
at once with `retry_after` set, so the caller (a batch) can decide. `sleep` is injectable
(`HttpProvider.sleep`), so tests assert the waits without waiting.

Rate limits: `HttpProvider.request` sends through the key's limiter (limiter.py): each try
waits for it (a slot, a pause, a create's place in the rate window), every answer's rate-limit
headers are reported to it, and a 429 is waited out (its Retry-After, or the backoff) as often
as it comes, not counted against the attempts: a refused create was not accepted, so it is
safe to repeat, and waiting is not an error. It ends only past `max_retry_after` for one wait,
`rate_limit_patience_s` (600 s) of 429 waits for one request, or the run's deadline
(`limiter.run_deadline`); then the 429 is the answer. `send` without a limiter (a storage
host's upload URL) keeps the attempts above.

Polling: `poll_job` notices a quick job quickly (0.5 s, then 1 s), then waits 9% of the time
the job has run so far (at most 10 s): a job of 10 s or more is noticed within 10% of its
length, at about one poll a second or fewer (see docs/benchmarks.md). It stops at an
overall deadline, asks the provider to cancel where the protocol allows it, and raises
ProviderError("timeout", may_be_billed=True).

Answer size: every answer is read streamed and bounded. A 2xx answer may have at most
`answer_limit(frames, frame cap)` bytes (each frame inline as base64 at the download cap,
PLAYGROUND_MAX_DOWNLOAD_MB, plus 1 MB), counted after decompression; past it the read stops
and the call fails with ProviderError("malformed") (may be billed: the provider answered). An
error answer is read up to 1 MB (its message is at the start), an event stream up to the same
bound as a whole. A frame that arrives inline is held to the download cap like a download
(core.sink.RunSink.store).

Error mapping: `http_error` turns a non-2xx response into ProviderError with a kind
(auth, rate_limit, content, invalid, quota, server, ...) and a message that names the
provider, the HTTP status and the provider's own code, passes the provider's text through
`errors.redact`, and for auth says "key rejected" and names the key's env variable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import codecs
import functools
import json
import math
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx

from playground.base.errors import ConfigError, ProviderError, redact
from playground.base.pricing import k_size_px, parse_wh  # size parsing lives in pricing, re-exported
from playground.base.types import ProviderCall
from playground.providers.base import Provider
from playground.providers.limiter import LIMITERS, Limiter, deadline_left, parse_retry_after

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

RETRYABLE_GET_STATUSES = frozenset({429, 500, 502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
DEFAULT_FRAME_BYTES = 40 * 1024 * 1024  # Settings.max_download_bytes' default (PLAYGROUND_MAX_DOWNLOAD_MB)
ANSWER_SLACK_BYTES = 1024 * 1024  # an answer's JSON around its frames: ids, usage, URLs
ERROR_BODY_BYTES = 1024 * 1024  # an error answer is read this far
_LINE_BREAK = re.compile("\r\n|\r|\n")


def answer_limit(frames: int, frame_bytes: int = DEFAULT_FRAME_BYTES) -> int:
    """The most bytes an answer for `frames` frames may have: each frame inline as base64 (4/3 of
    the per-frame cap) plus ANSWER_SLACK_BYTES."""
    return max(1, frames) * frame_bytes * 4 // 3 + ANSWER_SLACK_BYTES


def _too_large(resp: httpx.Response, limit: int, ctx: ErrorContext, may_be_billed: bool) -> ProviderError:
    return ctx.error(
        "malformed",
        f"the answer passed {limit} bytes (HTTP {resp.status_code}) and was not read "
        "further (bounded by PLAYGROUND_MAX_DOWNLOAD_MB per frame)",
        status=resp.status_code,
        may_be_billed=may_be_billed,
    )


async def read_body(resp: httpx.Response, limit: int, ctx: ErrorContext, *, may_be_billed: bool) -> bytes:
    """A streamed answer's whole body (decompressed), or ProviderError("malformed") once it passes
    `limit` bytes; afterwards .content, .text and .json() work as after aread()."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await resp.aclose()
        raise _too_large(resp, limit, ctx, may_be_billed)
    chunks, size = [], 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > limit:
            await resp.aclose()
            raise _too_large(resp, limit, ctx, may_be_billed)
        chunks.append(chunk)
    resp._content = b"".join(chunks)  # what Response.aread() stores
    return resp._content


async def read_head(resp: httpx.Response, limit: int = ERROR_BODY_BYTES) -> bytes:
    """The first `limit` bytes of a streamed answer (an error's message is at its start); the
    rest is never read. .content, .text and .json() then see those bytes."""
    chunks, size = [], 0
    async for chunk in resp.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    resp._content = b"".join(chunks)[:limit]
    await resp.aclose()
    return resp._content


async def bounded_lines(resp: httpx.Response, limit: int, ctx: ErrorContext) -> AsyncIterator[str]:
    """The lines of a streamed answer (CRLF, CR or LF), or ProviderError("malformed", may be billed)
    once the stream passes `limit` bytes: a line without end cannot grow without bound."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    held, size = "", 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _too_large(resp, limit, ctx, True)
        text = held + decoder.decode(chunk)
        cut = len(text) - 1 if text.endswith("\r") else len(text)  # a CR may be half of a CRLF
        *lines, rest = _LINE_BREAK.split(text[:cut])
        held = rest + text[cut:]
        for line in lines:
            yield line
    held += decoder.decode(b"", final=True)
    for line in _LINE_BREAK.split(held) if held else []:
        yield line


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # tries in all, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25  # +/- fraction of the delay
    max_retry_after: float = 60.0  # a longer Retry-After is raised, not waited for
    rate_limit_patience_s: float = 600.0  # with a limiter: the most one request waits on 429s in all

    def backoff(self, attempt: int) -> float:
        delay: float = min(self.max_delay, self.base_delay * (2**attempt))
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True)
class PollPolicy:
    first_interval: float = 0.5
    max_interval: float = 1.0  # the interval grows to this, then follows elapsed_fraction
    growth: float = 2.0
    elapsed_fraction: float = 0.09  # wait at most this share of the job's time so far
    ceiling: float = 10.0
    deadline_s: float = 300.0  # EvoLink suggests capping image tasks at about 5 minutes


# -- error mapping -------------------------------------------------------------------------

CONTENT_WORDS = (
    "sensitive",
    "content_policy",
    "content policy",
    "moderation",
    "safety",
    "nsfw",
    "content_filtered",
    "content filter",
    "inappropriate",
)
_QUOTA_WORDS = ("quota", "insufficient", "balance", "overdue", "billing", "payment", "credit")


def extract_error(body: Any, text: str = "") -> tuple[str, str]:
    """(code, message) from the error bodies our providers use:
    {"error": {"code", "message"}} (BytePlus, OpenAI, EvoLink), {"error": "..."},
    {"code": 400, "message": "..."} (WaveSpeed, AtlasCloud), {"detail": "..." | [...]} (fal),
    {"name": "...", "errors": [...]} (Stability); anything else: the first 300 characters."""
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            code = err.get("code") or err.get("type") or ""
            return str(code), str(err.get("message") or err.get("msg") or json.dumps(err)[:300])
        if isinstance(err, str) and err:
            return str(body.get("code") or ""), err
        if "errors" in body and isinstance(body["errors"], list):
            return str(body.get("name") or ""), "; ".join(map(str, body["errors"]))[:500]
        detail = body.get("detail")
        if isinstance(detail, str):
            return "", detail
        if isinstance(detail, list):
            parts = [
                f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg', '')}" if isinstance(d, Mapping) else str(d)
                for d in detail
            ]
            return "", "; ".join(parts)[:500]
        if body.get("message"):
            code = body.get("code")
            return ("" if code in (None, 200) else str(code)), str(body["message"])
    return "", text.strip()[:300]


def classify(status: int, code: str, message: str) -> str:
    """The default kind for an HTTP error; providers refine it with their own codes."""
    hay = f"{code} {message}".lower()
    if status == 401:
        return "auth"
    if status == 429:
        return "quota" if any(w in hay for w in ("quota", "insufficient", "balance")) else "rate_limit"
    if status == 402:
        return "quota"
    if 400 <= status < 500 and any(w in hay for w in CONTENT_WORDS):
        return "content"
    if status == 403:
        return "quota" if any(w in hay for w in _QUOTA_WORDS) else "auth"
    if status == 408:
        return "timeout"
    if 400 <= status < 500:
        return "quota" if any(w in hay for w in ("quota", "balance", "overdue")) else "invalid"
    return "server"


_KIND_TEXT = {
    "auth": "key rejected",
    "rate_limit": "rate limited",
    "content": "refused for content",
    "invalid": "request rejected as invalid",
    "quota": "out of quota or credit",
    "timeout": "timed out",
    "server": "server error",
}


@dataclass(frozen=True)
class ErrorContext:
    label: str
    key_env: str | None
    secrets: tuple[str, ...] = ()

    def clean(self, text: str) -> str:
        """Provider (or transport) text: through errors.redact before it enters a message."""
        return redact(str(text), self.secrets)

    def error(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        may_be_billed: bool = False,
        retry_after: float | None = None,
    ) -> ProviderError:
        """`detail` is our own wording plus provider text already passed through `clean`, so the
        whole message is not redacted a second time."""
        return ProviderError(
            kind, f"{self.label}: {detail}", status=status, may_be_billed=may_be_billed, retry_after=retry_after
        )


def http_error(
    resp: httpx.Response,
    ctx: ErrorContext,
    *,
    may_be_billed: bool = False,
    refine: Callable[[int, str, str], str | None] | None = None,
) -> ProviderError:
    """Map a non-2xx response to ProviderError (the body must have been read)."""
    try:
        body: Any = resp.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    code, message = extract_error(body, resp.text if body is None else "")
    status = resp.status_code
    where = f"HTTP {status}" + (f", {ctx.clean(code)}" if code and code != str(status) else "")
    return coded_error(
        ctx,
        status,
        code,
        message,
        where=where,
        may_be_billed=may_be_billed,
        refine=refine,
        retry_after=parse_retry_after(resp.headers.get("retry-after")),
    )


def body_error(
    body: Any, ctx: ErrorContext, *, may_be_billed: bool, refine: Callable[[int, str, str], str | None] | None = None
) -> ProviderError | None:
    """An error inside an HTTP 200 answer: WaveSpeed/AtlasCloud may say {"code": 400|500...,
    "message": "...", "data": null} with status 200 [doc: their envelope repeats the status in
    `code`]. None when `body` is not such an error (code 2xx, or data present). A 5xx code is
    marked may-be-billed like an HTTP 5xx."""
    if not isinstance(body, Mapping) or "code" not in body or body.get("data") is not None:
        return None
    code = body.get("code")
    try:
        status = int(code)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        status = 0
    if code in (None, "", 0, "0") or 200 <= status < 300:
        return None
    message = str(body.get("message") or body.get("msg") or "no message")
    # a numeric code is read as the HTTP status it stands for; any other code as a server error
    status = status if 400 <= status < 600 else 500
    return coded_error(
        ctx,
        status,
        str(code),
        message,
        where=f"HTTP 200 with error code {ctx.clean(str(code))}",
        may_be_billed=may_be_billed or status >= 500,
        refine=refine,
    )


def coded_error(
    ctx: ErrorContext,
    status: int,
    code: str,
    message: str,
    *,
    where: str,
    may_be_billed: bool,
    refine: Callable[[int, str, str], str | None] | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """ProviderError from a provider's status, code and message: kind classified (the provider's
    `refine` first), provider text redacted, auth errors naming the key's variable."""
    code, message = ctx.clean(code), ctx.clean(message)
    kind = (refine(status, code, message) if refine else None) or classify(status, code, message)
    what = _KIND_TEXT.get(kind, kind)
    if kind == "auth":
        detail = f"{what} ({where}): check {ctx.key_env or 'the key'}"
        detail += f" (and that it may use this model/region). Provider said: {message}" if message else ""
    else:
        detail = f"{what} ({where})"
        if kind == "rate_limit" and retry_after is not None:
            detail += f", retry after {retry_after:g} s"
        detail += f": {message}" if message else ""
    return ctx.error(kind, detail, status=status, may_be_billed=may_be_billed, retry_after=retry_after)


# -- sending -------------------------------------------------------------------------------


async def send(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    repeatable: bool,
    ctx: ErrorContext,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Sleep = asyncio.sleep,
    stream: bool = False,
    max_bytes: int = answer_limit(1),
    may_be_billed: bool | None = None,
    limiter: Limiter | None = None,
    weight: float = 0.0,
) -> httpx.Response:
    """Send with the retry policy above. Returns the final response whatever its status: a 2xx
    read whole up to `max_bytes` unless `stream` (past it: ProviderError, may be billed unless
    `may_be_billed` says otherwise, by default when not `repeatable`), an error's first
    ERROR_BODY_BYTES read in either case. With a `limiter` (the key's, see limiter.py) each try
    waits for it first (a create counting `weight` in its window) and a 429 is its business: waited
    out as often as needed, not counted against `policy.attempts`."""
    failures = 0  # tries lost to anything but a 429 the limiter waits out
    throttles, rate_waited, honoured = 0, 0.0, -math.inf
    while True:
        last = failures + 1 >= policy.attempts
        if limiter is not None:
            await limiter.admit(weight, sleep=sleep, honoured=honoured)
        try:
            resp = await client.send(request, stream=True)
        except _NOT_SENT as exc:  # nothing reached the provider: always safe to try again
            if not last:
                await sleep(policy.backoff(failures))
                failures += 1
                continue
            raise ctx.error(
                "network", f"could not connect ({type(exc).__name__}: {ctx.clean(str(exc))}); nothing was sent"
            ) from None
        except httpx.TimeoutException as exc:
            if repeatable and not last:
                await sleep(policy.backoff(failures))
                failures += 1
                continue
            note = "" if repeatable else "; the call may still run and be billed"
            raise ctx.error(
                "timeout", f"no answer in time ({type(exc).__name__}){note}", may_be_billed=not repeatable
            ) from None
        except httpx.TransportError as exc:  # reset / protocol error after the request went out
            if repeatable and not last:
                await sleep(policy.backoff(failures))
                failures += 1
                continue
            note = "" if repeatable else "; the call may have been received and billed"
            raise ctx.error(
                "network",
                f"connection failed ({type(exc).__name__}: {ctx.clean(str(exc))}){note}",
                may_be_billed=not repeatable,
            ) from None
        status = resp.status_code
        if limiter is not None:
            limiter.observe(status, resp.headers, max_wait=policy.max_retry_after)
        if status == 429 and limiter is not None:
            if not await _out_of_quota(resp):
                wait, honoured = limiter.throttled(
                    resp.headers,
                    resp.content,
                    create=not repeatable,
                    fallback=policy.backoff(throttles),
                    max_wait=policy.max_retry_after,
                )
                if _may_wait(wait, rate_waited, policy):
                    throttles, rate_waited = throttles + 1, rate_waited + wait
                    await limiter.wait_out(wait, create=not repeatable, sleep=sleep)
                    continue
        elif status == 429 or (repeatable and status in RETRYABLE_GET_STATUSES):
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            if (
                not last
                and (retry_after is None or retry_after <= policy.max_retry_after)
                and not await _out_of_quota(resp)
            ):
                await resp.aclose()
                await sleep(retry_after if retry_after is not None else policy.backoff(failures))
                failures += 1
                continue
        if status >= 400:
            await read_head(resp)
        elif not stream:
            billed = not repeatable if may_be_billed is None else may_be_billed
            await read_body(resp, max_bytes, ctx, may_be_billed=billed)
        return resp


def _may_wait(wait: float, waited: float, policy: RetryPolicy) -> bool:
    """Whether a 429's wait is waited out: not past max_retry_after, the policy's patience for one
    request, or the run's deadline (limiter.run_deadline); else the 429 is the answer."""
    left = deadline_left()
    return (
        wait <= policy.max_retry_after
        and waited + wait <= policy.rate_limit_patience_s
        and (left is None or wait < left)
    )


async def _out_of_quota(resp: httpx.Response) -> bool:
    """A 429 that means 'out of quota or credit' (OpenAI's insufficient_quota): waiting won't help."""
    if resp.status_code != 429:
        return False
    body = (await read_head(resp)).decode("utf-8", "replace").lower()
    return any(word in body for word in ("insufficient_quota", "quota exceeded", "insufficient balance"))


def json_body(resp: httpx.Response, ctx: ErrorContext, *, may_be_billed: bool) -> Any:
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError):
        snippet = ctx.clean(resp.text[:120])
        raise ctx.error(
            "malformed",
            f"unreadable JSON in the answer (HTTP {resp.status_code}): {snippet!r}",
            status=resp.status_code,
            may_be_billed=may_be_billed,
        ) from None


# -- polling -------------------------------------------------------------------------------


async def poll_job(
    fetch: Callable[[], Awaitable[T]],
    is_done: Callable[[T], bool],
    *,
    policy: PollPolicy = PollPolicy(),
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    cancel: Callable[[], Awaitable[Any]] | None = None,
    ctx: ErrorContext | None = None,
    job: str = "",
) -> T:
    """Call `fetch` until `is_done(state)`; return that state. `fetch` raises for a failed job.
    At the deadline: `cancel()` (errors ignored), then ProviderError("timeout"). If the caller
    is cancelled (the user stopped the run) the job is cancelled too, then the cancel propagates."""
    ctx = ctx or ErrorContext("provider", None)
    start = clock()
    interval = policy.first_interval
    try:
        while True:
            state = await fetch()
            if is_done(state):
                return state
            remaining = policy.deadline_s - (clock() - start)
            if remaining <= 0:
                break
            await sleep(min(interval, remaining))
            grown = max(min(policy.max_interval, interval * policy.growth), policy.elapsed_fraction * (clock() - start))
            interval = min(policy.ceiling, grown)
    except asyncio.CancelledError:
        if cancel is not None:
            try:
                await asyncio.wait_for(asyncio.shield(cancel()), timeout=5)
            except Exception:  # best effort: we are already stopping
                pass
        raise
    cancelled = False
    if cancel is not None:
        try:
            await cancel()
            cancelled = True
        except Exception:
            cancelled = False
    tail = (
        "cancel requested"
        if cancelled
        else "could not cancel it"
        if cancel is not None
        else "the protocol has no cancel, so it may still finish and be billed"
    )
    raise ctx.error("timeout", f"job {job} did not finish within {policy.deadline_s:g} s; {tail}", may_be_billed=True)


# -- server-sent events --------------------------------------------------------------------


@dataclass
class SSEEvent:
    event: str
    data: str
    id: str | None = None


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Parse text/event-stream lines (W3C rules: `event:`, `data:` joined by newlines, `id:`,
    comments starting with ':', a blank line dispatches)."""
    event, ident = "", None
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSEEvent(event or "message", "\n".join(data), ident)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            ident = value
    if data:
        yield SSEEvent(event or "message", "\n".join(data), ident)


# -- helpers for provider modules ----------------------------------------------------------


def scrub(value: Any) -> Any:
    """A request body fit for the run log: data URLs / base64 blobs replaced by a short note."""
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and ";base64," in value:
        head = value.split(",", 1)[0]
        return f"<{head},... {len(value)} chars>"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def asterisk_size(size: str) -> str:
    """WaveSpeed/AtlasCloud sizes are "W*H" [doc]; "2K" becomes "2048*2048" [guess]."""
    wh = parse_wh(size)
    if wh:
        return f"{wh[0]}*{wh[1]}"
    k = k_size_px(size)
    if k:
        return f"{k}*{k}"
    return size


class HttpProvider(Provider):
    """Base of the network providers: auth header, the retry policy, the poller, error mapping,
    the key's rate limiter. Tests replace `sleep` / `clock` on an instance, and `retry_policy` /
    `poll_policy`.

    Every subclass's `generate` holds one of the key's concurrency slots (limiter.py) from its
    first request to its end, polls included: wrapped here, once per class that defines it."""

    retry_policy: ClassVar[RetryPolicy] = RetryPolicy()
    poll_policy: ClassVar[PollPolicy] = PollPolicy()
    auth_scheme: ClassVar[str] = "Bearer"
    # The longest silence a request of this provider may legitimately keep (one JSON answer that
    # comes only when every frame is drawn): the client's read timeout is raised to it. None:
    # the client's timeout as it is.
    read_timeout_s: float | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        generate = cls.__dict__.get("generate")
        if generate is not None:
            cls.generate = _holding_a_slot(generate)  # type: ignore[method-assign,assignment]

    def __init__(self, base_url: str = "") -> None:
        super().__init__(base_url)
        self.sleep: Sleep = asyncio.sleep
        self.clock: Callable[[], float] = time.monotonic
        self.max_frame_bytes = DEFAULT_FRAME_BYTES  # the core sets Settings.max_download_bytes

    def answer_limit(self, call: ProviderCall) -> int:
        """The most bytes an answer to `call` may have (see the module docstring)."""
        return answer_limit(call.frames, self.max_frame_bytes)

    # error context, headers
    def ctx(self, call: ProviderCall) -> ErrorContext:
        return ErrorContext(self.label, self.key_env, tuple(s for s in (call.api_key,) if s))

    def headers(self, call: ProviderCall, **extra: str) -> dict[str, str]:
        if not call.api_key:
            raise ProviderError("auth", f"{self.label}: no key: set {self.key_env}")
        return {"Authorization": f"{self.auth_scheme} {call.api_key}", **extra}

    def refine(self, status: int, code: str, message: str) -> str | None:
        """Provider-specific error kinds (override); None = the default classification."""
        return None

    def error(self, resp: httpx.Response, call: ProviderCall, *, may_be_billed: bool = False) -> ProviderError:
        return http_error(resp, self.ctx(call), may_be_billed=may_be_billed, refine=self.refine)

    async def request(
        self,
        client: httpx.AsyncClient,
        method: str,
        url: str,
        call: ProviderCall,
        *,
        repeatable: bool,
        stream: bool = False,
        job_exists: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with the retry policy; a 3xx is raised here (redirects are never followed: the key
        would go along), so no caller mistakes a redirect page for an answer. `job_exists`: a
        failure may be billed (a poll of a job already created)."""
        headers = {**self.headers(call), **kwargs.pop("headers", {})}
        if self.read_timeout_s is not None and "timeout" not in kwargs:
            kwargs["timeout"] = longer_read(client.timeout, self.read_timeout_s)
        req = client.build_request(method, url, headers=headers, **kwargs)
        limiter = self.limiter(call)
        # only a create counts in the key's rate window: polls, uploads and cancels do not (limiter.py)
        weight = limiter.weight(call.frames) if not repeatable and not job_exists else 0.0
        async with limiter.slot():  # the slot generate holds, or one for this request alone
            resp = await send(
                client,
                req,
                repeatable=repeatable,
                ctx=self.ctx(call),
                policy=self.retry_policy,
                sleep=self.sleep,
                stream=stream,
                max_bytes=self.answer_limit(call),
                may_be_billed=job_exists or not repeatable,
                limiter=limiter,
                weight=weight,
            )
        if 300 <= resp.status_code < 400:
            await resp.aclose()
            raise self.redirect_error(resp, call, may_be_billed=job_exists)
        return resp

    def limiter(self, call: ProviderCall) -> Limiter:
        """The process's limiter for this provider, host and key (PLAYGROUND_RATE_LIMITS applied)."""
        try:
            return LIMITERS.get(self.name, call.api_key, self.base_url, label=self.label)
        except ConfigError as exc:
            raise ProviderError("invalid", f"{self.label}: {exc}; nothing was sent") from None

    def redirect_error(self, resp: httpx.Response, call: ProviderCall, *, may_be_billed: bool) -> ProviderError:
        ctx = self.ctx(call)
        location = resp.headers.get("location", "")
        to = f" to {ctx.clean(location)[:200]}" if location else ""
        where = f"check {self.base_url_env} ({ctx.clean(self.base_url)})" if self.base_url_env else "check the base URL"
        # a redirect answers instead of the API: this request was not processed (a job created
        # earlier may still run, hence may_be_billed from the caller)
        return ctx.error(
            "invalid",
            f"unexpected redirect (HTTP {resp.status_code}{to}), not followed: {where}",
            status=resp.status_code,
            may_be_billed=may_be_billed,
        )

    async def create(
        self, client: httpx.AsyncClient, url: str, call: ProviderCall, body: Any
    ) -> tuple[Any, httpx.Response]:
        """POST a job / generation (never re-sent once received); JSON answer or ProviderError."""
        resp = await self.request(client, "POST", url, call, repeatable=False, json=body)
        if resp.status_code >= 400:
            raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
        return json_body(resp, self.ctx(call), may_be_billed=True), resp

    async def fetch(self, client: httpx.AsyncClient, url: str, call: ProviderCall) -> Any:
        """GET a status/result (retried); JSON answer or ProviderError (the job may exist: billed?)."""
        resp = await self.request(client, "GET", url, call, repeatable=True, job_exists=True)
        if resp.status_code >= 400:
            raise self.error(resp, call, may_be_billed=True)
        return json_body(resp, self.ctx(call), may_be_billed=True)

    async def poll(
        self,
        fetch: Callable[[], Awaitable[T]],
        is_done: Callable[[T], bool],
        call: ProviderCall,
        *,
        cancel: Callable[[], Awaitable[Any]] | None = None,
        job: str = "",
    ) -> T:
        return await poll_job(
            fetch,
            is_done,
            policy=self.poll_policy,
            sleep=self.sleep,
            clock=self.clock,
            cancel=cancel,
            ctx=self.ctx(call),
            job=job,
        )


def _holding_a_slot(generate: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(generate)
    async def holding(self: HttpProvider, call: ProviderCall, client: httpx.AsyncClient, sink: Any) -> T:
        async with self.limiter(call).slot():  # re-entrant: a subclass calling super().generate holds one
            return await generate(self, call, client, sink)

    return holding


def longer_read(timeout: httpx.Timeout, read_s: float) -> httpx.Timeout:
    """`timeout` with its read limit raised to at least `read_s` (an unlimited read stays so)."""
    read = None if timeout.read is None else max(timeout.read, read_s)
    return httpx.Timeout(connect=timeout.connect, read=read, write=timeout.write, pool=timeout.pool)


def item_reason(error: Any) -> str:
    """A failed item's or event's `error` ({"code", "message"} or text) as one line."""
    if isinstance(error, Mapping):
        code, message = error.get("code", ""), error.get("message", "")
        return f"{code}: {message}".strip(": ") or "failed"
    return str(error or "failed")


async def deliver_item(index: int, item: Mapping[str, Any], sink: Any, ctx: ErrorContext) -> bool:
    """One answer item as a frame: {"url"} -> a URL the core downloads, {"b64_json"} -> bytes,
    anything else (an {"error"} item, an unreadable base64) -> that frame failed. True for a frame.
    The shape BytePlus answers [doc] and the seed guide's EvoLink sample reads."""
    url = item.get("url")
    if isinstance(url, str) and url:
        await sink.url(index, url)
        return True
    b64 = item.get("b64_json")
    if isinstance(b64, str) and b64:
        data = decode_base64(b64)
        if data is None:
            await sink.failed(index, "provider sent an unreadable base64 image")
            return False
        await sink.image(index, data)
        return True
    await sink.failed(index, ctx.clean(item_reason(item.get("error"))))
    return False


def decode_base64(text: str) -> bytes | None:
    """Naked base64 or a data: URL's payload; None when unreadable."""
    if text.startswith("data:"):
        text = text.partition(",")[2]
    try:
        return base64.b64decode(text, validate=True) or None
    except (binascii.Error, ValueError):
        return None


def first(mapping: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in mapping and mapping[key] not in (None, ""):
            return mapping[key]
    return default


def envelope(body: Any) -> Mapping[str, Any]:
    """WaveSpeed/AtlasCloud wrap the prediction in {"code", "message", "data": {...}}; newer pages
    show it bare. Accept both [doc]."""
    if isinstance(body, Mapping):
        inner = body.get("data")
        if isinstance(inner, Mapping) and ("status" in inner or "id" in inner):
            return inner
        return body
    return {}


def texts(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v]
