"""What is checked before anything is sent: the shape of a model id and of a size, the
PLAYGROUND_ALLOWED_MODELS entries, and the estimate a run's spend caps check."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playground.base.config import Settings, allowed_models_error
from playground.base.errors import InputError
from playground.base.pricing import Price
from playground.providers import provider_class, provider_names
from playground.providers.base import Provider


@dataclass(frozen=True)
class Estimate:
    usd: float  # typical: what the run should cost
    images: int
    price: Price
    per_image_usd: float
    max_usd: float  # the most it could cost (billing rule, size, frames, prompt): the caps check this
    priced_size: str = ""  # the size as its price reads it (a named size as its WxH: Provider.priced_size)


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
    if (len(model_id) > MAX_MODEL_ID_CHARS or ".." in model_id or len(segments) > cls.model_id_segments
            or not all(_ID_SEGMENT.match(part) for part in segments)):
        depth = "one segment" if cls.model_id_segments == 1 else f"up to {cls.model_id_segments} segments joined by '/'"
        raise InputError(f"model id {model_id[:80]!r} is not a {cls.name} model id: letters, digits, '.', '_' and '-', "
                         f"{depth}, no '..' (at most {MAX_MODEL_ID_CHARS} characters)")


def check_size_shape(size: str, where: str, presets: tuple[str, ...] = ()) -> None:
    """A size for a model without a fixed list: WxH (64..16384 a side), 1K..4K, auto, or one of
    the named sizes (`presets`) its provider declares."""
    match = _SIZE.match(size.lower())
    if match and all(64 <= int(side) <= 16384 for side in match.groups()):
        return
    if size.upper() in ("1K", "2K", "3K", "4K") or size.lower() == "auto" or size in presets:
        return
    named = f", one of {', '.join(presets)}" if presets else ""
    raise InputError(f"size {size!r} is not valid for {where}: use WxH (e.g. 2048x2048, 64 to 16384 a side), "
                     f"1K to 4K{named}, or leave it empty for the model's default")


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
