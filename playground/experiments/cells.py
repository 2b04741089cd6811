"""A/B experiments: arms, cells, and many cells at once with a cost cap and resume.

    Arm         provider + model + mode ("local::baseline": an empty model = the provider's default;
                mode `chain` takes frame 1 as the reference of frames 2..N, `chain-previous` the frame before)
    Cell        one run of an experiment: story x arm x prompt variant x repeat
    plan_cells  every cell checked (input, key, estimate) before anything is sent
    run_cells   many cells at once: bounded overall and per provider, the cost cap checked
                before each cell is sent, resume skips cells already logged `ok`

Each cell is one ordinary `Playground.run`, so every run is a normal runs.csv row carrying
experiment_id, arm (= Arm.label), variant, repeat and story_id. One comparison of a story
across arms is experiments.compare; votes and scores are experiments.votes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from playground.base.errors import InputError, PlaygroundError, SpendCapError
from playground.base.ids import new_run_id, utc_now
from playground.base.prompts import Story
from playground.base.types import CHAIN_FROM, MODES, GenerationRequest, RunRecord, RunResult
from playground.core.plan import Estimate, caps_refusal, day_refusal
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.sink import Progress
from playground.providers import provider_class, provider_names
from playground.providers.http import HttpProvider

CellCallback = Callable[["Cell", RunRecord | None], None]
ProgressByCell = Callable[[int, Progress], None]  # (index of the cell, its progress)


@dataclass(frozen=True)
class Arm:
    """What is being compared: a provider, a model and a mode (a chain: and which frame it chains from)."""

    provider: str
    model: str
    mode: str
    chain_from: str = "first"  # chain mode only: "first" or "previous"

    @property
    def model_id(self) -> str:
        return self.model or provider_class(self.provider).default_model()

    @property
    def mode_token(self) -> str:
        """The arm's last part: the mode, `chain-previous` for a chain from the frame before."""
        return "chain-previous" if self.mode == "chain" and self.chain_from == "previous" else self.mode

    @property
    def label(self) -> str:
        """ "provider:model:mode" with the resolved model id (the `arm` column of runs.csv)."""
        return f"{self.provider}:{self.model_id}:{self.mode_token}"


ARM_MODES = (*MODES, *(f"chain-{c}" for c in CHAIN_FROM))  # what an arm's last part may say


def parse_arm(text: str) -> Arm:
    """ "PROVIDER:MODEL:MODE"; MODEL may be empty (the provider's default) or contain colons."""
    parts = (text or "").strip().split(":")
    example = "e.g. local::baseline or byteplus:seedream-5-0-260128:sequence"
    if len(parts) < 3:
        raise InputError(
            f"arm {text!r} must look like PROVIDER:MODEL:MODE ({example}; an empty MODEL means the provider's default)"
        )
    provider, model, mode = parts[0].strip(), ":".join(parts[1:-1]).strip(), parts[-1].strip()
    if provider not in provider_names():
        raise InputError(f"arm {text!r}: unknown provider {provider!r}; choose one of: {', '.join(provider_names())}")
    if mode not in ARM_MODES:
        raise InputError(f"arm {text!r}: mode must be one of {', '.join(ARM_MODES)}, got {mode!r}")
    if mode.startswith("chain-"):
        return Arm(provider, model, "chain", mode.removeprefix("chain-"))
    return Arm(provider, model, mode)


def parse_arms(lines: Sequence[str]) -> list[Arm]:
    """Arm specs (blank lines and `#` comments skipped), without duplicates, at least one."""
    arms: list[Arm] = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text:
            arm = parse_arm(text)
            if arm.label in (a.label for a in arms):
                raise InputError(f"arm {arm.label} is listed twice")
            arms.append(arm)
    if not arms:
        raise InputError("give at least one arm, e.g. local::sequence")
    return arms


VARIANT_LABEL = re.compile(r"^\w[\w .+-]{0,19}$")  # "A", "short prompt": a name, never markup


def check_variant_labels(labels: Iterable[object]) -> None:
    """A variant label is shown in tables, the grid and the Arena and logged in runs.csv: from an
    API caller it could carry markup, CR or a lone surrogate (which no answer can hold), so it is
    a short name of letters, digits, spaces, '.', '_', '+' or '-'."""
    for label in labels:
        if not isinstance(label, str) or not VARIANT_LABEL.match(label):
            shown = label.encode("utf-8", "backslashreplace").decode() if isinstance(label, str) else label
            raise InputError(f"a variant label is 1 to 20 letters, digits, spaces, '.', '_', '+' or '-', got {shown!r}")


def variant_story(story: Story, text: str) -> Story:
    """The story with its shared text replaced by a prompt variant; `{character}` and `{style}`
    in the variant stand for the story's own (so one variant serves many stories)."""
    prompt = text.replace("{character}", story.character.strip().rstrip(".")).replace(
        "{style}", story.style.strip().rstrip(".")
    )
    return Story(character=prompt.strip(), style="", beats=story.beats)


@dataclass(frozen=True)
class Cell:
    """One run of an experiment."""

    story: Story
    arm: Arm
    variant: str = ""
    repeat: int = 0
    frames: int | None = None  # None = one frame per beat; anything else goes to the core as given
    seed: int | None = None
    story_id: str = ""
    size: str = ""  # "" = the model's default size

    @property
    def frame_count(self) -> int:
        return len(self.story.beats) if self.frames is None else self.frames

    @property
    def key(self) -> tuple[str, str, int, str]:
        """What identifies the cell within its experiment (resume compares these)."""
        return (self.arm.label, self.variant, self.repeat, self.story_id)

    def request(self, experiment_id: str) -> GenerationRequest:
        return GenerationRequest(
            prompt=self.story.prompt(),
            frames=self.frame_count,
            mode=self.arm.mode,  # type: ignore[arg-type]
            provider=self.arm.provider,
            model=self.arm.model,
            beats=list(self.story.beats),
            size=self.size,
            seed=self.seed,
            experiment_id=experiment_id,
            arm=self.arm.label,
            variant=self.variant,
            repeat=self.repeat,
            story_id=self.story_id,
            chain_from=self.arm.chain_from,
        )


@dataclass(frozen=True)
class CellPlan:
    """A cell checked before sending: its resolved request and estimate, or what is wrong."""

    cell: Cell
    estimate: Estimate | None
    problem: str = ""

    @property
    def usd(self) -> float:
        return self.estimate.usd if self.estimate else 0.0

    @property
    def max_usd(self) -> float:
        """The most the cell could cost: what caps, budgets and confirmations check."""
        return self.estimate.max_usd if self.estimate else 0.0


def plan_cell(playground: Playground, cell: Cell, experiment_id: str = "", session: Session | None = None) -> CellPlan:
    """The cell's plan (core.plan) without the spend caps, which check_budget applies to all the
    cells together: its estimate, or its first refusal."""
    plan = playground.plan(cell.request(experiment_id), session, caps=False)
    if plan.refusals:
        return CellPlan(cell, None, f"{cell.arm.label}: {plan.refusals[0].message}")
    return CellPlan(cell, plan.estimate)


def plan_cells(
    playground: Playground, cells: Sequence[Cell], experiment_id: str = "", session: Session | None = None
) -> list[CellPlan]:
    return [plan_cell(playground, c, experiment_id, session) for c in cells]


def total_usd(plans: Sequence[CellPlan]) -> float:
    """The typical total (shown beside the worst case)."""
    return round(sum(p.usd for p in plans), 6)


def total_max_usd(plans: Sequence[CellPlan]) -> float:
    """The most the cells could cost together: what the caps and PLAYGROUND_CONFIRM_USD check."""
    return round(sum(p.max_usd for p in plans), 6)


def raise_problems(plans: Sequence[CellPlan]) -> None:
    """One InputError naming every distinct problem (nothing is sent when there is one)."""
    problems = list(dict.fromkeys(p.problem for p in plans if p.problem))
    if problems:
        raise InputError("; ".join(problems))


def check_budget(playground: Playground, plans: Sequence[CellPlan], session: Session | None) -> None:
    """Every spend cap of the settings, applied to the cells as a whole, before anything is sent
    (Playground.run checks each run again when it is sent, so a cap is never passed either way):
    each cell's caps with the cells before it on the session, then the day's on all of them."""
    spent = playground.spent(session)
    for plan in plans:
        if plan.estimate is not None:
            refusal = caps_refusal(plan.estimate, playground.settings, spent)
            if refusal:
                raise refusal.error()
            if spent.session is not None:  # the session cap sees the running total
                spent = replace(spent, session=spent.session + plan.max_usd)
    if playground.settings.max_usd_per_day is not None and total_max_usd(plans) > 0:
        refusal = day_refusal(total_usd(plans), total_max_usd(plans), playground.settings, *spent.day())
        if refusal:
            raise refusal.error()


# -- running many cells ----------------------------------------------------------------------
@dataclass
class CellOutcome:
    """What became of one cell: its logged row and frames, or why it was not sent."""

    cell: Cell
    record: RunRecord | None = None  # None: refused by the cost cap (nothing sent)
    result: RunResult | None = None  # frames (None when the run stopped before sending)

    @property
    def refused(self) -> bool:
        return self.record is None


@dataclass
class _Budget:
    """The cost cap of a set of cells: reserve each cell's worst case before sending it."""

    max_usd: float | None
    spent: float = 0.0
    reserved: float = 0.0
    stopped: bool = False

    def admit(self, usd: float) -> bool:
        if self.stopped:
            return False
        if self.max_usd is not None and self.spent + self.reserved + usd > self.max_usd + 1e-9:
            self.stopped = True  # stop here: later cells would pass the cap too, or jump the queue
            return False
        self.reserved += usd
        return True

    def settle(self, reserved: float, spent: float) -> None:
        self.reserved -= reserved
        self.spent += spent


def logged_ok(playground: Playground, experiment_id: str) -> set[tuple[str, str, int, str]]:
    """Keys of the cells of an experiment already logged with status ok."""
    if not playground.log.may_hold(experiment_id):  # a new experiment: no need to parse the log (pandas)
        return set()
    frame = playground.log.read(["experiment_id", "status", "arm", "variant", "repeat", "story_id"])
    done = frame[(frame["experiment_id"] == experiment_id) & (frame["status"] == "ok")]
    return {(str(r.arm), str(r.variant), _whole(r.repeat), str(r.story_id)) for r in done.itertuples()}


def _whole(cell: Any) -> int:
    """A whole-number cell as pandas reads it back: empty (NaN) is 0."""
    return int(cell if cell == cell else 0)


def logged_runs(playground: Playground, experiment_id: str) -> int:
    """How many rows of runs.csv belong to an experiment (after a refusal: the refused arms)."""
    return int((playground.log.read(["experiment_id"])["experiment_id"] == experiment_id).sum())


def pending_cells(playground: Playground, cells: Sequence[Cell], experiment_id: str) -> list[Cell]:
    done = logged_ok(playground, experiment_id)
    return [c for c in cells if c.key not in done]


def _error_record(cell: Cell, experiment_id: str, error: str) -> RunRecord:
    """What a cell refused by the core shows (the core has already logged its own row)."""
    return RunRecord(
        experiment_id=experiment_id,
        provider=cell.arm.provider,
        model=cell.arm.model_id,
        mode=cell.arm.mode,
        prompt=cell.story.prompt(),
        frames_requested=cell.frame_count,
        seed=cell.seed,
        status="error",
        error=error,
        arm=cell.arm.label,
        variant=cell.variant,
        repeat=cell.repeat,
        story_id=cell.story_id,
        latency_s=0.0,
    )


def log_refusals(playground: Playground, refused: Sequence[tuple[Cell, str]], experiment_id: str) -> list[RunRecord]:
    """One error row per cell refused before anything was sent (as `run` logs a refused run), so
    the log says what failed; api_calls 0 keeps them out of the analysis."""
    records = []
    for cell, reason in refused:
        record = _error_record(cell, experiment_id, reason)
        record.run_id, record.created_at = new_run_id(), utc_now()
        record.beats, record.size = list(cell.story.beats), cell.size
        playground.log.append(record)
        records.append(record)
    return records


async def run_outcomes(
    playground: Playground,
    cells: Sequence[Cell],
    experiment_id: str,
    *,
    concurrency: int = 4,
    max_usd: float | None = None,
    session: Session | None = None,
    on_done: CellCallback | None = None,
    on_progress: ProgressByCell | None = None,
    resume: bool = True,
    cancel: asyncio.Event | None = None,
    on_start: Callable[[Cell], None] | None = None,
) -> list[CellOutcome]:
    """Run the cells concurrently; the outcomes of the cells that were sent or refused, in cell order.
    `cancel`: the token that stops every cell's run (each is logged and returned as cancelled).
    `on_start(cell)` when a cell takes its place among the `concurrency` in flight (progress bars)."""
    if concurrency < 1:
        raise InputError(f"concurrency must be at least 1, got {concurrency}")
    todo = pending_cells(playground, cells, experiment_id) if resume else list(cells)
    overall = asyncio.Semaphore(concurrency)
    # A provider that calls out over HTTP is bounded per key by its limiter (providers/limiter.py),
    # shared with every other run of the process; one that draws here (local) by its own bound.
    gates = {
        name: asyncio.Semaphore(provider_class(name).max_concurrency)
        for name in {c.arm.provider for c in todo}
        if not issubclass(provider_class(name), HttpProvider)
    }
    unbounded = contextlib.nullcontext()
    budget = _Budget(max_usd)
    outcomes: list[CellOutcome | None] = [None] * len(todo)

    async def one(index: int, cell: Cell) -> None:
        async with gates.get(cell.arm.provider, unbounded), overall:
            if on_start is not None:
                on_start(cell)
            plan = plan_cell(playground, cell, experiment_id, session)
            if not budget.admit(plan.max_usd):
                outcomes[index] = CellOutcome(cell)
            else:
                outcomes[index] = await _send(
                    playground,
                    cell,
                    experiment_id,
                    plan,
                    budget,
                    session,
                    None if on_progress is None else lambda p: on_progress(index, p),
                    cancel,
                )
        if on_done is not None:
            on_done(cell, outcomes[index].record)  # type: ignore[union-attr]

    await asyncio.gather(*(one(i, c) for i, c in enumerate(todo)))
    return [o for o in outcomes if o is not None]


async def _send(
    playground: Playground,
    cell: Cell,
    experiment_id: str,
    plan: CellPlan,
    budget: _Budget,
    session: Session | None,
    on_progress: Callable[[Progress], None] | None,
    cancel: asyncio.Event | None = None,
) -> CellOutcome:
    """One cell through the core; a failure becomes this cell's error row, never the others'."""
    outcome = CellOutcome(cell)
    try:
        outcome.result = await playground.run(
            cell.request(experiment_id), session, on_progress=on_progress, cancel=cancel
        )
        outcome.record = outcome.result.record
    except SpendCapError as exc:  # a settings cap (per run/session/day): later cells would hit it too
        budget.stopped = True
        outcome.record = _error_record(cell, experiment_id, str(exc))
    except PlaygroundError as exc:
        outcome.record = _error_record(cell, experiment_id, str(exc))
    except Exception as exc:  # a bug in one arm must not take the others down
        outcome.record = _error_record(cell, experiment_id, f"unexpected {type(exc).__name__}: {exc}")
    finally:
        budget.settle(plan.max_usd, outcome.record.cost_usd if outcome.record is not None else 0.0)
    return outcome


async def run_cells(
    playground: Playground,
    cells: Sequence[Cell],
    experiment_id: str,
    *,
    concurrency: int = 4,
    max_usd: float | None = None,
    session: Session | None = None,
    on_done: CellCallback | None = None,
    resume: bool = True,
    on_start: Callable[[Cell], None] | None = None,
) -> list[RunRecord]:
    """The rows of the cells that were sent (refused and resumed-over cells have none)."""
    outcomes = await run_outcomes(
        playground,
        cells,
        experiment_id,
        concurrency=concurrency,
        max_usd=max_usd,
        session=session,
        on_done=on_done,
        resume=resume,
        on_start=on_start,
    )
    return [o.record for o in outcomes if o.record is not None]
