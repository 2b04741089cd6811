"""What the tabs share: the Frames box, the download buttons, and the visitor's session."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from playground.base.errors import InputError
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.spend import visitor_key
from playground.experiments.export import run_exports

DOWNLOADS = {"zip": "Download ZIP", "sheet": "Storyboard sheet (PNG)", "gif": "Animated GIF"}


def frames_box(value: int) -> gr.Number:
    """Frames as a plain number box: a slider's box clamps out-of-range values (with a toast)
    while showing them, so the run sent was not the run the user saw."""
    return gr.Number(value=value, label="Frames", precision=None, step=1, min_width=90)


def visitor_session(playground: Playground, session: Session, request: gr.Request | None) -> Session:
    """On a Space, the browser session with its spend bound to its visitor's (core/spend.py): a new
    client from the same address does not start a new session budget. Elsewhere (a researcher's
    own machine) each browser session keeps its own."""
    if request is None or not playground.settings.on_space:  # request None: called as a plain function (tests)
        return session
    peer = request.client.host if request.client else None
    visitor = visitor_key(dict(request.headers or {}), peer, playground.settings.on_space)
    return playground.bind_visitor(session, visitor)


@dataclass
class InFlight:
    """The runs (or comparisons) of this browser session in flight (a gr.State, mutated in place):
    each holds a cancel token the core watches. Cancel only sets the tokens; the running event
    then shows the cancelled result itself, so one event alone writes the progress line and the
    summary (two events writing them raced: "Running… 2 / 4" under "Cancelled.")."""

    tokens: set[asyncio.Event] = field(default_factory=set)

    @property
    def runs(self) -> int:
        return len(self.tokens)

    def end(self, token: asyncio.Event) -> None:
        self.tokens.discard(token)


NOTHING_TO_CANCEL = "Nothing is running: there is nothing to cancel."


async def request_cancel(in_flight: InFlight | None) -> None:
    """The Cancel buttons: set every token of the session (async: on the event loop the runs use)."""
    if in_flight is None or not in_flight.tokens:
        gr.Info(NOTHING_TO_CANCEL, duration=4)
        return
    for token in list(in_flight.tokens):
        token.set()


def build_downloads(prefix: str) -> list[gr.DownloadButton]:
    """ZIP, sheet and GIF buttons, hidden until a run with frames is shown."""
    with gr.Row():
        return [
            gr.DownloadButton(label, visible=False, size="sm", elem_id=f"{prefix}-download-{fmt}")
            for fmt, label in DOWNLOADS.items()
        ]


def download_updates(playground: Playground, run_id: str) -> list[Any]:
    """One DownloadButton update per export: shown with its file, or hidden when the run has no frames."""
    try:
        files = run_exports(playground, run_id) if run_id else {}
    except InputError:
        files = {}
    return [
        gr.DownloadButton(value=str(files[fmt]), visible=True)
        if fmt in files
        else gr.DownloadButton(value=None, visible=False)
        for fmt in DOWNLOADS
    ]
