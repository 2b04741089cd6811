"""What one run's calls did, filled in as they go (read when the row is filled and billed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from playground.base.types import CallOutcome, ProviderCall


@dataclass
class CallState:
    """What one run's calls did, filled in as they go (the row is filled and billed from it)."""

    calls: list[ProviderCall]
    started: float  # perf_counter at the first call
    outcomes: list[CallOutcome | None] = field(default_factory=list)  # None: the call failed or never ended
    failures: list[str] = field(default_factory=list)  # one reason per failed call
    deadline_note: str = ""  # set when the run passed PLAYGROUND_RUN_DEADLINE_S
    internal_error: str = ""  # set when the run itself broke (not a provider): the row's status is error
    in_flight: set[int] = field(default_factory=set)  # calls sent and not ended (stopped by the deadline or a cancel)
    said_maybe_billed: set[int] = field(default_factory=set)  # calls that failed with ProviderError.may_be_billed
    billing_note: str = ""  # set by billing.bill when cost_usd counts possibly billed images

    def __post_init__(self) -> None:
        self.outcomes = self.outcomes or [None] * len(self.calls)

    def may_be_billed(self, i: int) -> bool:
        """Call i failed after it may have reached the provider."""
        return i in self.in_flight or i in self.said_maybe_billed
