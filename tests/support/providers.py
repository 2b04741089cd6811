"""A provider class made in a test, found by playground.providers as if it were an adapter
module in providers/adapters (for the test's duration only)."""

from __future__ import annotations

import sys
import types
from typing import Any

from playground import providers
from playground.providers.base import Provider


def register_adapter(monkeypatch: Any, cls: type[Provider]) -> None:
    module = types.ModuleType(f"{providers.ADAPTERS}.{cls.name}")
    module.ADAPTER = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    found = providers._module_names()
    monkeypatch.setattr(providers, "_module_names", lambda: (*found, cls.name))
    providers._ordered.cache_clear()
    monkeypatch.setattr(providers, "_ordered", _uncached(providers._ordered))


def _uncached(ordered: Any) -> Any:
    """The listing, computed afresh while the test runs (the cached one is left untouched)."""
    return ordered.__wrapped__
