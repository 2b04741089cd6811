"""The run: one pre-send check and one path from a request to its logged row.

    from playground.core import Playground, Session

`Playground` (core.playground) holds the settings, the log and the providers; `Session` a
browser session's keys and spend. The names below are loaded on first use, so importing a
submodule (core.spend, say) does not load the whole run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playground.base.types import RunResult
    from playground.core.plan import Estimate, Plan
    from playground.core.playground import Playground
    from playground.core.session import Session
    from playground.core.sink import Progress

_EXPORTS = {
    "Playground": "playground.core.playground",
    "Session": "playground.core.session",
    "Estimate": "playground.core.plan",
    "Plan": "playground.core.plan",
    "Progress": "playground.core.sink",
    "RunResult": "playground.base.types",
}
__all__ = ["Estimate", "Plan", "Playground", "Progress", "RunResult", "Session"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
