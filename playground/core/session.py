"""Per-browser-session (or per-CLI-process) state: typed keys and spend, in memory only."""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.core.spend import Spend


@dataclass
class Session:
    """Per-browser-session (or per-CLI-process) state: typed keys and spend, memory only. On the
    app, `spend` is the visitor's, shared by all their sessions (Playground.bind_visitor)."""

    keys: dict[str, str] = field(default_factory=dict, repr=False)  # never in repr(), logs or tracebacks
    spend: Spend = field(default_factory=Spend)  # spent, and the worst cases of runs in flight (the caps count both)

    @property
    def spent_usd(self) -> float:
        return self.spend.spent_usd

    @spent_usd.setter
    def spent_usd(self, value: float) -> None:
        self.spend.spent_usd = value

    @property
    def reserved_usd(self) -> float:
        return self.spend.reserved_usd

    @reserved_usd.setter
    def reserved_usd(self, value: float) -> None:
        self.spend.reserved_usd = value
