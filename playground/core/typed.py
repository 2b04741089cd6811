"""Values from a stranger's call to the typed API, checked before they become a request.

`gr.api` types its parameters in the listing but converts and checks nothing: a `frames: int`
parameter receives "abc", a `prompt: str` a list. Every value is checked here, with the words the
CLI uses, and every bound is the run's own (the plan checks the rest, as for any run).
"""

from __future__ import annotations

from collections.abc import Sequence

from playground.base.errors import InputError
from playground.base.types import MAX_FRAMES, MAX_PROMPT_CHARS, MODES, GenerationRequest
from playground.core.plan import frames_from_beats

MAX_SEED = 2**32 - 1  # the widest seed a provider documents (unsigned 32 bit)
CHAIN_PREVIOUS = "chain-previous"  # the mode value of a chain from the frame before
MAX_NAME_CHARS = 200  # provider, model, size, ids, filters


def text(value: object, name: str, limit: int = MAX_NAME_CHARS, *, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise InputError(f"{name} is text, got {type(value).__name__}")
    if len(value) > limit:
        raise InputError(f"{name} is at most {limit} characters, got {len(value)}")
    return value


def whole(value: object, name: str, low: int, high: int) -> int | None:
    """A whole number in [low, high], or None; 3.0 counts as 3, 2.5 and "3" are refused."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def text_list(value: object, name: str, most: int, limit: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # one string: one item per line, as the Frame beats box takes them
        value = value.splitlines()
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{name} is a list of text")
    if len(value) > most:
        raise InputError(f"{len(value)} {name}; the limit is {most}")
    return [text(v, name, limit) for v in value]


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{name} is true or false, got {value!r}")
    return value


def run_request(
    prompt: object,
    beats: object = None,
    frames: object = None,
    provider: object = "local",
    model: object = "",
    mode: object = "sequence",
    seed: object = None,
    size: object = "",
) -> GenerationRequest:
    """A run as the API asked for it: `frames` None takes one frame per beat; more beats than
    frames sends the first ones (as the form and the CLI)."""
    beat_list = text_list(beats, "beats", MAX_FRAMES, MAX_PROMPT_CHARS)
    n = whole(frames, "frames", 1, MAX_FRAMES)
    mode_name = text(mode, "mode", default="sequence") or "sequence"
    chain_from = "first"
    if mode_name == CHAIN_PREVIOUS:  # as the forms spell it: a chain whose every frame takes the one before
        mode_name, chain_from = "chain", "previous"
    if mode_name not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)} or {CHAIN_PREVIOUS}, got {mode_name!r}")
    return GenerationRequest(
        prompt=text(prompt, "prompt", MAX_PROMPT_CHARS),
        beats=beat_list,
        frames=frames_from_beats(n, beat_list),
        mode=mode_name,
        chain_from=chain_from,
        provider=text(provider, "provider", default="local") or "local",
        model=text(model, "model"),
        seed=whole(seed, "seed", 0, MAX_SEED),
        size=text(size, "size").strip(),
    )
