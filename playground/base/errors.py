"""Errors the core turns into one clear message for the UI, the CLI and the run log.

    PlaygroundError                 anything with a message meant for the user
     +-- InputError                 bad request: nothing was sent (CLI exit 2, UI gr.Error)
     +-- ConfigError                a bad environment variable (also a ValueError; CLI exit 2)
     +-- SpendCapError              the estimate would pass a cap: nothing was sent
     +-- ProviderError              the provider (or the way to it) failed a call
          kinds: auth, rate_limit, content, invalid, quota, timeout, server, network,
                 malformed, job_failed, cancelled

Messages never contain an API key: `redact()` is applied to anything a provider echoed. They
never hold a lone surrogate either (`loggable`): it could not be logged, printed or sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


class PlaygroundError(Exception):
    """An error whose message is written for the user."""


class InputError(PlaygroundError):
    """The request is invalid; nothing was sent."""


class ConfigError(PlaygroundError, ValueError):
    """An environment variable holds a value the playground cannot use."""


class SpendCapError(PlaygroundError):
    """The run's estimate would pass a spend cap; nothing was sent."""


class ProviderError(PlaygroundError):
    """A provider call failed. `may_be_billed` is True when the call may have been charged."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        may_be_billed: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.may_be_billed = may_be_billed
        self.retry_after = retry_after


# An auth-header value echoed back ("Bearer sk-...", "Key abc:123..."): a token of 12+ key
# characters with a digit in it, so our own words ("key rejected") are left alone.
_TOKEN = r"(?=[A-Za-z0-9._\-:]*\d)[A-Za-z0-9._\-:]{12,}"
_AUTH_VALUE = re.compile(rf"(?i)\b(bearer|key|token|api[_-]?key)(\s*[:=]?\s*['\"]?)({_TOKEN})")
_KEY_SHAPES = re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_\-]{16,}")  # OpenAI-style keys anywhere in text
_SURROGATE = re.compile("[\ud800-\udfff]")


def loggable(text: str) -> str:
    """`text` with each lone surrogate (which no UTF-8 file, JSON answer or HTTP body can hold;
    JSON's "\\ud800" and undecodable argv bytes make them) as its escape `\\udXXX`, as
    Python's backslashreplace writes it. Any other text is returned as it is."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _SURROGATE.search(text) else text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove every known secret, and anything shaped like an auth header value or a key, from text."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    text = _AUTH_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
    return loggable(_KEY_SHAPES.sub("[redacted]", text))
