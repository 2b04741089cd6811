"""Providers as the UI and the CLI list them: choices, model lists, reference-image notes, the
page's banner and the `providers` command's rows."""

from __future__ import annotations

from collections.abc import Sequence

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.base.types import GenerationRequest
from playground.core.plan import make_plan
from playground.core.playground import Playground, cached_reference
from playground.core.session import Session
from playground.present.forms import mode_and_chain
from playground.providers import provider_class, provider_names


def provider_rows(playground: Playground) -> list[dict[str, object]]:
    """One row per provider and model (shared by the CLI and the UI's provider table)."""
    rows = []
    for name in provider_names():
        cls = provider_class(name)
        for info in cls.models:
            price = cls.price(info.id, playground.price_overrides)
            rows.append(
                {
                    "provider": name,
                    "model": info.id,
                    "label": info.label,
                    "sequence": info.native_sequence,
                    "modes": list(info.modes),
                    "price_usd": price.usd,
                    "price_unit": price.unit,
                    "configured": playground.configured(name),
                    "key_env": cls.key_env or "",
                    "retired": info.retired,
                }
            )
    return rows


def provider_choices(playground: Playground, session: Session | None = None) -> list[tuple[str, str]]:
    choices = []
    for name in provider_names():
        cls = provider_class(name)
        state = "ready" if playground.configured(name, session) else f"set {cls.key_env}"
        choices.append((f"{cls.label} — {state}", name))
    return choices


def model_choices(provider: str) -> list[tuple[str, str]]:
    return [
        (m.label + (" [retired]" if m.retired and "retired" not in m.label else ""), m.id)
        for m in provider_class(provider).models
    ]


def reference_note(provider: str, model: str, count: int = 0) -> str:
    """Whether the chosen model takes reference images, and whether `count` of them fit."""
    try:
        cls = provider_class(provider)
    except InputError as exc:
        return f"*{exc}*"
    info = cls.model(model or cls.default_model())
    needs = info.id.endswith(("edit-sequential", "/edit"))  # these edit the references: they need at least one
    takers = [m.label for m in cls.models if m.max_references and not m.retired]
    if info.max_references == 0:
        other = f" In {cls.name}, these do: {', '.join(takers)}." if takers else ""
        text = f"**{info.label}** takes no reference images.{other}"
        return text + (" Remove the uploaded images to run it: nothing is sent while they are there." if count else "")
    text = f"**{info.label}** takes {'1 to ' if needs else 'up to '}{info.max_references} reference image(s)"
    if info.frames_plus_references_max:
        text += f" (references + frames ≤ {info.frames_plus_references_max})"
    text += ": they are sent with the prompt to keep the character."
    if needs and count == 0:
        text += " **Upload at least one**: this model edits reference images."
    elif count > info.max_references:
        text += f" **{count} uploaded: remove {count - info.max_references}.**"
    return text


def banner(playground: Playground) -> str:
    s = playground.settings
    live = [n for n in playground.configured_providers() if n != "local"]
    providers = ", ".join(f"`{n}`" for n in live) if live else "none (no API key set: add one as a secret or below)"
    caps = [
        f"${value:.2f} {label}"
        for value, label in (
            (s.max_usd_per_run, "per run"),
            (s.max_usd_per_session, "per session"),
            (s.max_usd_per_day, "per day"),
        )
        if value not in (None, float("inf"))
    ]
    spend = f"Spend caps: {', '.join(caps)}." if caps else ("**No spend cap is set.**" if live else "")
    return (
        f"**Sequential image playground** · Live providers: {providers} · `local` is an offline stand-in "
        f"that draws frames procedurally (not a model). **Every run is logged** with its prompt, frames and cost "
        f"(`{s.data_dir.name}/runs.csv`) and shows in History to everyone using this app.{banner_note(s)} {spend}"
    )


def banner_note(settings: Settings) -> str:
    """Where the data goes and who can see it, when PLAYGROUND_HUB_DATASET is set ("" otherwise)."""
    if not settings.hub_dataset:
        return ""
    *first, last = ["runs (prompts, costs, scores)", "votes", *settings.hub_include]
    parts = f"{', '.join(first)} and {last}"
    return (
        f" **Synced to the Hugging Face dataset `{settings.hub_dataset}`**: {parts} are copied there every "
        f"{settings.hub_every_min:g} min. A new dataset is created private; whoever can read it on the Hub "
        f"sees them, and History here shows the runs of every writer to it."
    )


COMMON_SIZES = ("1024x1024", "2048x2048", "512x512", "1536x1024", "1024x1536", "2K")  # offered where any WxH goes
EACH_DEFAULT = "each model's default"


def takes_seed(provider: str, model: str) -> bool:
    """Whether the model's documented request has a seed (the Seed box shows only then). An
    unknown provider or model: True, so nothing the user typed is hidden from them."""
    try:
        cls = provider_class(provider)
        return cls.model(model or cls.default_model()).takes_seed
    except InputError:
        return True


def size_choices(provider: str, model: str) -> list[str]:
    """The sizes to offer for a model: its own list, else its default, its provider's named sizes
    and the common WxH sizes (the run's plan has the last word on each)."""
    try:
        cls = provider_class(provider)
    except InputError:
        return []
    info = cls.model(model or cls.default_model())
    if info.sizes:
        return list(info.sizes)
    return list(dict.fromkeys([info.default_size, *cls.size_presets, *COMMON_SIZES]))


def accepts_size(playground: Playground, provider: str, model: str, mode: str, frames: int, size: str) -> bool:
    """Whether the run's own pre-send checks take this size for this model, as if its key were set
    (a missing key or a cap is not about the size)."""
    request = GenerationRequest(
        prompt="size check",
        frames=frames,
        mode=mode,  # type: ignore[arg-type]
        provider=provider,
        model=model,
        size=size,
    )
    plan = make_plan(
        request,
        playground.settings,
        overrides=playground.price_overrides,
        spent=None,
        configured=lambda _: True,
        load_reference=cached_reference,
    )
    return plan.sendable


def common_sizes(playground: Playground, arms: Sequence[tuple[str, str, str]], frames: int) -> list[str]:
    """The sizes every arm (provider, model, mode) accepts, in the order they are offered."""
    offered = list(dict.fromkeys(s for p, m, _ in arms for s in size_choices(p, m)))
    return [size for size in offered if all(accepts_size(playground, p, m, mode, frames, size) for p, m, mode in arms)]


MODEL_DEFAULT = "model default"


def generate_sizes(
    playground: Playground, provider: str, model: str, mode_name: str, frames: float | None, current: str | None
) -> tuple[list[tuple[str, str]], str]:
    """Generate's Size: "model default" then the model's sizes its pre-send check takes (for this
    mode and frame count; all its sizes when the run is refused for another reason), and the value
    to keep: the current one while the model takes it (a size History's Load into Generate set, a
    size typed in), else the model's default."""
    mode, _ = mode_and_chain(mode_name or "sequence")
    n = int(frames) if isinstance(frames, (int, float)) and float(frames).is_integer() and 1 <= frames <= 15 else 4
    listed = size_choices(provider, model)
    offered = [size for size in listed if accepts_size(playground, provider, model, mode, n, size)]
    if not offered:  # refused whatever the size (the mode, the frame count): the estimate says why
        return [(MODEL_DEFAULT, ""), *((s, s) for s in listed)], (current or "").strip()
    size = (current or "").strip()
    kept = size if not size or size in offered or accepts_size(playground, provider, model, mode, n, size) else ""
    return [(MODEL_DEFAULT, ""), *((s, s) for s in offered)], kept


def default_sizes_note(arms: Sequence[tuple[str, str, str]]) -> str:
    """Said when the arms' default sizes differ: left alone, they would run at different sizes."""
    by_size: dict[str, list[str]] = {}
    for provider, model, _ in arms:
        try:
            cls = provider_class(provider)
        except InputError:
            continue
        info = cls.model(model or cls.default_model())
        by_size.setdefault(info.default_size, [])
        if provider not in by_size[info.default_size]:
            by_size[info.default_size].append(provider)
    if len(by_size) < 2:
        return ""
    parts = [f"{size} ({', '.join(names)})" for size, names in by_size.items()]
    return (
        "At each model's default the arms would run at "
        + " and ".join(parts)
        + ": choose a size to compare like with like."
    )
