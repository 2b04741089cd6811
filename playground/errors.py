"""Errors the core turns into one clear message for the UI, the CLI and the run log.

    PlaygroundError                 anything with a message meant for the user
     +-- InputError                 bad request: nothing was sent (CLI exit 2, UI gr.Error)
     +-- SpendCapError              the estimate would pass a cap: nothing was sent
     +-- ProviderError              the provider (or the way to it) failed a call
          kinds: auth, rate_limit, content, invalid, quota, timeout, server, network,
                 malformed, job_failed, cancelled

Messages never contain an API key: `redact()` is applied to anything a provider echoed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class PlaygroundError(Exception):
    """An error whose message is written for the user."""


class InputError(PlaygroundError):
    """The request is invalid; nothing was sent."""


class SpendCapError(PlaygroundError):
    """The run's estimate would pass a spend cap; nothing was sent."""


class ProviderError(PlaygroundError):
    """A provider call failed. `may_be_billed` is True when the call may have been charged."""

    def __init__(self, kind: str, message: str, *, status: int | None = None,
                 may_be_billed: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.may_be_billed = may_be_billed
        self.retry_after = retry_after


_BEARER = re.compile(r"(?i)(bearer|key)\s+[A-Za-z0-9._\-:]{8,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every known secret and anything shaped like an auth header value from text."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return _BEARER.sub(lambda m: f"{m.group(1)} [redacted]", text)
