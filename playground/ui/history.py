"""The History tab: the newest runs of every writer, a run reopened with its frames and
downloads, and the accordion that imports frames made elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from playground.base.errors import InputError
from playground.core.playground import Playground
from playground.experiments.importer import MAX_IMPORT_USD, import_run
from playground.present.forms import parse_beats, parse_cost
from playground.present.runs import history_table, run_frames
from playground.ui.shared import build_downloads, download_updates

# History: header -> width in px, sized for a 1400 px window (a phone scrolls the table sideways;
# Gradio 6.31's pinned_columns did not stay put). Numbers are rounded text: no overflow, no jitter.
HISTORY_COLUMNS = {"run_id": 164, "when (UTC)": 104, "provider": 80, "model": 142, "mode": 76, "status": 78,
                   "frames": 72, "cost $": 64, "latency s": 84, "subject": 70, "prompt": 116, "error": 166}
# With the Hub sync on, a writer column (merged.py), in the same 1216 px
HISTORY_COLUMNS_SYNCED = {**HISTORY_COLUMNS, "model": 120, "latency s": 80, "prompt": 98, "error": 96, "writer": 114}


def build_history_tab(playground: Playground) -> dict[str, Any]:
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", min_width=80)
        run_id = gr.Textbox(label="Run ID", placeholder="click a row, or paste a run id", scale=3, min_width=200)
        reopen = gr.Button("Open run", size="sm", min_width=80)
    # Filled when the tab is selected: a callable value would add a public API endpoint.
    widths = HISTORY_COLUMNS_SYNCED if playground.settings.hub_dataset else HISTORY_COLUMNS
    table = gr.Dataframe(label="Runs (newest first)", interactive=False, wrap=False, max_height=420,
                         elem_id="history-table", column_widths=[f"{w}px" for w in widths.values()])
    gallery = gr.Gallery(label="Run frames", columns=5, height="auto", object_fit="contain", elem_id="history-gallery")
    summary = gr.Markdown(elem_id="history-summary")
    downloads = build_downloads("history")

    def pick(evt: gr.SelectData, frame: Any) -> str:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return str(frame.iloc[row]["run_id"])

    def open_run(rid: str) -> list[Any]:
        try:
            items, text = run_frames(playground, rid.strip())
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return [items, text, *download_updates(playground, rid.strip())]

    def refreshed() -> Any:
        note = playground.log.damage_note()  # damaged rows are left out of the table: say so
        if note:
            gr.Warning(note, duration=20)
        return history_table(playground)

    shown = [gallery, summary, *downloads]
    refresh.click(refreshed, None, table, api_visibility="private")
    reopen.click(open_run, run_id, shown, api_name="open_run", api_visibility="undocumented")  # first, so the public name is exactly open_run
    table.select(pick, table, run_id, api_visibility="private").then(open_run, run_id, shown, api_visibility="private")
    run_id.submit(open_run, run_id, shown, api_visibility="private")
    return {"table": table, "refresh": refreshed, "run_id": run_id, "open": open_run,
            "shown": shown}


def build_import(playground: Playground, history: dict[str, Any]) -> Any:
    """The "Import frames made elsewhere" accordion: frames made with a tool that has no API
    (Midjourney, a local ComfyUI) become a run with provider `import`, through `import_run`, the
    function of `python -m playground import`. Returns the event that ends with the imported run
    opened in History."""
    with gr.Accordion("Import frames made elsewhere", open=False, elem_id="import-frames"):
        gr.Markdown("Frames from a tool with no API (Midjourney, a local ComfyUI…) become a run with provider "
                    "`import`: they are scored like any run and take part in comparisons. Nothing is sent anywhere.")
        files = gr.File(label="Frames, in order", file_count="multiple", file_types=["image"], type="filepath",
                        height=140)
        with gr.Row():
            model = gr.Textbox(label="Model", placeholder="e.g. midjourney-v7 or comfyui-flux-dev", min_width=200)
            cost = gr.Number(label="Cost (USD)", value=0.0, minimum=0, maximum=MAX_IMPORT_USD, min_width=120,
                             info="what the frames cost, typed by you (not counted by this app's spend caps)")
        prompt = gr.Textbox(label="Prompt the frames were made from", lines=2)
        beats = gr.Textbox(label="Beats", lines=3, placeholder="Optional, one per line")
        button = gr.Button("Import as a run", variant="secondary")
        status = gr.Markdown()

    def do_import(paths: list[str] | None, model_name: str, cost_usd: float | None, prompt_text: str,
                  beats_text: str) -> tuple[str, str]:
        try:
            record = import_run(playground, [Path(p) for p in paths or []], model_name or "", parse_cost(cost_usd),
                                prompt_text or "", parse_beats(beats_text))
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return record.run_id, f"Imported {record.frames_returned} frame(s) as run `{record.run_id}`."

    event = button.click(do_import, [files, model, cost, prompt, beats], [history["run_id"], status],
                         api_visibility="private")
    return event.success(history["open"], history["run_id"], history["shown"], api_visibility="private")
