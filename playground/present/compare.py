"""What the Compare tab shows, without gradio: the form read as a comparison, its estimate, an
arm's header and prompts, the blind-vote pool, and the status line of a finished comparison."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from playground.base.errors import PlaygroundError
from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.core.playground import Playground
from playground.core.session import Session
from playground.experiments.cells import Arm, Cell, CellOutcome, CellPlan, parse_arms, total_max_usd, total_usd
from playground.experiments.compare import (
    MAX_ARMS,
    MAX_VARIANTS,
    Comparison,
    comparison_cells,
    needs_confirmation,
    plan_comparison,
)
from playground.experiments.votes import add_score, add_vote, blind_pair
from playground.present.forms import frames_value, parse_beats
from playground.present.runs import frame_failures, gallery_items

MAX_ROWS = MAX_ARMS * MAX_VARIANTS
VARIANT_LABELS = ("A", "B", "C")[:MAX_VARIANTS]
DEFAULT_ARMS = "local::sequence\nlocal::baseline"


@dataclass
class PendingConfirmation:
    """The comparison this session was asked to confirm, held on the server (a gr.State, mutated
    in place): "Yes, run it" runs that comparison once and nothing else, so calling the private
    confirm event directly cannot skip the question."""

    form: CompareForm | None = None
    max_usd: float = 0.0  # the worst case shown when asking

    def take(self) -> tuple[CompareForm | None, float]:
        """What was asked, forgotten at once: a confirmation is used once."""
        asked, self.form = self.form, None
        return asked, self.max_usd


NOTHING_TO_CONFIRM = (
    "nothing to confirm: press Run comparison first; a confirmation runs only the comparison this "
    "page was asked about, once"
)


@dataclass(frozen=True)
class CompareForm:
    """The Compare form's values, as a plan the core can check and run."""

    story: Story
    arms_text: str
    variants: dict[str, str] | None
    frames: int
    seed: int | None
    size: str = ""  # "" = each model's default

    def plans(
        self, playground: Playground, session: Session | None, experiment_id: str | None = None
    ) -> list[CellPlan]:
        """The cells with their estimates; raises what the comparison would be refused for (and,
        given the id of a comparison being sent, logs each refused arm as an error row)."""
        return plan_comparison(
            playground,
            self.story,
            self.arms(),
            variants=self.variants,
            frames=self.frames,
            seed=self.seed,
            size=self.size,
            session=session,
            experiment_id=experiment_id,
        )

    def arms(self) -> list[Arm]:
        return parse_arms(self.arms_text.splitlines())

    def cells(self) -> list[Cell]:
        return comparison_cells(
            self.story, self.arms(), variants=self.variants, frames=self.frames, seed=self.seed, size=self.size
        )


def read_form(
    prompts: list[str], beats_text: str, frames: float | None, seed: float | None, arms_text: str, size: str | None = ""
) -> CompareForm:
    """Prompt A alone: no variants; B (and C) filled in: variants A, B (, C) of the same story."""
    texts = [(p or "").strip() for p in prompts]
    variants = {label: text for label, text in zip(VARIANT_LABELS, texts) if text} if any(texts[1:]) else None
    return CompareForm(
        story=Story(character=texts[0], beats=tuple(parse_beats(beats_text))),
        arms_text=arms_text or "",
        variants=variants,
        seed=None if seed is None else int(seed),
        frames=frames_value(frames),  # type: ignore[arg-type]  # as typed: the core refuses 2.5
        size=(size or "").strip(),
    )


def estimate_markdown(playground: Playground, form: CompareForm, session: Session | None) -> str:
    try:
        plans = form.plans(playground, session)
    except PlaygroundError as exc:
        return f"*{exc}*"
    usd, most = total_usd(plans), total_max_usd(plans)
    images = sum(p.estimate.images for p in plans if p.estimate)
    note = (
        f" — above ${playground.settings.confirm_usd:.2f} (PLAYGROUND_CONFIRM_USD): you will be asked to confirm"
        if needs_confirmation(playground, most)
        else ""
    )
    return f"**Estimated total** ${usd:.4f} for {len(plans)} run(s), {images} image(s), **at most** ${most:.4f}{note}"


def append_arm(text: str, provider: str, model: str, mode: str) -> str:
    """The arms box with one more line, `provider:model:mode`."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return "\n".join(lines + [f"{provider}:{model or ''}:{mode}"])


def row_header(record: RunRecord, variant: str = "") -> str:
    """One arm's line above its gallery: status, frames, cost, latency, consistency."""
    scores = [
        (n.replace("_consistency", ""), getattr(record, n))
        for n in ("subject_consistency", "palette_consistency", "structure_consistency")
    ]
    shown = " · ".join(f"{n} {v:.3f}" for n, v in scores if isinstance(v, float))
    head = (
        f"**{record.arm}**{f' · variant {variant}' if variant else ''} — **{record.status}** · "
        f"{record.frames_returned}/{record.frames_requested} frames · ${record.cost_usd:.4f} · "
        f"{record.latency_s or 0:.2f} s"
    )
    lines = [head + (f" · consistency: {shown}" if shown else "")]
    failures = frame_failures(record)
    if failures:
        lines.append("**Not returned:** " + " · ".join(failures))
    elif record.error:
        lines.append(f"**Why:** {record.error}")
    return "\n\n".join(lines)


def composed_prompts(record: RunRecord) -> str:
    sent = record.composed_prompts or []
    if not sent:
        return "(nothing was sent)"
    return "\n\n".join(f"[call {i + 1}] {text}" for i, text in enumerate(sent)) if len(sent) > 1 else sent[0]


def outcome_items(outcome: CellOutcome) -> list[tuple[str, str]]:
    return [] if outcome.result is None else gallery_items(outcome.result.frames)


@dataclass
class VotePool:
    """The sequences of the last comparison a blind pair is drawn from (small: ids and paths)."""

    experiment_id: str
    records: list[RunRecord]
    items: dict[str, list[tuple[str, str]]]
    pair: tuple[str, str] | None = None  # (left run id, right run id) awaiting a vote
    shown: set[frozenset[str]] = field(default_factory=set)  # pairs already drawn: each pair once first

    @classmethod
    def of(cls, comparison: Comparison) -> VotePool:
        done = [o for o in comparison.outcomes if o.record is not None and o.result is not None]
        return cls(
            comparison.experiment_id,
            [o.record for o in done],  # type: ignore[misc]
            {o.record.run_id: outcome_items(o) for o in done},  # type: ignore[union-attr]
        )

    def label(self, run_id: str) -> str:
        record = next(r for r in self.records if r.run_id == run_id)
        return record.arm + (f" (variant {record.variant})" if record.variant else "")

    def draw(self, rng: random.Random) -> tuple[str, str] | None:
        if len(self.shown) == len(self.records) * (len(self.records) - 1) // 2:
            self.shown.clear()  # every pair has been shown: start another round
        pair = blind_pair(self.records, rng, self.shown)
        self.pair = None if pair is None else (pair[0].run_id, pair[1].run_id)
        if self.pair:
            self.shown.add(frozenset(self.pair))
        return self.pair


def cast_vote(
    playground: Playground,
    pool: VotePool | None,
    verdict: str,
    left_score: str | None,
    right_score: str | None,
    rater: str,
) -> str:
    """Log the vote (and any scores), then reveal which arm was which."""
    if pool is None or pool.pair is None:
        raise PlaygroundError("no pair to vote on: run a comparison, then press Another pair")
    left, right = pool.pair
    add_vote(playground, pool.experiment_id, left, right, verdict, rater)
    for run_id, score in ((left, left_score), (right, right_score)):
        if score:
            add_score(playground, pool.experiment_id, run_id, score, rater)
    pool.pair = None
    said = {"left": "left better", "right": "right better", "tie": "a tie"}[verdict]
    return f"Saved ({said}). **Left** was `{pool.label(left)}`, **right** was `{pool.label(right)}`."


def status_line(comparison: Comparison) -> str:
    records = comparison.records
    ok = sum(r.status == "ok" for r in records)
    slowest = max((r.latency_s or 0 for r in records), default=0.0)
    stopped = sum(r.status == "cancelled" for r in records)
    cancelled = f" · **{stopped} cancelled** (their cost is what may have been billed)" if stopped else ""
    return (
        f"Experiment `{comparison.experiment_id}`: {ok}/{len(records)} arm(s) ok{cancelled} · wall time "
        f"{comparison.wall_s:.2f} s (slowest arm {slowest:.2f} s) · cost "
        f"${sum(r.cost_usd for r in records):.4f}. Vote in **Blind vote**; figures in **Analysis**."
    )
