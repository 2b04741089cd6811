"""The one pre-send check: `make_plan(request, ...)` says what a run would send, what it may cost
at most, and why it would be refused. `Playground.plan` gathers what it needs (the session's
spend, today's, the keys) and `Playground.run` sends exactly a plan's calls, so the Generate
tab's estimate line, experiments and the run can never disagree.

The checks, in the order a run makes them (its first refusal is the one it raises and logs):
the story (prompt, frames, beats, mode), the provider and model (id shape, listed or allowed,
native sequence), the size (shape and limits of a model that takes any WxH), the number of
reference images, the references themselves, then the spend caps on the most the run could
cost, the key, and each call against the model's documented limits (Provider.validate).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from playground.base import pricing, prompts
from playground.base.config import Settings, allowed_models_error
from playground.base.errors import InputError, PlaygroundError, SpendCapError, loggable
from playground.base.pricing import Price
from playground.base.types import (
    CHAIN_FROM,
    MAX_FRAMES,
    MAX_PROMPT_CHARS,
    MIN_FRAMES,
    MODES,
    GenerationRequest,
    ProviderCall,
    ReferenceImage,
)
from playground.core.references import MAX_REFERENCES
from playground.providers import provider_class, provider_names
from playground.providers.base import Provider, check_size_limits

RefusalKind = Literal["input", "not_configured", "spend_cap"]
EMPTY_PROMPT = "the prompt is empty: describe the character, style and story"


@dataclass(frozen=True)
class Estimate:
    usd: float  # typical: what the run should cost
    images: int
    price: Price
    per_image_usd: float
    max_usd: float  # the most it could cost (billing rule, size, frames, prompt): the caps check this
    priced_size: str = ""  # the size as its price reads it (a named size as its WxH: Provider.priced_size)
    references_usd: float = 0.0  # typical: the reference images as input (token-billed models; in `usd`)


def cost_words(usd: float, max_usd: float) -> str:
    """How a cap refusal names an amount: the worst case, with the typical figure when they differ."""
    if max_usd > usd + 1e-9:
        return f"at most ${max_usd:.4f} (typical ${usd:.4f})"
    return f"estimated ${max_usd:.4f}"


@dataclass(frozen=True)
class Refusal:
    """Why a request would not be sent: its message is exactly what the run raises and logs."""

    kind: RefusalKind
    message: str

    def error(self) -> PlaygroundError:
        return SpendCapError(self.message) if self.kind == "spend_cap" else InputError(self.message)


@dataclass(frozen=True)
class Plan:
    """What a request would do, checked before anything is sent. It holds no key: the run adds
    it to each call at send time, so a plan can be shown or logged."""

    request: GenerationRequest  # as asked (a refused row is built from it)
    resolved: GenerationRequest | None = None  # defaults filled: model, size, stripped beats
    provider: type[Provider] | None = None
    references: tuple[ReferenceImage, ...] = ()  # checked and re-encoded; the run sends these
    calls: tuple[ProviderCall, ...] = ()  # what will be sent, one call per sequence or per baseline frame
    estimate: Estimate | None = None
    refusals: tuple[Refusal, ...] = field(default_factory=tuple)  # empty: it will be sent

    @property
    def beats_used(self) -> tuple[int, int]:
        """(beats sent, beats given): a run with more beats than frames sends the first N; the
        row keeps every beat given, so nothing typed is lost."""
        request = self.resolved or self.request
        given = len(request.beats)
        return min(given, request.frames), given

    @property
    def sendable(self) -> bool:
        return not self.refusals

    def raise_if_refused(self) -> None:
        if self.refusals:
            raise self.refusals[0].error()


@dataclass(frozen=True)
class Spent:
    """The spend the caps count besides a run's own worst case."""

    session: float | None  # the session's spend and its runs in flight; None: no session (no session cap)
    day: Callable[[], tuple[float, float]]  # (today's logged spend, worst cases in flight): read only when needed


def make_plan(
    request: GenerationRequest,
    settings: Settings,
    *,
    overrides: dict[tuple[str, str], Price],
    spent: Spent | None,
    configured: Callable[[str], bool],
    load_reference: Callable[[Path], ReferenceImage],
) -> Plan:
    """Every check a run makes before it sends, in its order; the plan stops at the first refusal
    of the request itself (story, model, size, references), and carries the estimate past a cap
    or key refusal so the estimate line can show it. `spent` None: the spend caps are left to
    the caller (experiments check them over all their cells)."""
    try:
        resolved = resolve(request, settings)
    except InputError as exc:
        return Plan(request, refusals=(Refusal("input", str(exc)),))
    cls = provider_class(resolved.provider)
    try:
        references = tuple(load_reference(Path(p)) for p in resolved.references)
    except InputError as exc:
        return Plan(request, resolved, cls, refusals=(Refusal("input", str(exc)),))
    calls = calls_for(resolved, references)
    estimate = estimate_cost(cls, resolved, calls, overrides)
    plan = Plan(request, resolved, cls, references, calls, estimate)
    refusal = caps_refusal(estimate, settings, spent) if spent is not None else None
    if refusal is None and cls.key_env and not configured(cls.name):
        refusal = Refusal("not_configured", f"{cls.name} is not configured: set {cls.key_env}")
    if refusal is None:
        refusal = calls_refusal(cls, calls)
    return replace(plan, refusals=(refusal,)) if refusal else plan


def check_story(
    prompt: str,
    beats: Sequence[str],
    frames: float,
    mode: str,
    *,
    empty: str = EMPTY_PROMPT,
    frames_range: bool = True,
    total: bool = True,
    first_beats: bool = False,
) -> None:
    """The story's own limits (the run's, and an import's with its own words for an empty prompt).
    `frames` as it came: the Frames box may send 2.5, which is refused, never rounded.
    `first_beats`: a run with more beats than frames sends the first `frames` of them (an import
    of frames already made still refuses them), at most one beat per possible frame."""
    if not prompt or not prompt.strip():
        raise InputError(empty)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InputError(f"the prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}")
    if frames_range and (not isinstance(frames, int) or not MIN_FRAMES <= frames <= MAX_FRAMES):
        raise InputError(f"frames must be between {MIN_FRAMES} and {MAX_FRAMES}, got {frames}")
    if first_beats and len(beats) > MAX_FRAMES:
        raise InputError(f"{len(beats)} beats; the limit is {MAX_FRAMES}, one per frame")
    if len(beats) > frames and not first_beats:
        raise InputError(f"{len(beats)} beats for {frames} frames: give at most one beat per frame")
    chars = len(prompt) + sum(map(len, beats))
    if total and chars > MAX_PROMPT_CHARS:  # the beats are sent inside the prompt
        raise InputError(f"the prompt and beats are {chars} characters together; the limit is {MAX_PROMPT_CHARS}")
    if mode not in MODES:
        raise InputError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


NO_FRAME_COUNT = "give a frame count, or one beat per frame"


def frames_from_beats(frames: int | None, beats: Sequence[str]) -> int:
    """The frame count of a run asked without one: one frame per (non-blank) beat."""
    if frames is not None:
        return frames
    given = [b for b in beats if b and b.strip()]
    if not given:
        raise InputError(NO_FRAME_COUNT)
    return len(given)


def resolve(request: GenerationRequest, settings: Settings) -> GenerationRequest:
    """Fill defaults (model, size) and check everything about the request itself."""
    beats = [loggable(b.strip()) for b in request.beats if b and b.strip()]
    check_story(request.prompt, beats, request.frames, request.mode, first_beats=True)
    cls = provider_class(request.provider)
    model_id = (request.model or "").strip() or cls.default_model()
    check_model(cls, model_id, settings)
    info = cls.model(model_id)
    if request.mode == "sequence" and not info.native_sequence and request.frames > 1:
        raise InputError(f"{cls.name}/{model_id} has no native sequential mode: use mode baseline")
    if request.mode == "chain":
        check_chain(cls.name, model_id, info.max_references, request)
        check_chain_start(cls, model_id, request)
    size = (request.size or info.default_size).strip()
    if not info.sizes:  # a listed size is checked by Provider.validate; otherwise check its shape
        check_size_shape(size, f"{cls.name}/{model_id}", cls.size_presets)
        check_size_limits(size, info, f"{cls.name}/{model_id}")
    if len(request.references) > MAX_REFERENCES:
        raise InputError(f"{len(request.references)} reference images; the limit is {MAX_REFERENCES}")
    # lone surrogates (undecodable argv bytes, JSON's "\ud800") as their escapes: sent as logged
    return replace(request, prompt=loggable(request.prompt), model=model_id, size=size, beats=beats)


def check_model(cls: type[Provider], model_id: str, settings: Settings) -> None:
    """An id shaped like the provider's ids; one outside its model list only where allowed
    (PLAYGROUND_ALLOWED_MODELS; on a Space none by default). A dated snapshot of a listed
    model ("gpt-image-1.5-2025-12-16") counts as listed: it is priced like it."""
    check_model_id(cls, model_id)
    listed = [m.id for m in cls.models]
    if model_id in listed or pricing.snapshot_base(model_id) in listed:
        return
    if not cls.accepts_custom_models:
        raise InputError(f"unknown model {model_id!r} for {cls.name}; choose one of: {', '.join(listed)}")
    if not settings.allows_model(cls.name, model_id):
        where = "on a public Space (SPACE_ID is set)" if settings.on_space else "here"
        raise InputError(
            f"model id {model_id!r} is not in {cls.name}'s model list, and other ids are not allowed "
            f"{where}: choose one of {', '.join(listed)}, or the owner allows it with "
            f"PLAYGROUND_ALLOWED_MODELS (e.g. {cls.name}:{model_id} or {cls.name}:*)"
        )


def check_chain(provider: str, model_id: str, max_references: int, request: GenerationRequest) -> None:
    """Chain mode needs a model that takes a reference image, and room for the chained frame
    beside the user's own references (frames 2..N send both: the chained frame first)."""
    if request.chain_from not in CHAIN_FROM:
        raise InputError(f"chain_from must be one of {', '.join(CHAIN_FROM)}, got {request.chain_from!r}")
    if max_references == 0:
        raise InputError(
            f"{provider}/{model_id} takes no reference image, so it cannot chain (frames 2..N take "
            "an earlier frame as their reference): use mode baseline, or a model with reference input"
        )
    if request.frames > 1 and len(request.references) + 1 > max_references:
        raise InputError(
            f"{provider}/{model_id} accepts at most {max_references} reference image(s): chain mode "
            f"sends the chained frame besides your {len(request.references)}; remove "
            f"{len(request.references) + 1 - max_references} of them"
        )


def check_chain_start(cls: type[Provider], model_id: str, request: GenerationRequest) -> None:
    """Frame 1 of a chain is made from the story, beat 1 and the user's references alone: on a
    model that only edits, it needs one of those (the provider refuses a call without)."""
    text_to_image = cls.text_to_image_id(model_id)
    if text_to_image is None or request.references:
        return
    twin = cls.model(text_to_image)
    instead = (
        f"or use {text_to_image} (text to image), which chains from its own frame 1"
        if twin.max_references
        else f"or use {text_to_image} (text to image) in mode sequence or baseline: it takes no reference "
        "image, so it cannot chain"
    )
    raise InputError(
        f"{cls.name}/{model_id} edits reference images: frame 1 of a chain needs a reference image "
        f"on this model (frames 2..N get an earlier frame); add one, {instead}"
    )


def calls_for(request: GenerationRequest, references: tuple[ReferenceImage, ...]) -> tuple[ProviderCall, ...]:
    """One call for a sequence, N single-frame calls for a baseline or a chain (without the key).
    A chain's call 1 has the story, beat 1 and the user's references; call i (i > 1) the same
    prompt shape with frame 1 (chain_from "first") or frame i-1 ("previous") added by the run as
    its first reference once that frame is back."""
    if request.mode == "sequence":
        return (
            ProviderCall(
                model=request.model,
                prompt=prompts.sequence_prompt(request.prompt, request.beats, request.frames),
                frames=request.frames,
                size=request.size,
                seed=request.seed,
                references=references,
                beats=tuple(request.beats[: request.frames]),
            ),
        )
    return tuple(
        ProviderCall(
            model=request.model,
            prompt=prompts.frame_prompt(request.prompt, request.beat(i)),
            frames=1,
            size=request.size,
            seed=request.seed,
            references=references,
            beats=(request.beat(i),),
            first_frame=i,
            call_index=i,
            chain_from=chained_frame(request, i),
        )
        for i in range(request.frames)
    )


def chained_frame(request: GenerationRequest, index: int) -> int | None:
    """The run index of the frame call `index` takes as its chained reference (None: none)."""
    if request.mode != "chain" or index == 0:
        return None
    return 0 if request.chain_from == "first" else index - 1


def estimate_cost(
    cls: type[Provider],
    request: GenerationRequest,
    calls: Sequence[ProviderCall],
    overrides: dict[tuple[str, str], Price],
) -> Estimate:
    """The typical cost and the most the run could cost: every frame asked for billed (the most
    any billing rule bills: WaveSpeed's max_images, EvoLink's pre-charged n) at the worst price
    of its size, plus each call's prompt for token-billed models."""
    price, size = cls.price(request.model, overrides), cls.priced_size(request.size)
    per_image = price.per_image(size)
    most = sum(
        pricing.most_cost(price, size, call.frames, call.prompt, reference_sizes(call, price, size)) for call in calls
    )
    inputs = sum(pricing.reference_usd(price, dims) for call in calls for dims in reference_sizes(call, price, size))
    return Estimate(
        round(per_image * request.frames + inputs, 6),
        request.frames,
        price,
        per_image,
        round(most, 6),
        size,
        round(inputs, 6),
    )


def reference_sizes(call: ProviderCall, price: Price, size: str) -> list[tuple[int, int]]:
    """The pixels of each reference image a call sends: its own, and a chain's frame still to
    come at the size asked for (a size without pixels, "auto": the most the price allows)."""
    sizes = [(r.width, r.height) for r in call.references]
    if call.chain_from is not None:
        sizes.append(pricing.dimensions(size) or pricing.largest_size(price))
    return sizes


def caps_refusal(estimate: Estimate, settings: Settings, spent: Spent) -> Refusal | None:
    """A spend cap the worst case would pass. Runs in flight count with their worst case: the
    session's (the visitor's, on the app) in this process, the day's in every process on this
    DATA_DIR."""
    most, said = estimate.max_usd, cost_words(estimate.usd, estimate.max_usd)
    if settings.max_usd_per_run is not None and most > settings.max_usd_per_run:
        return Refusal("spend_cap", f"{said} passes PLAYGROUND_MAX_USD_PER_RUN (${settings.max_usd_per_run:.2f})")
    cap = settings.max_usd_per_session
    if spent.session is not None and cap is not None and spent.session + most > cap:
        return Refusal(
            "spend_cap",
            f"this session has spent ${spent.session:.4f} (runs in flight included); "
            f"{said} more passes PLAYGROUND_MAX_USD_PER_SESSION (${cap:.2f})",
        )
    if settings.max_usd_per_day is not None and most > 0:
        return day_refusal(estimate.usd, most, settings, *spent.day())
    return None


def day_refusal(
    usd: float, max_usd: float, settings: Settings, logged_today: float, in_flight: float
) -> Refusal | None:
    """The day cap (UTC day) on `max_usd` more: the log's spend today plus the worst cases of
    runs in flight in every process on this DATA_DIR (store/reservations.py)."""
    cap, spent = settings.max_usd_per_day, logged_today + in_flight
    if cap is None or spent + max_usd <= cap:
        return None
    note = " (runs in flight included)" if in_flight else ""
    return Refusal(
        "spend_cap",
        f"today's spend is ${spent:.4f}{note}; {cost_words(usd, max_usd)} more passes "
        f"PLAYGROUND_MAX_USD_PER_DAY (${cap:.2f})",
    )


def calls_refusal(cls: type[Provider], calls: Sequence[ProviderCall]) -> Refusal | None:
    """The first call the model's documented limits refuse (Provider.validate)."""
    provider = cls()
    for call in calls:
        try:
            provider.validate(call)
        except InputError as exc:
            return Refusal("input", str(exc))
    return None


_SIZE = re.compile(r"^(\d{2,5})[x*](\d{2,5})$")


# A model id segment: letters, digits, `.`, `_`, `-`, starting with a letter or digit; segments
# joined by single `/` up to the provider's declared depth. Nothing URL-significant (`?`, `#`,
# `%`, `:`, `@`, spaces, `\`) and no `..`: an id is sent in a URL path by some adapters.
_ID_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


MAX_MODEL_ID_CHARS = 160


def check_model_id(cls: type[Provider], model_id: str) -> None:
    """Refuse a model id that is not shaped like one of this provider's ids (before anything is
    sent: WaveSpeed and fal put the id in the URL path)."""
    segments = model_id.split("/")
    if (
        len(model_id) > MAX_MODEL_ID_CHARS
        or ".." in model_id
        or len(segments) > cls.model_id_segments
        or not all(_ID_SEGMENT.match(part) for part in segments)
    ):
        depth = "one segment" if cls.model_id_segments == 1 else f"up to {cls.model_id_segments} segments joined by '/'"
        raise InputError(
            f"model id {model_id[:80]!r} is not a {cls.name} model id: letters, digits, '.', '_' and '-', "
            f"{depth}, no '..' (at most {MAX_MODEL_ID_CHARS} characters)"
        )


def check_size_shape(size: str, where: str, presets: Collection[str] = ()) -> None:
    """A size for a model without a fixed list: WxH (64..16384 a side), 1K..4K, auto, or one of
    the named sizes (`presets`) its provider declares."""
    match = _SIZE.match(size.lower())
    if match and all(64 <= int(side) <= 16384 for side in match.groups()):
        return
    if size.upper() in ("1K", "2K", "3K", "4K") or size.lower() == "auto" or size in presets:
        return
    named = f", one of {', '.join(presets)}" if presets else ""
    raise InputError(
        f"size {size!r} is not valid for {where}: use WxH (e.g. 2048x2048, 64 to 16384 a side), "
        f"1K to 4K{named}, or leave it empty for the model's default"
    )


def check_allowed_models(settings: Settings) -> None:
    """Every PLAYGROUND_ALLOWED_MODELS entry names a provider and, unless `*`, an id of its shape
    (ConfigError otherwise: the owner's typo fails at start, not at the first run)."""
    for provider, model in sorted(settings.allowed_models or ()):
        entry = f"{provider}:{model}"
        if provider not in provider_names():
            raise allowed_models_error(entry, f"names no provider (one of {', '.join(provider_names())})")
        if model != "*":
            try:
                check_model_id(provider_class(provider), model)
            except InputError as exc:
                raise allowed_models_error(entry, str(exc)) from None
