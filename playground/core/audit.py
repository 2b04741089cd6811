"""What a provider reports is checked before it is logged or counted (issue 13).

Anything that answers at a provider's base URL can send any number: a negative or infinite
token count, more billed images than were asked for, a cost of NaN. `problems` lists what is
out of range in one call's `CallOutcome`; the core counts a call with a problem at the most it
could cost (`pricing.most_cost`) and writes the problem into the row's `error`. Frame indexes
are checked where frames arrive (`core.sink.CallSink`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from playground.base.types import CallOutcome, ProviderCall

MAX_COUNT = 10**9  # no token or image count of one call comes near this
MAX_USAGE_VALUES = 200  # a usage block is a handful of counts
MAX_SHOWN = 3  # problems named in the row; the rest are counted


def is_count(value: object) -> bool:
    """A whole number from 0 to MAX_COUNT (a bool is not a count)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value == int(value) and 0 <= value <= MAX_COUNT


def is_amount(value: object) -> bool:
    """A finite amount of dollars, 0 or more."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def problems(call: ProviderCall, outcome: CallOutcome, delivered: int) -> list[str]:
    """What is out of range in one call's outcome (empty: every value can be trusted).
    `delivered` = the frames of this call that were saved: a provider bills at least those."""
    found = []
    billed = outcome.images_billed
    if billed is not None and not (is_count(billed) and delivered <= billed <= call.frames):
        said = f" ({outcome.cost_rule})" if outcome.cost_rule else ""
        found.append(f"{billed!r} billed image(s) reported{said}, outside {delivered}..{call.frames}")
    if outcome.cost_usd is not None and not is_amount(outcome.cost_usd):
        found.append(f"cost {outcome.cost_usd!r} is not a finite amount of $0 or more")
    if outcome.usage is not None and not isinstance(outcome.usage, dict):
        found.append(f"usage {str(outcome.usage)[:40]!r} is not an object")
    found += [
        f"usage.{path} {repr(value)[:40]} is not a count"
        for path, value in _leaves(outcome.usage)
        if not _usage_ok(value)
    ]
    if len(found) > MAX_SHOWN:
        found = found[:MAX_SHOWN] + [f"{len(found) - MAX_SHOWN} more"]
    return found


def _usage_ok(value: object) -> bool:
    return value is None or is_count(value)


def _leaves(usage: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every value in a usage block, at most MAX_USAGE_VALUES of them."""
    count = 0
    stack: list[tuple[str, Any, int]] = [(path, usage, depth)]
    while stack:
        where, value, level = stack.pop()
        if isinstance(value, dict) and level < 4:
            stack.extend((f"{where}.{k}" if where else str(k), v, level + 1) for k, v in reversed(value.items()))
        elif isinstance(value, list) and level < 4:
            stack.extend((f"{where}[{i}]", v, level + 1) for i, v in reversed(list(enumerate(value))))
        elif where:  # a leaf (the block itself is not one)
            count += 1
            if count > MAX_USAGE_VALUES:
                yield "(more values)", f"over {MAX_USAGE_VALUES}"
                return
            yield where, value
