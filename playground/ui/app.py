"""The web app's page: the banner, then one tab per module, wired to History's refresh.

Every tab is a module of its own (generate, history, compare, analysis, arena), built from ui.shared's
widgets and the presenters in playground.present; tabs never import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gradio as gr

from playground.core.playground import Playground
from playground.core.session import Session
from playground.present.providers import banner
from playground.ui import analysis, api, arena, compare
from playground.ui.generate import build_generate_tab
from playground.ui.history import build_history_tab, build_import, load_values
from playground.ui.hub import build_status
from playground.ui.keys import build_keys

if TYPE_CHECKING:
    from playground.store.hub_sync import HubSync


def build_app(playground: Playground, hub: HubSync | None = None) -> gr.Blocks:
    """`hub`: the running Hub sync (hub_sync.start), whose state History shows."""
    # delete_cache: download buttons copy exports into Gradio's cache; sweep day-old files hourly
    with gr.Blocks(title="Sequential image playground", delete_cache=(3600, 86400)) as app:
        session = gr.State(Session())
        gr.Markdown(banner(playground), elem_id="banner")
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                generate = build_generate_tab(playground, session)
                build_keys(playground, session)
            with gr.Tab("History", id="history") as history_tab:
                hub_status = build_status(hub)
                history = build_history_tab(playground)
                imported = build_import(playground, history)
            compare.build_tab(playground, session)
            analysis.build_tab(playground, session)
            arena.build_tab(playground)
        api.register(playground)  # /run /compare /vote /runs /report
        # a reopened run back into Generate's form (prompt, beats, frames, provider, model, mode, seed, size)
        form = generate["inputs"][:8]

        def to_generate(run_id: str) -> tuple[Any, ...]:
            return (*load_values(playground, run_id), gr.Tabs(selected="generate"))

        history["load"].click(to_generate, history["run_id"], [*form, tabs], api_visibility="private")
        rerun = history["rerun"].click(to_generate, history["run_id"], [*form, tabs], api_visibility="private")
        # Re-run: the form filled, then Generate pressed (its estimate, caps and live frames, as any run)
        rerun.success(None, None, None, js="() => { document.getElementById('generate-button')?.click(); }")
        refresh = dict(
            fn=history["refresh"], inputs=history["filters"], outputs=history["listed"], api_visibility="private"
        )
        history_tab.select(**refresh)
        for event in (generate["run_event"], generate["submit_event"], imported):
            event.then(**refresh)
        if hub_status:
            history_tab.select(hub_status[1], None, hub_status[0], api_visibility="private", show_progress="hidden")
    return app
