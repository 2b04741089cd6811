"""Providers as the UI and the CLI list them: choices, model lists, reference-image notes, the
page's banner and the `providers` command's rows."""

from __future__ import annotations

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.core.playground import Playground
from playground.core.session import Session
from playground.providers import provider_class, provider_names


def provider_rows(playground: Playground) -> list[dict[str, object]]:
    """One row per provider and model (shared by the CLI and the UI's provider table)."""
    rows = []
    for name in provider_names():
        cls = provider_class(name)
        for info in cls.models:
            price = cls.price(info.id, playground.price_overrides)
            rows.append({"provider": name, "model": info.id, "label": info.label, "sequence": info.native_sequence,
                         "modes": list(info.modes),
                         "price_usd": price.usd, "price_unit": price.unit, "configured": playground.configured(name),
                         "key_env": cls.key_env or "", "retired": info.retired})
    return rows


def provider_choices(playground: Playground, session: Session | None = None) -> list[tuple[str, str]]:
    choices = []
    for name in provider_names():
        cls = provider_class(name)
        state = "ready" if playground.configured(name, session) else f"set {cls.key_env}"
        choices.append((f"{cls.label} — {state}", name))
    return choices


def model_choices(provider: str) -> list[tuple[str, str]]:
    return [(m.label + (" [retired]" if m.retired and "retired" not in m.label else ""), m.id)
            for m in provider_class(provider).models]


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
    caps = [f"${value:.2f} {label}" for value, label in ((s.max_usd_per_run, "per run"),
            (s.max_usd_per_session, "per session"), (s.max_usd_per_day, "per day")) if value not in (None, float("inf"))]
    spend = f"Spend caps: {', '.join(caps)}." if caps else ("**No spend cap is set.**" if live else "")
    return (f"**Sequential image playground** · Live providers: {providers} · `local` is an offline stand-in "
            f"that draws frames procedurally (not a model). **Every run is logged** with its prompt, frames and cost "
            f"(`{s.data_dir.name}/runs.csv`) and shows in History to everyone using this app.{banner_note(s)} {spend}")


def banner_note(settings: Settings) -> str:
    """Where the data goes and who can see it, when PLAYGROUND_HUB_DATASET is set ("" otherwise)."""
    if not settings.hub_dataset:
        return ""
    *first, last = ["runs (prompts, costs, scores)", "votes", *settings.hub_include]
    parts = f"{', '.join(first)} and {last}"
    return (f" **Synced to the Hugging Face dataset `{settings.hub_dataset}`**: {parts} are copied there every "
            f"{settings.hub_every_min:g} min. A new dataset is created private; whoever can read it on the Hub "
            f"sees them, and History here shows the runs of every writer to it.")
