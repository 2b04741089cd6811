"""The one entry point the UI, the CLI, the batch runner and the tests share: `Playground.run`.

    plan (core.plan: the request, its references, the estimate, spend caps, key, the model's
    limits) -> a run slot (at most MAX_RUNS_IN_FLIGHT in the process) -> the caps again and the
    day's reservation -> the calls (core.run: one for `sequence`, N concurrent for `baseline`;
    for `chain`, frame 1's call, then calls 2..N each with an earlier frame as a reference)
    -> frames to disk as they arrive -> checked billing -> metrics -> one log row

Every run ends as exactly one row in runs.csv, whatever happened (bad input included),
and nothing is sent when the plan says no. The caps check the most a run could cost
(`Estimate.max_usd`), and what providers report is checked (`audit`) before it is logged
or counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from playground.base import pricing
from playground.base.config import Settings
from playground.base.errors import PlaygroundError, redact
from playground.base.ids import new_run_id, utc_now
from playground.base.types import GenerationRequest, ReferenceImage, RunRecord, RunResult
from playground.core.billing import price_source
from playground.core.plan import (
    Estimate,
    Plan,
    Spent,
    calls_for,
    caps_refusal,
    check_allowed_models,
    day_refusal,
    estimate_cost,
    make_plan,
    resolve,
)
from playground.core.references import load_reference
from playground.core.run import Execution, stopped_by
from playground.core.session import Session
from playground.core.sink import Progress, ProgressCallback
from playground.core.spend import RUN_SLOTS, VisitorLedger
from playground.providers import all_key_vars, is_configured, provider_class, provider_names
from playground.providers.base import Provider
from playground.providers.limiter import LIMITERS
from playground.store.reservations import FINISH_MARGIN_S, DayReservations
from playground.store.runlog import RunLog


@functools.lru_cache(maxsize=32)
def _reference(path: str, size: int, mtime_ns: int) -> ReferenceImage:
    """A reference image checked and re-encoded once per file version: the Generate tab's estimate
    plans at every keystroke, and the run sends what its plan loaded."""
    return load_reference(Path(path))


def cached_reference(path: Path) -> ReferenceImage:
    try:
        stat = path.stat()
    except OSError:
        return load_reference(path)  # says why it cannot be read
    return _reference(str(path), stat.st_size, stat.st_mtime_ns)


WAIT_CANCELLED = "cancelled by the user while waiting for a free run slot; nothing was sent"


class Playground:
    """Settings, the run log and the providers: everything a run needs, no globals."""

    def __init__(self, settings: Settings) -> None:
        check_allowed_models(settings)
        self.settings = settings
        self.log = RunLog(settings.data_dir)
        self.price_overrides = pricing.load_overrides(settings.env.get("PLAYGROUND_PRICES", ""))
        self.reservations = DayReservations(settings.data_dir)  # runs in flight, for the day cap
        self.run_slots = RUN_SLOTS  # the process's bound on runs in flight
        LIMITERS.configure(settings.rate_limits)  # one limiter per key for the process; ConfigError if malformed
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
    def plan(self, request: GenerationRequest, session: Session | None = None, *, caps: bool = True) -> Plan:
        """What `run(request, session)` would send and cost, or why it would refuse (core.plan).
        `caps=False` leaves the spend caps to the caller (experiments check them over all cells)."""
        return make_plan(
            request,
            self.settings,
            overrides=self.price_overrides,
            spent=self.spent(session) if caps else None,
            configured=lambda name: self.configured(name, session),
            load_reference=cached_reference,
        )

    def spent(self, session: Session | None) -> Spent:
        """What the caps count besides a run: the session's spend (with its runs in flight), and
        today's in the log plus the worst cases of runs in flight in every process (read when the
        day cap needs it)."""

        def today() -> tuple[float, float]:
            return self.log.spent_since(
                datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
            ), self.reservations.reserved_usd()

        return Spent(session.spend.total_usd if session else None, today)

    def resolve(self, request: GenerationRequest) -> GenerationRequest:
        """The request with its defaults filled (model, size), or InputError (core.plan.resolve)."""
        return resolve(request, self.settings)

    def estimate(self, request: GenerationRequest) -> Estimate:
        """The cost estimate of a resolved request (core.plan.estimate_cost)."""
        return estimate_cost(provider_class(request.provider), request, calls_for(request, ()), self.price_overrides)

    def _reserve_day(self, run_id: str, estimate: Estimate) -> bool:
        """Check the day cap again and reserve the worst case, atomically across processes; False
        when there is nothing to reserve (no day cap, a free run)."""
        if self.settings.max_usd_per_day is None or estimate.max_usd <= 0:
            return False
        today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")

        def check(in_flight_usd: float) -> None:
            refusal = day_refusal(
                estimate.usd, estimate.max_usd, self.settings, self.log.spent_since(today), in_flight_usd
            )
            if refusal:
                raise refusal.error()

        self.reservations.reserve(run_id, estimate.max_usd, self.settings.run_deadline_s + FINISH_MARGIN_S, check)
        return True

    # -- the run ---------------------------------------------------------------------------
    async def run(
        self,
        request: GenerationRequest,
        session: Session | None = None,
        on_progress: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
    ) -> RunResult:
        """Run one request to the end and log it as exactly one row. Before anything is sent,
        a refusal (InputError, SpendCapError) or any other error is raised after its row is
        logged; once calls are under way, every failure (the provider's, a full disk, a bug of
        ours) ends as the returned, logged row, not an exception. A cancel is raised after the
        row of the cancelled run is logged. It sends exactly its plan's calls.

        `cancel`, a token the caller sets to stop the run: the run stops its calls as a cancel
        does, logs its row and returns it (status cancelled, the frames that arrived, the cost
        that may have been billed), so the caller shows one final state, never a race."""
        session = session or Session()
        spend = session.spend  # the object this run reserves on and releases from, whatever rebinds the session
        record = RunRecord(
            run_id=new_run_id(),
            experiment_id=request.experiment_id,
            created_at=utc_now(),
            provider=request.provider,
            model=request.model,
            mode=request.mode,
            prompt=request.prompt,
            beats=list(request.beats),
            frames_requested=request.frames,
            size=request.size,
            seed=request.seed,
            arm=request.arm,
            variant=request.variant,
            repeat=request.repeat,
            story_id=request.story_id,
            status="error",
        )
        try:
            plan = self.plan(request, session)  # at once: a refusal need not wait for a slot
            _planned(record, plan)
            plan.raise_if_refused()
            assert plan.resolved is not None and plan.estimate is not None
            request, estimate = plan.resolved, plan.estimate
            provider = self.provider(request.provider)
            key = self.settings.key(provider.key_env, session.keys)
            calls = [replace(call, api_key=key) for call in plan.calls]
        except Exception as exc:  # nothing was sent; the row says why, the caller gets the error
            self._refused(record, exc)
            raise
        if cancel is not None and cancel.is_set():  # stopped before its turn (a comparison's later arm)
            return self._cancelled_unsent(record, "cancelled by the user before it was sent; nothing was sent")
        if not await self._take_slot(record, request, on_progress, cancel):
            return self._cancelled_unsent(record, WAIT_CANCELLED)
        try:
            try:  # again: what was spent while this run waited for its slot counts
                refusal = caps_refusal(estimate, self.settings, self.spent(session))
                if refusal:
                    raise refusal.error()
                reserved_day = self._reserve_day(record.run_id, estimate)
            except Exception as exc:
                self._refused(record, exc)
                raise
            # no await since the caps' check: the session's reservation is atomic with it on this event
            # loop (the day's was made under the reservations' lock by _reserve_day)
            spend.reserved_usd += estimate.max_usd
            try:
                return await Execution(self, provider, calls, estimate, record).execute(request, on_progress, cancel)
            finally:  # the row is filled (cost_usd) and appended, also when the run was cancelled
                spend.reserved_usd -= estimate.max_usd
                spend.spent_usd += record.cost_usd
                if reserved_day:
                    self.reservations.release(record.run_id)
        finally:
            self.run_slots.semaphore().release()

    def _refused(self, record: RunRecord, exc: BaseException) -> None:
        """Log the row of a run refused before anything was sent (the caller raises)."""
        record.error = (
            str(exc)
            if isinstance(exc, PlaygroundError)
            else redact(
                f"internal error before sending (nothing was sent): {type(exc).__name__}: {exc}", self.secrets()
            )
        )
        record.latency_s = 0.0
        self._name_defaults(record)
        self.log.append(record)

    def _cancelled_unsent(self, record: RunRecord, why: str) -> RunResult:
        """Log and return the row of a run cancelled before anything was sent."""
        record.status, record.error, record.latency_s = "cancelled", why, 0.0
        self.log.append(record)
        return RunResult(record=record, frames=[])

    async def _take_slot(
        self,
        record: RunRecord,
        request: GenerationRequest,
        on_progress: ProgressCallback | None,
        cancel: asyncio.Event | None,
    ) -> bool:
        """One of the process's MAX_RUNS_IN_FLIGHT slots for the run (the caller releases it);
        False when the cancel token stopped the wait. A run cancelled while it waits is logged
        as cancelled, with nothing sent, and the cancel raised."""
        slots = self.run_slots.semaphore()
        if slots.locked() and on_progress is not None:
            with contextlib.suppress(Exception):  # a live view's failure never stops a run
                on_progress(
                    Progress(
                        0,
                        request.frames,
                        0.0,
                        [],
                        f"waiting: {self.run_slots.size} runs are in flight (the app runs at most "
                        f"{self.run_slots.size} at once)",
                    )
                )
        try:
            if cancel is None or not slots.locked():
                await slots.acquire()  # a free slot is taken without yielding to the event loop
                return True
            return not await stopped_by(asyncio.ensure_future(slots.acquire()), cancel)
        except asyncio.CancelledError:
            self._cancelled_unsent(record, WAIT_CANCELLED)
            raise

    @staticmethod
    def _name_defaults(record: RunRecord) -> None:
        """A refused row still names the model and size the run would have used."""
        try:
            cls = provider_class(record.provider)
        except PlaygroundError:
            return
        record.model = record.model or cls.default_model()
        record.size = record.size or cls.model(record.model).default_size


def _planned(record: RunRecord, plan: Plan) -> None:
    """What a plan knows goes into the row, refused or not: the resolved model, size and beats,
    the references once they are loaded, the estimate once it is made."""
    if plan.resolved is not None:
        record.model, record.size = plan.resolved.model, plan.resolved.size
        record.beats = list(plan.resolved.beats)
    if plan.estimate is not None:  # made right after the references were loaded
        record.ref_count, record.ref_hashes = len(plan.references), [r.sha256 for r in plan.references]
        record.estimate_usd, record.price_per_image_usd = plan.estimate.usd, plan.estimate.per_image_usd
        record.max_cost_usd, record.price_source = plan.estimate.max_usd, price_source(plan.estimate.price)
