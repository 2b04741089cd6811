"""Providers: one adapter module per provider in providers/adapters, found by name.

A provider is its adapter module (`playground/providers/adapters/<name>.py`, ending with
`ADAPTER = <its Provider class>`), its emulator module and one entry in the tests' shared
table of cases; nothing here lists them (docs/adding-a-provider.md). Shared code for adapters:
base (the interface), http (retries, errors, polling, streams), seedream and predictions
(families of protocols). Adapters never import each other (pyproject.toml's contracts).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping

from playground.base.errors import InputError
from playground.providers.base import Provider

ADAPTERS = "playground.providers.adapters"


@functools.cache
def _module_names() -> tuple[str, ...]:
    package = importlib.import_module(ADAPTERS)
    return tuple(info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_"))


@functools.cache
def _ordered() -> tuple[str, ...]:
    """Provider names in listing order (Provider.listing_order, then the name)."""
    classes = [provider_class(name) for name in _module_names()]
    return tuple(cls.name for cls in sorted(classes, key=lambda cls: (cls.listing_order, cls.name)))


def provider_names() -> list[str]:
    return list(_ordered())


def provider_class(name: str) -> type[Provider]:
    if name == "import":  # imported runs (playground/experiments/importer.py) have nothing to call
        raise InputError(
            "`import` is not a provider you can run: to log frames made elsewhere, use "
            "`python -m playground import FRAME... --model NAME --cost USD --prompt TEXT`"
        )
    if name not in _module_names():
        raise InputError(f"unknown provider {name!r}; choose one of: {', '.join(provider_names())}")
    cls: type[Provider] = importlib.import_module(f"{ADAPTERS}.{name}").ADAPTER
    return cls


def all_key_vars() -> list[str]:
    return [cls.key_env for cls in map(provider_class, provider_names()) if cls.key_env]


def is_configured(name: str, env: Mapping[str, str], session_keys: Mapping[str, str] | None = None) -> bool:
    """A provider is configured when it needs no key or its key is set."""
    cls = provider_class(name)
    if not cls.key_env:
        return True
    return bool((session_keys or {}).get(cls.key_env) or env.get(cls.key_env))
