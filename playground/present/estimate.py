"""The Generate tab's estimate line: what a request may cost, or why the run would refuse it. It
is written from the request's plan (core.plan), the same one the run sends, so the line and the
run never disagree."""

from __future__ import annotations

from playground.base.types import GenerationRequest
from playground.core.plan import Plan
from playground.core.playground import Playground
from playground.core.session import Session


def estimate_line(plan: Plan) -> str:
    """The estimate and "ready", or the run's own refusal: a request it cannot plan (the prompt,
    the model, a reference) in place of the estimate, one it would refuse beside it."""
    estimate, refusal = plan.estimate, plan.refusals[0] if plan.refusals else None
    if estimate is None:
        return f"*{refusal.message if refusal else 'nothing to estimate'}*"
    note = " (estimate: model not in the price table)" if estimate.price.estimated else ""
    state = (
        "ready"
        if refusal is None
        else refusal.message
        if refusal.kind == "not_configured"
        else f"would be refused: {refusal.message}"
    )
    inputs = f" + ${estimate.references_usd:.4f} reference input" if estimate.references_usd else ""
    used, given = plan.beats_used
    beats = f" · uses beats 1–{used} of {given}" if used < given else ""
    return (
        f"**Estimated cost** ${estimate.usd:.4f} = {estimate.images} × ${estimate.per_image_usd:.4f}{inputs}{note} · "
        f"**at most** ${estimate.max_usd:.4f} (the spend caps check this){beats} · {state}"
    )


def estimate_text(playground: Playground, request: GenerationRequest, session: Session | None = None) -> str:
    """The estimate line of a request in this session."""
    return estimate_line(playground.plan(request, session))
