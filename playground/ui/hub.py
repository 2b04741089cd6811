"""The Hub sync in the web UI: a sentence of the banner and a status line in History."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import gradio as gr

    from playground.base.config import Settings
    from playground.store.hub_sync import HubSync


def banner_note(settings: Settings) -> str:
    """Where the data goes and who can see it, when PLAYGROUND_HUB_DATASET is set ("" otherwise)."""
    if not settings.hub_dataset:
        return ""
    *first, last = ["runs (prompts, costs, scores)", "votes", *settings.hub_include]
    parts = f"{', '.join(first)} and {last}"
    return (f" **Synced to the Hugging Face dataset `{settings.hub_dataset}`**: {parts} are copied there every "
            f"{settings.hub_every_min:g} min. A new dataset is created private; whoever can read it on the Hub "
            f"sees them, and History here shows the runs of every writer to it.")


def build_status(sync: HubSync | None) -> tuple[gr.Markdown, Callable[[], str]] | None:
    """A Markdown line with the sync's state (last upload, failures and what waits), and its refresher."""
    if sync is None:
        return None
    import gradio as gr

    from playground.store.hub_sync import status_text

    def current() -> str:
        return status_text(sync.status)

    return gr.Markdown(current(), elem_id="hub-sync-status"), current
