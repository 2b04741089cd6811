"""The Generate tab's estimate line: what a request may cost, or why it would be refused."""

from __future__ import annotations

from playground.base.errors import PlaygroundError, SpendCapError
from playground.base.types import GenerationRequest
from playground.core.playground import Playground
from playground.core.session import Session


def estimate_text(playground: Playground, request: GenerationRequest, session: Session | None = None) -> str:
    """The cost estimate of a request before it is sent, or why it would be refused."""
    try:
        request = playground.resolve(request)
    except PlaygroundError as exc:
        return f"*{exc}*"
    est = playground.estimate(request)
    note = " (estimate: model not in the price table)" if est.price.estimated else ""
    state = "ready" if playground.configured(request.provider, session) else "not configured"
    try:
        playground.check_caps(est, session)
    except SpendCapError as exc:
        state = f"would be refused: {exc}"
    return (f"**Estimated cost** ${est.usd:.4f} = {est.images} × ${est.per_image_usd:.4f}{note} · **at most** "
            f"${est.max_usd:.4f} (the spend caps check this) · {state}")
