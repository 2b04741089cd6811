"""The one entry point the UI, the CLI, the batch runner and the tests share: `Playground.run`.

    validate request -> estimate (typical and worst case) + spend caps -> a run slot (at most
    MAX_RUNS_IN_FLIGHT in the process) -> provider calls (one for `sequence`, N concurrent for
    `baseline`) -> frames to disk as they arrive -> checked billing -> metrics -> one log row

Every run ends as exactly one row in runs.csv, whatever happened (bad input included),
and nothing is sent when validation or a spend cap says no. The caps check the most a run
could cost (`Estimate.max_usd`), and what providers report is checked (`audit`) before it is
logged or counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from playground.base import pricing, prompts
from playground.base.config import Settings
from playground.base.errors import InputError, PlaygroundError, ProviderError, SpendCapError, loggable, redact
from playground.base.ids import new_run_id, utc_now
from playground.base.types import (
    MAX_FRAMES,
    MAX_PROMPT_CHARS,
    MIN_FRAMES,
    MODES,
    CallOutcome,
    GenerationRequest,
    ProviderCall,
    ReferenceImage,
    RunRecord,
    RunResult,
)
from playground.core import audit
from playground.core.plan import Estimate, check_allowed_models, check_model_id, check_size_shape
from playground.core.references import MAX_REFERENCES, load_reference
from playground.core.scoring import score_into
from playground.core.session import Session
from playground.core.sink import Progress, ProgressCallback, RunSink
from playground.core.spend import RUN_SLOTS, VisitorLedger
from playground.providers import all_key_vars, is_configured, provider_class, provider_names
from playground.providers.base import Provider, check_size_limits
from playground.store.reservations import FINISH_MARGIN_S, DayReservations
from playground.store.runlog import RunLog

POSSIBLY_BILLED = "possibly billed (estimate)"  # cost_source when cost_usd counts calls that may have been billed

# Per-request HTTP limits: `connect` bounds reaching the provider, `read` one silent gap in an
# answer or a stream. The whole run is bounded by Settings.run_deadline_s on top of these.
HTTP_TIMEOUT = httpx.Timeout(connect=10.0, read=180.0, write=60.0, pool=60.0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for every run: loading the CA bundle takes ~35 ms, which each
    new AsyncClient would otherwise spend on the event loop."""
    return ssl.create_default_context()


@dataclass
class _CallState:
    """What one run's calls did, filled in as they go (read by _finish for the row)."""

    calls: list[ProviderCall]
    started: float  # perf_counter at the first call
    outcomes: list[CallOutcome | None] = field(default_factory=list)  # None: the call failed or never ended
    failures: list[str] = field(default_factory=list)  # one reason per failed call
    deadline_note: str = ""  # set when the run passed PLAYGROUND_RUN_DEADLINE_S
    internal_error: str = ""  # set when the run itself broke (not a provider): the row's status is error
    in_flight: set[int] = field(default_factory=set)  # calls sent and not ended (stopped by the deadline or a cancel)
    said_maybe_billed: set[int] = field(default_factory=set)  # calls that failed with ProviderError.may_be_billed
    billing_note: str = ""  # set by _bill when cost_usd counts possibly billed images

    def __post_init__(self) -> None:
        self.outcomes = self.outcomes or [None] * len(self.calls)

    def may_be_billed(self, i: int) -> bool:
        """Call i failed after it may have reached the provider."""
        return i in self.in_flight or i in self.said_maybe_billed


def _status(returned: int, requested: int) -> str:
    return "error" if returned == 0 else "partial" if returned < requested else "ok"


def _note_finish_failure(record: RunRecord, estimate: Estimate, what: str) -> None:
    """Filling the row failed half-way: say so in it and, if billing did not finish, count the
    most the run could cost, so the spend caps never miss money that may have been spent."""
    if record.status != "cancelled":
        record.status = "error"
    record.error = "; ".join(filter(None, [record.error, f"internal error while finishing the run ({what})"]))
    if not record.cost_source:
        record.cost_usd, record.cost_source = estimate.max_usd, "estimate (billing failed)"


WORST_CASE = "worst case (the provider reported values out of range)"  # cost_source of such a row


def _price_source(price: pricing.Price) -> str:
    return price.source + (f"; worst case: {price.most_source}" if price.most_source else "")


def _cost_words(estimate: Estimate) -> str:
    """How a cap refusal names the amount: the worst case, with the typical figure when they differ."""
    if estimate.max_usd > estimate.usd + 1e-9:
        return f"at most ${estimate.max_usd:.4f} (typical ${estimate.usd:.4f})"
    return f"estimated ${estimate.max_usd:.4f}"


class Playground:
    """Settings, the run log and the providers: everything a run needs, no globals."""

    def __init__(self, settings: Settings) -> None:
        check_allowed_models(settings)
        self.settings = settings
        self.log = RunLog(settings.data_dir)
        self.price_overrides = pricing.load_overrides(settings.env.get("PLAYGROUND_PRICES", ""))
        self.reservations = DayReservations(settings.data_dir)  # runs in flight, for the day cap
        self.run_slots = RUN_SLOTS  # the process's bound on runs in flight
        self.visitors = VisitorLedger()  # on the app: the session cap's spend per visitor and UTC day

    def bind_visitor(self, session: Session, visitor: str) -> Session:
        """Make the session count its spend with every other session of this visitor today, so a
        new client does not start a new session budget (spend.py says what a visitor is)."""
        session.spend = self.visitors.spend(visitor)
        return session

    def secrets(self) -> list[str]:
        """Every key value in the environment, for redaction (a session's keys are added by callers)."""
        return [v for v in (self.settings.env.get(k, "") for k in all_key_vars()) if v]

    # -- providers ---------------------------------------------------------------------
    def provider(self, name: str) -> Provider:
        cls = provider_class(name)
        provider = cls(base_url=self.settings.base_url(cls.base_url_env, cls.default_base_url))
        provider.price_overrides = self.price_overrides  # adapters that compute a cost (fal) price as the core does
        provider.max_frame_bytes = self.settings.max_download_bytes  # bounds answers too (providers/http.py)
        return provider

    def configured(self, name: str, session: Session | None = None) -> bool:
        return is_configured(name, self.settings.env, session.keys if session else None)

    def configured_providers(self, session: Session | None = None) -> list[str]:
        return [n for n in provider_names() if self.configured(n, session)]

    # -- before a run ----------------------------------------------------------------------
    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """Fill defaults (model, size) and check everything that can be checked without sending."""
        if not request.prompt or not request.prompt.strip():
            raise InputError("the prompt is empty: describe the character, style and story")
        if len(request.prompt) > MAX_PROMPT_CHARS:
            raise InputError(f"the prompt is {len(request.prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
        if not isinstance(request.frames, int) or not MIN_FRAMES <= request.frames <= MAX_FRAMES:
            raise InputError(f"frames must be between {MIN_FRAMES} and {MAX_FRAMES}, got {request.frames}")
        beats = [loggable(b.strip()) for b in request.beats if b and b.strip()]
        if len(beats) > request.frames:
            raise InputError(f"{len(beats)} beats for {request.frames} frames: give at most one beat per frame")
        total = len(request.prompt) + sum(map(len, beats))
        if total > MAX_PROMPT_CHARS:  # the beats are sent inside the prompt
            raise InputError(f"the prompt and beats are {total} characters together; the limit is {MAX_PROMPT_CHARS}")
        if request.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, got {request.mode!r}")
        cls = provider_class(request.provider)
        model_id = (request.model or "").strip() or cls.default_model()
        self.check_model(cls, model_id)
        info = cls.model(model_id)
        if request.mode == "sequence" and not info.native_sequence and request.frames > 1:
            raise InputError(f"{cls.name}/{model_id} has no native sequential mode: use mode baseline")
        size = (request.size or info.default_size).strip()
        if not info.sizes:  # a listed size is checked by Provider.validate; otherwise check its shape
            check_size_shape(size, f"{cls.name}/{model_id}", cls.size_presets)
            check_size_limits(size, info, f"{cls.name}/{model_id}")
        if len(request.references) > MAX_REFERENCES:
            raise InputError(f"{len(request.references)} reference images; the limit is {MAX_REFERENCES}")
        # lone surrogates (undecodable argv bytes, JSON's "\ud800") as their escapes: sent as logged
        return GenerationRequest(**{**request.__dict__, "prompt": loggable(request.prompt), "model": model_id,
                                    "size": size, "beats": beats})

    def check_model(self, cls: type[Provider], model_id: str) -> None:
        """An id shaped like the provider's ids; one outside its model list only where allowed
        (PLAYGROUND_ALLOWED_MODELS; on a Space none by default). A dated snapshot of a listed
        model ("gpt-image-1.5-2025-12-16") counts as listed: it is priced like it."""
        check_model_id(cls, model_id)
        listed = [m.id for m in cls.models]
        if model_id in listed or pricing.snapshot_base(model_id) in listed:
            return
        if not cls.accepts_custom_models:
            raise InputError(f"unknown model {model_id!r} for {cls.name}; choose one of: {', '.join(listed)}")
        if not self.settings.allows_model(cls.name, model_id):
            where = "on a public Space (SPACE_ID is set)" if self.settings.on_space else "here"
            raise InputError(f"model id {model_id!r} is not in {cls.name}'s model list, and other ids are not allowed "
                             f"{where}: choose one of {', '.join(listed)}, or the owner allows it with "
                             f"PLAYGROUND_ALLOWED_MODELS (e.g. {cls.name}:{model_id} or {cls.name}:*)")

    def estimate(self, request: GenerationRequest) -> Estimate:
        """The typical cost and the most the run could cost: every frame asked for billed (the
        most any billing rule bills: WaveSpeed's max_images, EvoLink's pre-charged n) at the
        worst price of its size, plus each call's prompt for token-billed models."""
        cls = provider_class(request.provider)
        price, size = cls.price(request.model, self.price_overrides), cls.priced_size(request.size)
        per_image = price.per_image(size)
        most = sum(pricing.most_cost(price, size, call.frames, call.prompt) for call in self.plan_calls(request, (), ""))
        return Estimate(round(per_image * request.frames, 6), request.frames, price, per_image, round(most, 6), size)

    def check_caps(self, estimate: Estimate, session: Session | None) -> None:
        """Refuse a run whose worst case would pass a cap. Runs in flight count with their worst
        case: the session's (the visitor's, on the app) in this process, the day's in every
        process on this DATA_DIR."""
        s, most = self.settings, estimate.max_usd
        said = _cost_words(estimate)
        if s.max_usd_per_run is not None and most > s.max_usd_per_run:
            raise SpendCapError(f"{said} passes PLAYGROUND_MAX_USD_PER_RUN (${s.max_usd_per_run:.2f})")
        session_spent = session.spend.total_usd if session else 0.0
        if session and s.max_usd_per_session is not None and session_spent + most > s.max_usd_per_session:
            raise SpendCapError(f"this session has spent ${session_spent:.4f} (runs in flight included); "
                                f"{said} more passes PLAYGROUND_MAX_USD_PER_SESSION (${s.max_usd_per_session:.2f})")
        if s.max_usd_per_day is not None and most > 0:
            self._check_day(estimate, self.reservations.reserved_usd())

    def _check_day(self, estimate: Estimate, in_flight_usd: float) -> None:
        """The day cap (UTC day): the log's spend today plus the worst cases of runs in flight in
        every process on this DATA_DIR (reservations.py)."""
        cap = self.settings.max_usd_per_day
        today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
        spent = self.log.spent_since(today) + in_flight_usd
        if cap is not None and spent + estimate.max_usd > cap:
            note = " (runs in flight included)" if in_flight_usd else ""
            raise SpendCapError(f"today's spend is ${spent:.4f}{note}; {_cost_words(estimate)} more passes "
                                f"PLAYGROUND_MAX_USD_PER_DAY (${cap:.2f})")

    def _reserve_day(self, run_id: str, estimate: Estimate) -> bool:
        """Check the day cap again and reserve the worst case, atomically across processes; False
        when there is nothing to reserve (no day cap, a free run)."""
        if self.settings.max_usd_per_day is None or estimate.max_usd <= 0:
            return False
        self.reservations.reserve(run_id, estimate.max_usd, self.settings.run_deadline_s + FINISH_MARGIN_S,
                                  lambda in_flight_usd: self._check_day(estimate, in_flight_usd))
        return True

    def plan_calls(self, request: GenerationRequest, references: tuple[ReferenceImage, ...], api_key: str) -> list[ProviderCall]:
        """One call for a sequence, N single-frame calls for a baseline."""
        common = dict(model=request.model, size=request.size, seed=request.seed, references=references, api_key=api_key)
        if request.mode == "sequence":
            text = prompts.sequence_prompt(request.prompt, request.beats, request.frames)
            return [ProviderCall(prompt=text, frames=request.frames, beats=tuple(request.beats), **common)]
        return [ProviderCall(prompt=prompts.frame_prompt(request.prompt, request.beat(i)), frames=1,
                             beats=(request.beat(i),), first_frame=i, call_index=i, **common)
                for i in range(request.frames)]

    # -- the run ---------------------------------------------------------------------------
    async def run(self, request: GenerationRequest, session: Session | None = None,
                  on_progress: ProgressCallback | None = None) -> RunResult:
        """Run one request to the end and log it as exactly one row. Before anything is sent,
        a refusal (InputError, SpendCapError) or any other error is raised after its row is
        logged; once calls are under way, every failure (the provider's, a full disk, a bug of
        ours) ends as the returned, logged row, not an exception. A cancel is raised after the
        row of the cancelled run is logged."""
        session = session or Session()
        spend = session.spend  # the object this run reserves on and releases from, whatever rebinds the session
        record = RunRecord(run_id=new_run_id(), experiment_id=request.experiment_id, created_at=utc_now(),
                           provider=request.provider, model=request.model, mode=request.mode, prompt=request.prompt,
                           beats=json.dumps(request.beats, ensure_ascii=False), frames_requested=request.frames,
                           size=request.size, seed=request.seed, arm=request.arm, variant=request.variant,
                           repeat=request.repeat, story_id=request.story_id, status="error")
        try:
            request = self.resolve(request)
            record.model, record.size = request.model, request.size
            record.beats = json.dumps(request.beats, ensure_ascii=False)
            references = tuple(load_reference(Path(p)) for p in request.references)
            record.ref_count, record.ref_hashes = len(references), json.dumps([r.sha256 for r in references])
            estimate = self.estimate(request)
            record.estimate_usd, record.price_per_image_usd = estimate.usd, estimate.per_image_usd
            record.max_cost_usd, record.price_source = estimate.max_usd, _price_source(estimate.price)
            self.check_caps(estimate, session)  # at once: a refusal need not wait for a slot
            provider = self.provider(request.provider)
            if provider.key_env and not self.configured(request.provider, session):
                raise InputError(f"{request.provider} is not configured: set {provider.key_env}")
            calls = self.plan_calls(request, references, self.settings.key(provider.key_env, session.keys))
            for call in calls:
                provider.validate(call)
        except Exception as exc:  # nothing was sent; the row says why, the caller gets the error
            self._refused(record, exc)
            raise
        async with self._slot(record, request, on_progress):
            try:  # again: what was spent while this run waited for its slot counts
                self.check_caps(estimate, session)
                reserved_day = self._reserve_day(record.run_id, estimate)
            except Exception as exc:
                self._refused(record, exc)
                raise
            # no await since check_caps: the session's reservation is atomic with its check on this event
            # loop (the day's was made under the reservations' lock by _reserve_day)
            spend.reserved_usd += estimate.max_usd
            try:
                return await self._execute(request, provider, calls, estimate, record, on_progress)
            finally:  # _finish has filled record.cost_usd and appended the row, also when the run was cancelled
                spend.reserved_usd -= estimate.max_usd
                spend.spent_usd += record.cost_usd
                if reserved_day:
                    self.reservations.release(record.run_id)

    def _refused(self, record: RunRecord, exc: BaseException) -> None:
        """Log the row of a run refused before anything was sent (the caller raises)."""
        record.error = str(exc) if isinstance(exc, PlaygroundError) else self._redact(
            f"internal error before sending (nothing was sent): {type(exc).__name__}: {exc}", [])
        record.latency_s = 0.0
        self._name_defaults(record)
        self.log.append(record)

    @contextlib.asynccontextmanager
    async def _slot(self, record: RunRecord, request: GenerationRequest,
                    on_progress: ProgressCallback | None) -> AsyncIterator[None]:
        """One of the process's MAX_RUNS_IN_FLIGHT slots for the run. A run cancelled while it
        waits is logged as cancelled, with nothing sent."""
        if self.run_slots.full() and on_progress is not None:
            with contextlib.suppress(Exception):  # a live view's failure never stops a run
                on_progress(Progress(0, request.frames, 0.0, [],
                                     f"waiting: {self.run_slots.size} runs are in flight (the app runs at most "
                                     f"{self.run_slots.size} at once)"))
        slots = self.run_slots.semaphore()
        try:
            await slots.acquire()  # a free slot is taken without yielding to the event loop
        except asyncio.CancelledError:
            record.status, record.error = "cancelled", "cancelled by the user while waiting for a free run slot; nothing was sent"
            record.latency_s = 0.0
            self.log.append(record)
            raise
        try:
            yield
        finally:
            slots.release()

    @staticmethod
    def _name_defaults(record: RunRecord) -> None:
        """A refused row still names the model and size the run would have used."""
        try:
            cls = provider_class(record.provider)
        except PlaygroundError:
            return
        record.model = record.model or cls.default_model()
        record.size = record.size or cls.model(record.model).default_size

    async def _execute(self, request: GenerationRequest, provider: Provider, calls: list[ProviderCall],
                       estimate: Estimate, record: RunRecord, on_progress: ProgressCallback | None) -> RunResult:
        run_dir = self.log.run_dir(record.run_id)
        record.image_dir = str(run_dir)
        record.composed_prompts = json.dumps([c.prompt for c in calls], ensure_ascii=False)
        state = _CallState(calls, started=time.perf_counter())
        sink = RunSink(run_dir, self.settings.max_download_bytes, request.frames, state.started, on_progress)
        try:
            await self._send(provider, state, sink)
        except asyncio.CancelledError:
            record.status, record.error = "cancelled", "cancelled by the user"
            await self._finish(record, provider, state, sink, estimate)
            raise
        except Exception as exc:  # a bug of ours or the machine's (a full disk, ...): the row still says why
            state.internal_error = self._redact(f"internal error: {type(exc).__name__}: {exc}", calls)
        await self._finish(record, provider, state, sink, estimate)
        return self._result(record, sink, request)

    async def _send(self, provider: Provider, state: _CallState, sink: RunSink) -> None:
        """Make the run's calls (at most provider.max_concurrency at a time, all within the run's
        deadline) and wait for the frames they handed over as URLs."""
        sink.run_dir.mkdir(parents=True, exist_ok=True)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT, verify=tls_context(), limits=httpx.Limits(max_connections=32),
                                     follow_redirects=False) as client:
            sink.client = client
            gate = asyncio.Semaphore(provider.max_concurrency)
            try:
                async with asyncio.timeout(self.settings.run_deadline_s):
                    await asyncio.gather(*(self._call(provider, i, client, sink, state, gate)
                                           for i in range(len(state.calls))))
                    await asyncio.gather(*sink.downloads)
            except TimeoutError:
                state.deadline_note = (f"the run passed its {self.settings.run_deadline_s:g} s deadline "
                                       "(PLAYGROUND_RUN_DEADLINE_S); calls still in flight were stopped and may be billed")
            finally:  # nothing may land in run_dir after the row is written
                await asyncio.shield(sink.stop_downloads())

    async def _call(self, provider: Provider, i: int, client: httpx.AsyncClient, sink: RunSink,
                    state: _CallState, gate: asyncio.Semaphore) -> None:
        """One provider call; its failure becomes the reason of each of its frames, never an exception."""
        call = state.calls[i]
        async with gate:
            state.in_flight.add(i)  # stays there if the deadline or a cancel stops the call
            try:
                state.outcomes[i] = await provider.generate(call, client, sink.for_call(call))
            except ProviderError as exc:
                message = self._redact(str(exc), [call])
                state.failures.append(message + (" (the call may have been billed)" if exc.may_be_billed else ""))
                sink.call_failed(call, message)
                if exc.may_be_billed:
                    state.said_maybe_billed.add(i)
            except Exception as exc:  # an adapter bug (or an answer it could not read) ends as a logged row
                message = self._redact(f"{provider.name}: unexpected {type(exc).__name__}: {exc}", [call])
                state.failures.append(message + " (the call may have been billed)")
                sink.call_failed(call, message)
                state.said_maybe_billed.add(i)  # it may have failed after the provider took the call
            state.in_flight.discard(i)

    def _redact(self, text: str, calls: list[ProviderCall]) -> str:
        return redact(text, self.secrets() + [c.api_key for c in calls])

    async def _finish(self, record: RunRecord, provider: Provider, state: _CallState, sink: RunSink,
                      estimate: Estimate) -> None:
        """_write_row in a task that no further cancel can stop: the UI cancels a run and may cancel
        again while it is being scored, and a row lost there would break one-row-per-run. A cancel
        that arrives meanwhile is raised once the row is appended."""
        writing = asyncio.ensure_future(self._write_row(record, provider, state, sink, estimate))
        cancelled = False
        while not writing.done():
            try:
                await asyncio.shield(writing)
            except asyncio.CancelledError:
                cancelled = True
        writing.result()  # the log itself could not be written: that is raised
        if cancelled:
            raise asyncio.CancelledError

    async def _write_row(self, record: RunRecord, provider: Provider, state: _CallState, sink: RunSink,
                         estimate: Estimate) -> None:
        """Fill timing, billing, status and metrics into the record and append it to the log. A bug
        met while filling it (an adapter's billing rule, say) is written into the row, never loses it."""
        try:
            self._fill(record, provider, state, sink, estimate)
            await self._score(record, sink)
        except Exception as exc:
            _note_finish_failure(record, estimate, self._redact(f"{type(exc).__name__}: {exc}", state.calls))
        self.log.append(record)

    def _fill(self, record: RunRecord, provider: Provider, state: _CallState, sink: RunSink, estimate: Estimate) -> None:
        outcomes = state.outcomes
        record.latency_s = round(time.perf_counter() - state.started, 4)
        record.first_frame_s = None if sink.first_frame_s is None else round(sink.first_frame_s, 4)
        record.frames_returned = len(sink.frames)
        record.api_calls = len(state.calls)
        record.request_ids = json.dumps([o.request_id for o in outcomes if o and o.request_id])
        sent = [o.seed_sent for o in outcomes if o and o.seed_sent is not None]
        record.seed_sent = sent[0] if sent else None
        self._bill(record, provider, state, sink, estimate)
        lost = {i: e for i, e in sorted(sink.errors.items()) if i not in sink.frames}
        record.frame_errors = json.dumps({str(i + 1): e for i, e in lost.items()}, ensure_ascii=False) if sink.errors else ""
        if record.status != "cancelled":
            record.status = "error" if state.internal_error else _status(record.frames_returned, record.frames_requested)
            if record.status != "ok":
                reasons = [r for r in (state.internal_error, state.deadline_note) if r] + state.failures or list(lost.values())
                missing = record.frames_requested - record.frames_returned
                record.error = "; ".join(dict.fromkeys(reasons)) or f"the provider returned {missing} frame(s) fewer than asked"
        record.error = "; ".join(filter(None, [record.error, state.billing_note, sink.delivery_note(),
                                               sink.progress_error]))

    def _bill(self, record: RunRecord, provider: Provider, state: _CallState, sink: RunSink, estimate: Estimate) -> None:
        """images_billed counts the images known to be billed: the provider's rule for a call that
        answered, the frames a failed call delivered first. cost_usd adds what a call that failed
        after it was sent (may_be_billed, or stopped in flight by the deadline or a cancel) may
        cost: the most the provider's rule can bill for it, at the worst price of its size
        (providers.md: treat a client-side timeout as possibly billed; WaveSpeed bills max_images
        once the job exists). A call whose answer holds values out of range (audit.problems: a
        negative or infinite count or cost, more billed images than asked for) is counted at its
        worst case too, and the row's error names the values. The spend caps sum cost_usd, so
        they count all of it; cost_source says when it is an estimate."""
        price, size = estimate.price, estimate.priced_size
        billed, unsure_images, table_images, reported_cost, worst_cost = 0, 0, 0, 0.0, 0.0
        reported, notes, over = True, [], []
        for i, (call, outcome) in enumerate(zip(state.calls, state.outcomes)):
            returned = sum(1 for j in range(call.frames) if call.first_frame + j in sink.frames)
            if outcome is None:  # the call failed; frames it delivered first are billed all the same
                billed += returned
                table_images += returned
                reported = reported and returned == 0
                if state.may_be_billed(i):
                    most = provider.billed_images(call, CallOutcome(images_billed=None), call.frames)
                    unsure_images += max(0, min(most, call.frames) - returned)
                continue
            call_most = pricing.most_cost(price, size, call.frames, call.prompt)
            problems = audit.problems(call, outcome, returned)
            if problems:
                billed += call.frames
                worst_cost += call_most
                notes.append(f"{'call ' + str(i + 1) + ': ' if len(state.calls) > 1 else ''}{'; '.join(problems)}")
                continue
            images = provider.billed_images(call, outcome, returned)
            billed += images
            if outcome.cost_usd is None:
                reported, table_images = False, table_images + images
            else:
                reported_cost += outcome.cost_usd
                if outcome.cost_usd > call_most + 1e-6:
                    over.append(f"${outcome.cost_usd:.4f} reported, above the worst case ${call_most:.4f}")
        record.images_billed = billed
        said = [o.cost_rule for o in state.outcomes if o and o.cost_rule and o.cost_rule != provider.billing_rule]
        record.billing_rule = "; ".join(r for r in dict.fromkeys([provider.billing_rule, *said]) if r)
        answered = any(o is not None for o in state.outcomes)
        if answered and reported:
            record.cost_usd, record.cost_source = round(reported_cost + worst_cost, 6), "reported"
        else:
            record.cost_usd = round(reported_cost + worst_cost + pricing.run_cost(price, size, table_images), 6)
            record.cost_source = "price table"
        if worst_cost:
            record.cost_source = WORST_CASE
        if unsure_images:
            unsure_usd = round(unsure_images * price.most_per_image(size), 6)
            record.cost_usd = round(record.cost_usd + unsure_usd, 6)
            record.cost_source = record.cost_source if worst_cost else POSSIBLY_BILLED
            notes.append(f"cost_usd counts ${unsure_usd:.4f} for {unsure_images} image(s) that may have been billed "
                         "(calls sent, then failed or stopped)")
        if worst_cost:
            notes.append(f"cost_usd counts ${worst_cost:.4f}, the worst case of the call(s) whose answer held values "
                         "out of range")
        notes += [f"check the price table: {o}" for o in over]  # counted as reported: the caps see more, not less
        state.billing_note = "; ".join(notes)

    async def _score(self, record: RunRecord, sink: RunSink) -> None:
        order = sorted(sink.frames)
        # CPU-bound: a thread keeps the event loop (other sessions, live frames) responsive
        await asyncio.to_thread(score_into, record, [sink.frames[i][0] for i in order], order)

    def _result(self, record: RunRecord, sink: RunSink, request: GenerationRequest) -> RunResult:
        order = sorted(sink.frames)
        return RunResult(record=record, frames=[sink.frames[i][0] for i in order],
                         previews=[sink.frames[i][1] for i in order],
                         captions=[request.beat(i) or f"Frame {i + 1}" for i in order])
