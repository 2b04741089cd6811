"""What a run cost, by its provider's billing rule, checked (audit) before it counts, and how a
row that could not be filled completely still counts the most it could cost."""

from __future__ import annotations

from playground.base import pricing
from playground.base.pricing import Price
from playground.base.types import CallOutcome, RunRecord
from playground.core import audit
from playground.core.calls import CallState
from playground.core.plan import Estimate
from playground.core.sink import RunSink
from playground.providers.base import Provider

POSSIBLY_BILLED = "possibly billed (estimate)"  # cost_source when cost_usd counts calls that may have been billed


def status_of(returned: int, requested: int) -> str:
    return "error" if returned == 0 else "partial" if returned < requested else "ok"


def note_finish_failure(record: RunRecord, estimate: Estimate, what: str) -> None:
    """Filling the row failed half-way: say so in it and, if billing did not finish, count the
    most the run could cost, so the spend caps never miss money that may have been spent."""
    if record.status != "cancelled":
        record.status = "error"
    record.error = "; ".join(filter(None, [record.error, f"internal error while finishing the run ({what})"]))
    if not record.cost_source:
        record.cost_usd, record.cost_source = estimate.max_usd, "estimate (billing failed)"


WORST_CASE = "worst case (the provider reported values out of range)"  # cost_source of such a row


def price_source(price: Price) -> str:
    return price.source + (f"; worst case: {price.most_source}" if price.most_source else "")


def bill(record: RunRecord, provider: Provider, state: CallState, sink: RunSink, estimate: Estimate) -> None:
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
        call_most = pricing.most_cost(
            price, size, call.frames, call.prompt, [(r.width, r.height) for r in call.references]
        )
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
        notes.append(
            f"cost_usd counts ${unsure_usd:.4f} for {unsure_images} image(s) that may have been billed "
            "(calls sent, then failed or stopped)"
        )
    if worst_cost:
        notes.append(
            f"cost_usd counts ${worst_cost:.4f}, the worst case of the call(s) whose answer held values out of range"
        )
    notes += [f"check the price table: {o}" for o in over]  # counted as reported: the caps see more, not less
    state.billing_note = "; ".join(notes)
