"""One comparison: a story across up to MAX_ARMS arms (x prompt variants), all at once, refused
as a whole before anything is sent when any arm would be."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from playground.base.errors import InputError, PlaygroundError
from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.core.playground import Playground
from playground.core.session import Session
from playground.experiments.cells import (
    Arm,
    Cell,
    CellOutcome,
    CellPlan,
    ProgressByCell,
    check_budget,
    check_variant_labels,
    log_refusals,
    plan_cells,
    raise_problems,
    run_outcomes,
    variant_story,
)

MAX_ARMS = 6  # arms of one comparison (the Compare tab has one row per arm and variant)


MAX_VARIANTS = 3  # prompt variants of one comparison


# -- one comparison ---------------------------------------------------------------------------
@dataclass
class Comparison:
    experiment_id: str
    outcomes: list[CellOutcome] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def records(self) -> list[RunRecord]:
        return [o.record for o in self.outcomes if o.record is not None]


def new_experiment_id(prefix: str = "cmp") -> str:
    return f"{prefix}-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def comparison_cells(
    story: Story,
    arms: Sequence[Arm],
    *,
    variants: Mapping[str, str] | None = None,
    frames: int,
    seed: int | None,
    size: str = "",
) -> list[Cell]:
    """Arms x prompt variants of one story, each arm with the same seed (fair comparison)."""
    if not arms:
        raise InputError("give at least one arm, e.g. local::sequence")
    if len(arms) > MAX_ARMS:
        raise InputError(f"{len(arms)} arms: a comparison takes at most {MAX_ARMS}")
    labels = [a.label for a in arms]
    if len(set(labels)) < len(labels):
        raise InputError("an arm is listed twice: " + ", ".join(sorted({x for x in labels if labels.count(x) > 1})))
    chosen = {k: v for k, v in (variants or {}).items() if v and v.strip()}
    check_variant_labels(chosen)
    if len(chosen) > MAX_VARIANTS:
        raise InputError(f"{len(chosen)} prompt variants: a comparison takes at most {MAX_VARIANTS}")
    stories = {label: variant_story(story, text) for label, text in chosen.items()} or {"": story}
    return [
        Cell(story=s, arm=arm, variant=label, frames=frames, seed=seed, size=size)
        for label, s in stories.items()
        for arm in arms
    ]


def plan_comparison(
    playground: Playground,
    story: Story,
    arms: Sequence[Arm],
    *,
    variants: Mapping[str, str] | None = None,
    frames: int,
    seed: int | None,
    size: str = "",
    session: Session | None = None,
    experiment_id: str | None = None,
) -> list[CellPlan]:
    """The cells of a comparison with their estimates; InputError or SpendCapError when
    anything would be refused (so callers can show the total and ask before sending).

    With `experiment_id` (the comparison is being sent, not just estimated) a refusal also logs
    an error row for each refused arm under that id: nothing is sent, the log says what failed."""
    cells = comparison_cells(story, arms, variants=variants, frames=frames, seed=seed, size=size)
    plans = plan_cells(playground, cells, session=session)
    try:
        raise_problems(plans)
        check_budget(playground, plans, session)
    except PlaygroundError as exc:
        if experiment_id is not None:
            refused = [(p.cell, p.problem) for p in plans if p.problem] or [(p.cell, str(exc)) for p in plans]
            log_refusals(playground, refused, experiment_id)
        raise
    return plans


async def compare(
    playground: Playground,
    story: Story,
    arms: Sequence[Arm],
    *,
    variants: Mapping[str, str] | None = None,
    frames: int,
    seed: int | None,
    session: Session | None = None,
    on_progress: ProgressByCell | None = None,
    size: str = "",
    experiment_id: str | None = None,
    cancel: asyncio.Event | None = None,
) -> Comparison:
    """All arms (x variants) at once; bad input or a spend cap refuses the whole comparison
    before anything is sent (each refused arm logged as an error row), a failing arm only ends
    its own row. `cancel`: the token that stops every arm (each logged and returned as cancelled)."""
    comparison = Comparison(experiment_id or new_experiment_id())
    cells = [
        p.cell
        for p in plan_comparison(
            playground,
            story,
            arms,
            variants=variants,
            frames=frames,
            seed=seed,
            size=size,
            session=session,
            experiment_id=comparison.experiment_id,
        )
    ]
    started = time.perf_counter()
    # every cell at once: the per-provider bound in run_outcomes is the only queue
    comparison.outcomes = await run_outcomes(
        playground,
        cells,
        comparison.experiment_id,
        concurrency=len(cells),
        session=session,
        on_progress=on_progress,
        resume=False,
        cancel=cancel,
    )
    comparison.wall_s = round(time.perf_counter() - started, 4)
    return comparison


def needs_confirmation(playground: Playground, usd: float) -> bool:
    """Whether a total (the worst case: total_max_usd) asks the user first (Settings.confirm_usd,
    PLAYGROUND_CONFIRM_USD)."""
    return usd > playground.settings.confirm_usd
