"""The History tab: the newest runs of every writer, a run reopened with its frames and
downloads, and the accordion that imports frames made elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from playground.base.errors import InputError
from playground.core.playground import Playground
from playground.experiments.annotations import add_note, add_tag, annotations, annotations_text, remove_tag
from playground.experiments.importer import MAX_IMPORT_USD, import_run
from playground.present.forms import parse_beats, parse_cost
from playground.present.history import (
    FILTER_FIELDS,
    RunFilter,
    filter_choices,
    filtered_runs,
    made_with,
    request_from_record,
)
from playground.present.runs import history_table, look_strip, run_frames
from playground.store.merged import load_run
from playground.ui.closelook import gallery_look_js
from playground.ui.shared import build_downloads, download_updates

# History: header -> width in px, sized for a 1400 px window (a phone scrolls the table sideways;
# Gradio 6.31's pinned_columns did not stay put). Numbers are rounded text: no overflow, no jitter.
HISTORY_COLUMNS = {
    "frame": 64,
    "run_id": 164,
    "when (UTC)": 104,
    "provider": 80,
    "model": 142,
    "mode": 76,
    "status": 78,
    "frames": 72,
    "cost $": 64,
    "latency s": 84,
    "subject": 70,
    "prompt": 116,
    "error": 102,
}
# "frame": each run's first-frame preview (present.runs.thumbnail), a Markdown image drawn small (page.CSS)
# With the Hub sync on, a writer column (merged.py), in the same 1216 px
HISTORY_COLUMNS_SYNCED = {**HISTORY_COLUMNS, "model": 120, "latency s": 80, "prompt": 66, "error": 64, "writer": 114}


ANY = ("any", "")


def build_filters() -> list[Any]:
    """Provider, model, mode, status, experiment, tag, and whether to show requests refused before sending."""
    with gr.Row(elem_id="history-filters"):
        boxes = [
            gr.Dropdown(
                choices=[ANY],
                value="",
                label=label,
                allow_custom_value=True,
                min_width=140,
                elem_id=f"history-filter-{name}",
            )
            for name, label in (
                ("provider", "Provider"),
                ("model", "Model"),
                ("mode", "Mode"),
                ("status", "Status"),
                ("experiment_id", "Experiment"),
                ("tag", "Tag"),
            )
        ]
        refused = gr.Checkbox(
            label="show runs refused before sending", value=False, min_width=200, elem_id="history-show-refused"
        )
    return [*boxes, refused]


def build_history_tab(playground: Playground) -> dict[str, Any]:
    filters = build_filters()
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", min_width=80)
        run_id = gr.Textbox(label="Run ID", placeholder="click a row, or paste a run id", scale=3, min_width=200)
        reopen = gr.Button("Open run", size="sm", min_width=80)
    hidden_note = gr.Markdown(elem_id="history-hidden-note")
    # Filled when the tab is selected: a callable value would add a public API endpoint.
    widths = HISTORY_COLUMNS_SYNCED if playground.settings.hub_dataset else HISTORY_COLUMNS
    table = gr.Dataframe(
        label="Runs (newest first)",
        interactive=False,
        wrap=False,
        max_height=420,
        elem_id="history-table",
        column_widths=[f"{w}px" for w in widths.values()],
        datatype=["markdown", *["str"] * (len(widths) - 1)],
    )
    # a click on a frame opens the close look at full resolution (ui/closelook.py), not Gradio's preview
    gallery = gr.Gallery(
        label="Run frames",
        columns=5,
        height="auto",
        object_fit="contain",
        elem_id="history-gallery",
        allow_preview=False,
    )
    look = gr.HTML(elem_id="history-look", container=False, js_on_load=gallery_look_js("history-gallery"))
    summary = gr.Markdown(elem_id="history-summary")
    made = gr.Textbox(
        label="Made with", lines=4, max_lines=24, interactive=False, elem_id="history-made-with", visible=False
    )
    with gr.Row():
        load = gr.Button("Load into Generate", size="sm", elem_id="history-load", interactive=False)
        rerun = gr.Button("Re-run", size="sm", elem_id="history-rerun", interactive=False)
    downloads = build_downloads("history")
    with gr.Group(visible=False) as notes_box:  # append-only, like votes (experiments.annotations)
        notes_view = gr.Textbox(
            label="Tags and notes", lines=2, max_lines=12, interactive=False, elem_id="history-notes"
        )
        with gr.Row():
            tag = gr.Textbox(label="Tag", placeholder="e.g. keep", max_lines=1, min_width=140, elem_id="history-tag")
            add_tag_button = gr.Button("Add tag", size="sm", min_width=80)
            remove_tag_button = gr.Button("Remove tag", size="sm", min_width=80)
        with gr.Row():
            note = gr.Textbox(label="Note", max_lines=4, scale=3, min_width=200, elem_id="history-note")
            add_note_button = gr.Button("Add note", size="sm", min_width=80)

    def pick(evt: gr.SelectData, frame: Any) -> str:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return str(frame.iloc[row]["run_id"])

    def open_run(rid: str) -> list[Any]:
        try:
            items, text = run_frames(playground, rid.strip())
            record = load_run(playground, rid.strip()).record
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        can_make = record.provider != "import"  # imported frames were made elsewhere
        return [
            items,
            text,
            *download_updates(playground, rid.strip()),
            gr.Textbox(value=made_with(record), visible=True),
            gr.Button(interactive=can_make),
            gr.Button(interactive=can_make),
            gr.Group(visible=True),
            annotations_text(annotations(playground, record.run_id)),
        ]

    def refreshed(*values: Any) -> list[Any]:
        note = playground.log.damage_note()  # damaged rows are left out of the table: say so
        if note:
            gr.Warning(note, duration=20)
        run_filter = filter_of(values)
        frame, hidden = filtered_runs(playground, run_filter, 100)
        said = (
            f"{hidden} request(s) refused before sending are hidden (tick *show runs refused before sending*)."
            if hidden
            else ""
        )
        choices = filter_choices(playground)
        boxes = [gr.Dropdown(choices=[ANY, *((v, v) for v in choices[name])]) for name in FILTER_FIELDS]
        return [history_table(playground, frame=frame), said, *boxes]

    shown = [gallery, summary, *downloads, made, load, rerun, notes_box, notes_view]

    def annotate(action: Any, rid: str, value: str) -> tuple[str, str]:
        try:
            action(playground, (rid or "").strip(), value or "")
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return annotations_text(annotations(playground, (rid or "").strip())), ""

    for button, action, box in (
        (add_tag_button, add_tag, tag),
        (remove_tag_button, remove_tag, tag),
        (add_note_button, add_note, note),
    ):
        button.click(
            lambda rid, value, action=action: annotate(action, rid, value),
            [run_id, box],
            [notes_view, box],
            api_visibility="private",
        )
    listed = [table, hidden_note, *filters[:-1]]
    refresh.click(refreshed, filters, listed, api_visibility="private")
    for box in filters:
        box.change(
            refreshed, filters, listed, api_visibility="private", show_progress="hidden", trigger_mode="always_last"
        )
    gallery.change(
        lambda rid: look_strip(playground, (rid or "").strip()),
        run_id,
        look,
        api_visibility="private",
        show_progress="hidden",
        concurrency_limit=None,
    )
    reopen.click(
        open_run, run_id, shown, api_name="open_run", api_visibility="undocumented"
    )  # first, so the public name is exactly open_run
    table.select(pick, table, run_id, api_visibility="private").then(open_run, run_id, shown, api_visibility="private")
    run_id.submit(open_run, run_id, shown, api_visibility="private")
    return {
        "table": table,
        "refresh": refreshed,
        "run_id": run_id,
        "open": open_run,
        "shown": shown,
        "filters": filters,
        "listed": listed,
        "load": load,
        "rerun": rerun,
    }


def filter_of(values: tuple[Any, ...] | list[Any]) -> RunFilter:
    *texts, refused = values if values else ("",) * len(FILTER_FIELDS) + (False,)
    return RunFilter(
        **{name: str(v or "").strip() for name, v in zip(FILTER_FIELDS, texts)}, include_refused=bool(refused)
    )


def load_values(playground: Playground, run_id: str) -> tuple[Any, ...]:
    """Generate's prompt, beats, frames, provider, model, mode, seed and size from a logged run."""
    try:
        record = load_run(playground, (run_id or "").strip()).record
    except InputError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    request = request_from_record(record)
    return (
        request.prompt,
        "\n".join(request.beats),
        request.frames,
        request.provider,
        request.model,
        request.mode,
        request.seed,
        request.size,
    )


def build_import(playground: Playground, history: dict[str, Any]) -> Any:
    """The "Import frames made elsewhere" accordion: frames made with a tool that has no API
    (Midjourney, a local ComfyUI) become a run with provider `import`, through `import_run`, the
    function of `python -m playground import`. Returns the event that ends with the imported run
    opened in History."""
    with gr.Accordion("Import frames made elsewhere", open=False, elem_id="import-frames"):
        gr.Markdown(
            "Frames from a tool with no API (Midjourney, a local ComfyUI…) become a run with provider "
            "`import`: they are scored like any run and take part in comparisons. Nothing is sent anywhere."
        )
        files = gr.File(
            label="Frames, in order", file_count="multiple", file_types=["image"], type="filepath", height=140
        )
        with gr.Row():
            model = gr.Textbox(label="Model", placeholder="e.g. midjourney-v7 or comfyui-flux-dev", min_width=200)
            cost = gr.Number(
                label="Cost (USD)",
                value=0.0,
                minimum=0,
                maximum=MAX_IMPORT_USD,
                min_width=120,
                info="what the frames cost, typed by you (not counted by this app's spend caps)",
            )
        prompt = gr.Textbox(label="Prompt the frames were made from", lines=2)
        beats = gr.Textbox(label="Beats", lines=3, placeholder="Optional, one per line")
        button = gr.Button("Import as a run", variant="secondary")
        status = gr.Markdown()

    def do_import(
        paths: list[str] | None, model_name: str, cost_usd: float | None, prompt_text: str, beats_text: str
    ) -> tuple[str, str]:
        try:
            record = import_run(
                playground,
                [Path(p) for p in paths or []],
                model_name or "",
                parse_cost(cost_usd),
                prompt_text or "",
                parse_beats(beats_text),
            )
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return record.run_id, f"Imported {record.frames_returned} frame(s) as run `{record.run_id}`."

    event = button.click(
        do_import, [files, model, cost, prompt, beats], [history["run_id"], status], api_visibility="private"
    )
    return event.success(history["open"], history["run_id"], history["shown"], api_visibility="private")
