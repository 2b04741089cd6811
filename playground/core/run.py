"""Sending a planned run: its calls (at most the provider's concurrency at a time, all within the
run's deadline), frames to disk as they arrive (core.sink), then one row: timing, billing
(core.billing), status, metrics, appended to the log even when the run is cancelled or the
machine fails under it. A provider's failure ends as the row's error, never an exception.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx

from playground.base.errors import InputError, ProviderError, redact
from playground.base.types import GenerationRequest, ProviderCall, RunRecord, RunResult
from playground.core.billing import bill, note_finish_failure, status_of
from playground.core.calls import CallState
from playground.core.plan import Estimate
from playground.core.references import frame_reference
from playground.core.scoring import score_into
from playground.core.sink import ProgressCallback, RunSink
from playground.providers.base import Provider
from playground.providers.limiter import run_deadline

if TYPE_CHECKING:
    from playground.core.playground import Playground

# Per-request HTTP limits: `connect` bounds reaching the provider, `read` one silent gap in an
# answer or a stream. The whole run is bounded by Settings.run_deadline_s on top of these.
HTTP_TIMEOUT = httpx.Timeout(connect=10.0, read=180.0, write=60.0, pool=60.0)


def rate_limit_deadline(deadline: float) -> float:
    """The limiter's deadline inside a run of `deadline` seconds: a little earlier, so that a wait on
    a rate limit that cannot end in time ends as "rate limited, nothing sent" before the run's own
    timeout stops the calls (which may have been billed), never at the same instant."""
    return max(0.0, deadline - min(1.0, deadline / 20))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for every run: loading the CA bundle takes ~35 ms, which each
    new AsyncClient would otherwise spend on the event loop."""
    return ssl.create_default_context()


async def stopped_by(work: asyncio.Future[Any], cancel: asyncio.Event | None) -> bool:
    """Await `work` unless the cancel token is set first: True when the token stopped it (`work`
    is then cancelled and awaited, so its own clean-up has run). A cancel of the caller's task
    cancels `work` too, and is raised."""
    if cancel is None:
        await work
        return False
    waiter = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait([work, waiter], return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        raise
    finally:
        waiter.cancel()
    if work.done():  # finished first (or together): the run was not stopped
        work.result()
        return False
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return True


class Execution:
    """One run on its way: sends the calls, then fills and appends its row (Playground.run)."""

    def __init__(
        self,
        playground: Playground,
        provider: Provider,
        calls: list[ProviderCall],
        estimate: Estimate,
        record: RunRecord,
    ) -> None:
        self.playground, self.provider, self.estimate, self.record = playground, provider, estimate, record
        self.state = CallState(calls, started=time.perf_counter())
        self.ended = [asyncio.Event() for _ in calls]  # call i has ended (a chained call waits on its source)
        self.not_sent: dict[int, int] = {}  # chained call -> the frame (run index) whose loss stopped it
        self.chained: dict[int, int] | None = None  # chain mode: {frame number: its reference's frame number}

    async def execute(
        self, request: GenerationRequest, on_progress: ProgressCallback | None, cancel: asyncio.Event | None = None
    ) -> RunResult:
        """Send, then write the row. Stopped by the cancel token, the run keeps the frames that
        arrived, is logged as cancelled and returned (its cost: what may have been billed)."""
        record, state = self.record, self.state
        run_dir = self.playground.log.run_dir(record.run_id)
        record.image_dir = str(run_dir)
        record.composed_prompts = [c.prompt for c in state.calls]
        self.chained = {} if request.mode == "chain" else None
        sink = RunSink(
            run_dir,
            self.playground.settings.max_download_bytes,
            request.frames,
            state.started,
            on_progress,
            request.beats,
        )
        try:
            if await stopped_by(asyncio.ensure_future(self.send(sink)), cancel):
                record.status, record.error = "cancelled", "cancelled by the user"
        except asyncio.CancelledError:
            record.status, record.error = "cancelled", "cancelled by the user"
            await self.finish(sink)
            raise
        except Exception as exc:  # a bug of ours or the machine's (a full disk, ...): the row still says why
            state.internal_error = self.redact(f"internal error: {type(exc).__name__}: {exc}", state.calls)
        await self.finish(sink)
        return result(record, sink)

    async def send(self, sink: RunSink) -> None:
        """Make the run's calls (at most provider.max_concurrency at a time, all within the run's
        deadline) and wait for the frames they handed over as URLs."""
        deadline = self.playground.settings.run_deadline_s
        sink.run_dir.mkdir(parents=True, exist_ok=True)
        async with httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, verify=tls_context(), limits=httpx.Limits(max_connections=32), follow_redirects=False
        ) as client:
            sink.client = client
            gate = asyncio.Semaphore(self.provider.max_concurrency)
            try:
                with run_deadline(rate_limit_deadline(deadline)):  # contextvar: the calls' tasks inherit it
                    async with asyncio.timeout(deadline):
                        await asyncio.gather(*(self.call(i, client, sink, gate) for i in range(len(self.state.calls))))
                        await asyncio.gather(*sink.downloads)
            except TimeoutError:
                self.state.deadline_note = (
                    f"the run passed its {deadline:g} s deadline (PLAYGROUND_RUN_DEADLINE_S); "
                    "calls still in flight were stopped and may be billed"
                )
            finally:  # nothing may land in run_dir after the row is written
                await asyncio.shield(sink.stop_downloads())

    async def call(self, i: int, client: httpx.AsyncClient, sink: RunSink, gate: asyncio.Semaphore) -> None:
        """One provider call (a chained one once its reference frame is back); its failure
        becomes the reason of each of its frames, never an exception."""
        try:
            if self.state.calls[i].chain_from is not None and not await self.add_chained_reference(i, sink):
                return
            await self.send_call(i, client, sink, gate)
        finally:
            self.ended[i].set()

    async def add_chained_reference(self, i: int, sink: RunSink) -> bool:
        """Wait for the frame call i chains from, and put it first among the call's references;
        False (the call is not sent, its frame says why) when that frame did not come back."""
        call = self.state.calls[i]
        source = call.chain_from
        assert source is not None
        await self.ended[source].wait()
        frame = await sink.landed(source)
        why = f"frame {source + 1} did not come back"
        if frame is not None:
            try:
                reference = await asyncio.to_thread(frame_reference, frame.path)
            except (InputError, OSError) as exc:
                frame, why = None, f"frame {source + 1} cannot be a reference ({exc})"
        if frame is None:
            root = self.not_sent.get(source, source)  # the frame whose loss stopped the chain
            self.not_sent[i] = root
            sink.call_failed(call, f"not sent: {why}, and chain mode takes it as this frame's reference")
            self.state.failures.append(
                f"chain mode: frame {root + 1} did not come back, so the frames chained from it were not sent"
            )
            return False
        self.state.calls[i] = replace(call, references=(reference, *call.references), chain_from=None)
        if self.chained is not None:
            self.chained[call.first_frame + 1] = source + 1
        return True

    async def send_call(self, i: int, client: httpx.AsyncClient, sink: RunSink, gate: asyncio.Semaphore) -> None:
        state, provider = self.state, self.provider
        call = state.calls[i]
        async with gate:
            state.in_flight.add(i)  # stays there if the deadline or a cancel stops the call
            try:
                state.outcomes[i] = await provider.generate(call, client, sink.for_call(call))
            except ProviderError as exc:
                message = self.redact(str(exc), [call])
                state.failures.append(message + (" (the call may have been billed)" if exc.may_be_billed else ""))
                sink.call_failed(call, message)
                if exc.may_be_billed:
                    state.said_maybe_billed.add(i)
            except Exception as exc:  # an adapter bug (or an answer it could not read) ends as a logged row
                message = self.redact(f"{provider.name}: unexpected {type(exc).__name__}: {exc}", [call])
                state.failures.append(message + " (the call may have been billed)")
                sink.call_failed(call, message)
                state.said_maybe_billed.add(i)  # it may have failed after the provider took the call
            state.in_flight.discard(i)

    def redact(self, text: str, calls: list[ProviderCall]) -> str:
        return redact(text, self.playground.secrets() + [c.api_key for c in calls])

    async def finish(self, sink: RunSink) -> None:
        """write_row in a task that no further cancel can stop: the UI cancels a run and may cancel
        again while it is being scored, and a row lost there would break one-row-per-run. A cancel
        that arrives meanwhile is raised once the row is appended."""
        writing = asyncio.ensure_future(self.write_row(sink))
        cancelled = False
        while not writing.done():
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                cancelled = True
        writing.result()  # the log itself could not be written: that is raised
        if cancelled:
            raise asyncio.CancelledError

    async def write_row(self, sink: RunSink) -> None:
        """Fill timing, billing, status and metrics into the record and append it to the log. A bug
        met while filling it (an adapter's billing rule, say) is written into the row, never loses it."""
        try:
            self.fill(sink)
            order = sorted(sink.frames)
            # CPU-bound: a thread keeps the event loop (other sessions, live frames) responsive
            await asyncio.to_thread(score_into, self.record, [sink.frames[i].path for i in order], order)
        except Exception as exc:
            note_finish_failure(
                self.record, self.estimate, self.redact(f"{type(exc).__name__}: {exc}", self.state.calls)
            )
        self.playground.log.append(self.record)

    def fill(self, sink: RunSink) -> None:
        record, state = self.record, self.state
        outcomes = state.outcomes
        record.latency_s = round(time.perf_counter() - state.started, 4)
        record.first_frame_s = None if sink.first_frame_s is None else round(sink.first_frame_s, 4)
        record.frames_returned = len(sink.frames)
        record.api_calls = len(state.calls)
        record.request_ids = [o.request_id for o in outcomes if o and o.request_id]
        sent = [o.seed_sent for o in outcomes if o and o.seed_sent is not None]
        record.seed_sent = sent[0] if sent else None
        record.reference_frames = None if self.chained is None else dict(sorted(self.chained.items()))
        bill(record, self.provider, state, sink, self.estimate)
        lost = {i: e for i, e in sorted(sink.errors.items()) if i not in sink.frames}
        record.frame_errors = {i + 1: e for i, e in lost.items()} if sink.errors else None
        if record.status != "cancelled":
            record.status = (
                "error" if state.internal_error else status_of(record.frames_returned, record.frames_requested)
            )
            if record.status != "ok":
                reasons = [r for r in (state.internal_error, state.deadline_note) if r] + state.failures or list(
                    lost.values()
                )
                missing = record.frames_requested - record.frames_returned
                record.error = (
                    "; ".join(dict.fromkeys(reasons)) or f"the provider returned {missing} frame(s) fewer than asked"
                )
        record.error = "; ".join(
            filter(None, [record.error, state.billing_note, sink.delivery_note(), sink.progress_error])
        )


def result(record: RunRecord, sink: RunSink) -> RunResult:
    return RunResult(record=record, frames=[sink.frames[i] for i in sorted(sink.frames)])
