"""The sequential image playground: one prompt to a hosted model, the frames, their cost, a log.

    from playground import Playground, Session, GenerationRequest

The package is layered (docs/architecture.md): base < store | providers | metrics < core <
experiments < present < ui | cli. The names below are loaded on first use, so `import
playground.base.types` (or the CLI's start) does not load the whole run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playground.base.errors import InputError, PlaygroundError, ProviderError, SpendCapError
    from playground.base.types import GenerationRequest, RunRecord, RunResult
    from playground.core.plan import Plan
    from playground.core.playground import Playground
    from playground.core.session import Session

_EXPORTS = {
    "Playground": "playground.core.playground",
    "Session": "playground.core.session",
    "Plan": "playground.core.plan",
    "GenerationRequest": "playground.base.types",
    "RunRecord": "playground.base.types",
    "RunResult": "playground.base.types",
    "PlaygroundError": "playground.base.errors",
    "InputError": "playground.base.errors",
    "SpendCapError": "playground.base.errors",
    "ProviderError": "playground.base.errors",
}
__all__ = [
    "GenerationRequest",
    "InputError",
    "Plan",
    "Playground",
    "PlaygroundError",
    "ProviderError",
    "RunRecord",
    "RunResult",
    "Session",
    "SpendCapError",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
