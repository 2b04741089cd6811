"""Provider registry: name -> Provider class. Adding a provider = one module + one line here."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from playground.base.errors import InputError
from playground.providers.base import Provider

# name -> "module:Class", imported on first use so start-up stays fast.
_REGISTRY: dict[str, str] = {
    "local": "playground.providers.local:LocalProvider",
    "byteplus": "playground.providers.byteplus:BytePlusProvider",
    "evolink": "playground.providers.evolink:EvoLinkProvider",
    "wavespeed": "playground.providers.wavespeed:WaveSpeedProvider",
    "atlascloud": "playground.providers.atlascloud:AtlasCloudProvider",
    "openai": "playground.providers.openai_images:OpenAIImagesProvider",
    "stability": "playground.providers.stability:StabilityProvider",
    "fal": "playground.providers.fal:FalProvider",
}


def provider_names() -> list[str]:
    return list(_REGISTRY)


def provider_class(name: str) -> type[Provider]:
    if name == "import":  # imported runs (playground/experiments/importer.py) have nothing to call
        raise InputError("`import` is not a provider you can run: to log frames made elsewhere, use "
                         "`python -m playground import FRAME... --model NAME --cost USD --prompt TEXT`")
    if name not in _REGISTRY:
        raise InputError(f"unknown provider {name!r}; choose one of: {', '.join(_REGISTRY)}")
    module_name, class_name = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def all_key_vars() -> list[str]:
    return [cls.key_env for cls in map(provider_class, _REGISTRY) if cls.key_env]


def is_configured(name: str, env: Mapping[str, str], session_keys: Mapping[str, str] | None = None) -> bool:
    """A provider is configured when it needs no key or its key is set."""
    cls = provider_class(name)
    if not cls.key_env:
        return True
    return bool((session_keys or {}).get(cls.key_env) or env.get(cls.key_env))
