"""Faults the emulator can inject (Emulator.set_fault, an X-Emulator-Fault header, or
`[fault:NAME]` in a prompt), and the answer shapes it can switch to (Emulator.shapes). Data
only: choosing the fault of a request is Emulator.take_fault."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JOB_FAULTS = frozenset(
    {"job_failed", "stuck", "fewer", "refused", "lost_frame", "stream_error", "job_ended", "gateway_timeout"}
)
# gateway_timeout: a sync-mode POST (WaveSpeed/AtlasCloud) whose job was created and runs on,
# answered HTTP 504 by the gateway in front, with its own HTML page and no prediction id
# [doc https://wavespeed.ai/docs/sync-mode: "may exceed gateway time limits ... 504 ... the task
# may still be successfully completed"; the page's text and the missing id: guess]
GATEWAY_TIMEOUT_PAGE = (
    b"<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway "
    b"Time-out</h1></center></body></html>"
)


# job_ended: terminal states besides failed (aborted: Replicate's, a deadline passed before the job started)
ENDED_STATES = frozenset({"cancelled", "timeout", "deleted", "aborted"})


# Documented answer shapes the emulator can switch to (Emulator.shapes), so contract tests run
# over each over real HTTP: see the module docstring.
SHAPES = frozenset(
    {
        "bare_prediction",
        "created_at",
        "sse_event_lines",
        "sse_type_in_event_only",
        "completed_then_hold",
        "evolink_immediate",
        "evolink_immediate_b64",
    }
)


PROMPT_FAULT = re.compile(r"\[fault:([a-z_]+)\]")


@dataclass
class Fault:
    name: str
    provider: str | None = None
    count: int | None = None
    on: str = "create"
    params: dict[str, Any] = field(default_factory=dict)
