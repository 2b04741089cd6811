"""The "Import frames" accordion of the History tab: frames made with a tool that has no API
(Midjourney, a local ComfyUI) become a run with provider `import`. The callback calls
`importer.import_run`, the same function as `python -m playground import`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gradio as gr

from playground.base.errors import InputError
from playground.core.playground import Playground
from playground.importer import MAX_IMPORT_USD, import_run


def parse_cost(value: float | None) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise InputError("type what the frames cost in US dollars (0 if they were free)")
    return float(value)


def build_import(playground: Playground, history: dict[str, Any]) -> Any:
    """The accordion; returns the event that ends with the imported run opened in History."""
    from playground.ui import parse_beats

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
