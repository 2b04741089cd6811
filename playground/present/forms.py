"""Form values read as the core takes them: beats one per line, the Frames box as typed, a cost."""

from __future__ import annotations

import math

from playground.base.errors import InputError

# The Mode control of Generate and Compare: (label, value); "chain-previous" is a chain from the
# frame before, as an arm says it (experiments.cells.parse_arm)
MODE_CHOICES = [
    ("sequence", "sequence"),
    ("baseline", "baseline"),
    ("chain from frame 1", "chain"),
    ("chain from the frame before", "chain-previous"),
]
MODE_INFO = (
    "sequence: one call for N frames · baseline: N independent single-image calls · chain: frame 1, then "
    "each frame with frame 1 (or the frame before) as its reference image"
)


def mode_and_chain(value: str) -> tuple[str, str]:
    """(mode, chain_from) of a Mode control's value."""
    return ("chain", "previous") if value == "chain-previous" else (value, "first")


def parse_beats(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def frames_value(value: float | None) -> int | float:
    """The Frames box exactly as typed: no clamping or rounding here, so a value outside 1..15
    (or not whole) reaches the core, which refuses it (a logged error row, nothing sent)."""
    if value is None:  # an emptied box
        return 0
    return int(value) if float(value).is_integer() else value


def parse_cost(value: float | None) -> float:
    if value is None or math.isnan(value):
        raise InputError("type what the frames cost in US dollars (0 if they were free)")
    return float(value)
