"""The Hub sync in the web UI: its status line in History (the banner's sentence: present.providers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from playground.store.hub_sync import HubSync


def build_status(sync: HubSync | None) -> tuple[gr.Markdown, Callable[[], str]] | None:
    """A Markdown line with the sync's state (last upload, failures and what waits), and its refresher."""
    if sync is None:
        return None
    import gradio as gr

    from playground.store.hub_sync import status_text

    def current() -> str:
        return status_text(sync.status)

    return gr.Markdown(current(), elem_id="hub-sync-status"), current
