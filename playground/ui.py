"""Gradio Blocks: layout and callbacks, nothing else. Every callback turns widgets into a
request and awaits one core function (the same ones the CLI and the tests call).

Tabs from other modules (Compare, Analysis) plug in through OPTIONAL_TABS: a module with
`build_tab(playground, session)` adds its own tab.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from playground.core import Playground, Progress, RunResult, Session
from playground.errors import InputError, PlaygroundError, SpendCapError
from playground.presets import load_presets
from playground.providers import provider_class, provider_names
from playground.types import MAX_FRAMES, MIN_FRAMES, GenerationRequest, RunRecord

OPTIONAL_TABS = ("playground.ui_compare", "playground.ui_analysis")
HISTORY_COLUMNS = {"created_at": "when (UTC)", "run_id": "run_id", "provider": "provider", "model": "model",
                   "mode": "mode", "status": "status", "frames": "frames", "cost_usd": "cost $",
                   "latency_s": "latency s", "subject_consistency": "subject", "palette_consistency": "palette",
                   "prompt": "prompt", "error": "error"}
CSS = """
#sequence-gallery {min-height: 320px}
.run-summary {font-variant-numeric: tabular-nums}
"""


# -- small pure helpers (tested without a browser) ---------------------------------------
def parse_beats(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def provider_choices(playground: Playground, session: Session | None = None) -> list[tuple[str, str]]:
    choices = []
    for name in provider_names():
        cls = provider_class(name)
        state = "ready" if playground.configured(name, session) else f"set {cls.key_env}"
        choices.append((f"{cls.label} — {state}", name))
    return choices


def model_choices(provider: str) -> list[tuple[str, str]]:
    return [(m.label + (" [retired]" if m.retired and "retired" not in m.label else ""), m.id)
            for m in provider_class(provider).models]


def banner(playground: Playground) -> str:
    live = [n for n in playground.configured_providers() if n != "local"]
    providers = ", ".join(live) if live else "none (no API key set)"
    return (f"**Sequential image playground.** Live providers: {providers}. The `local` provider is an offline "
            f"stand-in that draws frames procedurally (not a model). Every run is logged with its cost to "
            f"`{playground.log.runs.path}`.")


def format_summary(record: RunRecord, estimate_usd: float | None = None) -> str:
    lines = [f"### {record.status}: {record.frames_returned} of {record.frames_requested} frames",
             f"**Cost** ${record.cost_usd:.4f} ({record.cost_source}; estimate "
             f"${(record.estimate_usd if estimate_usd is None else estimate_usd) or 0:.4f}) · "
             f"**Latency** {record.latency_s or 0:.2f} s · **First frame** "
             f"{'—' if record.first_frame_s is None else f'{record.first_frame_s:.2f} s'} · "
             f"**Calls** {record.api_calls} · **Billed images** {record.images_billed}"]
    scores = [(n, getattr(record, n)) for n in ("subject_consistency", "palette_consistency", "structure_consistency",
                                                "clip_i", "dino_i", "clip_t", "dreamsim")]
    shown = [f"{n.replace('_consistency', '')} {v:.3f}" for n, v in scores if isinstance(v, float)]
    if shown:
        lines.append("**Consistency** " + " · ".join(shown))
    elif record.frames_returned < 2 and record.status != "error":
        lines.append("Consistency needs at least 2 frames.")
    if record.metrics_note:
        lines.append(f"*{record.metrics_note}*")
    if record.error:
        lines.append(f"**Error:** {record.error}")
    lines.append(f"<small>run `{record.run_id}` · {record.provider}/{record.model} · {record.mode} · frames in "
                 f"`{record.image_dir}`</small>")
    return "\n\n".join(lines)


def gallery_items(result: RunResult) -> list[tuple[str, str]]:
    return [(str(p), c) for p, c in zip(result.previews, result.captions)]


def progress_items(progress: Progress, beats: list[str]) -> list[tuple[str, str]]:
    return [(str(preview), beats[i] if i < len(beats) else f"Frame {i + 1}") for i, _, preview in progress.frames]


def run_frames(playground: Playground, run_id: str) -> tuple[list[tuple[str, str]], str]:
    """A past run's previews with captions, and its summary (History reopen)."""
    row = playground.log.get(run_id)
    if row is None:
        raise InputError(f"no run {run_id!r} in the log")
    run_dir = Path(str(row["image_dir"] or playground.log.run_dir(run_id)))
    beats = json.loads(row["beats"] or "[]") if isinstance(row["beats"], str) else []
    frames = sorted(p for p in run_dir.glob("frame_*.*") if ".preview." not in p.name and not p.name.endswith(".part"))
    items = []
    for i, frame in enumerate(frames):
        preview = frame.with_name(frame.stem + ".preview.webp")
        items.append((str(preview if preview.exists() else frame), beats[i] if i < len(beats) else f"Frame {i + 1}"))
    record = RunRecord(**{k: (None if _is_missing(v) else v) for k, v in row.items() if k in RunRecord.columns()})
    return items, format_summary(record)


def _is_missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def history_table(playground: Playground, n: int = 100) -> Any:
    """The newest runs, newest first, with short headers; the full row stays in runs.csv."""
    frame = playground.log.latest(n).copy()
    frame["frames"] = [f"{r}/{q}" for r, q in zip(frame["frames_returned"], frame["frames_requested"])]
    frame["created_at"] = frame["created_at"].astype(str).str.replace("T", " ").str.rstrip("Z")
    frame["prompt"] = frame["prompt"].astype(str).str.slice(0, 80)
    return frame[list(HISTORY_COLUMNS)].rename(columns=HISTORY_COLUMNS)


# -- the Generate tab --------------------------------------------------------------------
def build_generate_tab(playground: Playground, session: gr.State) -> dict[str, Any]:
    presets = load_presets()
    default_provider = playground.settings.default_provider
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            preset = gr.Dropdown(choices=["(none)"] + list(presets), value="(none)", label="Preset")
            prompt = gr.Textbox(label="Prompt", lines=3, placeholder="Character and style, e.g. 'A red panda courier "
                                "with a green scarf. Flat-colour webcomic style.'")
            beats = gr.Textbox(label="Frame beats", lines=4, placeholder="Optional, one per line: what happens in each frame")
            frames = gr.Slider(MIN_FRAMES, MAX_FRAMES, value=4, step=1, label="Frames")
            with gr.Row():
                provider = gr.Dropdown(choices=provider_choices(playground), value=default_provider, label="Provider")
                model = gr.Dropdown(choices=model_choices(default_provider),
                                    value=provider_class(default_provider).default_model(), label="Model",
                                    allow_custom_value=True)
            with gr.Row():
                mode = gr.Radio(["sequence", "baseline"], value="sequence", label="Mode",
                                info="sequence: one call for N frames · baseline: N independent single-image calls")
                seed = gr.Number(value=7, precision=0, label="Seed")
            size = gr.Textbox(label="Size", placeholder="default for the model, e.g. 1024x1024 or 2K")
            references = gr.File(label="Reference images", file_count="multiple", file_types=["image"], type="filepath")
            estimate = gr.Markdown(elem_classes=["run-summary"])
            with gr.Row():
                generate = gr.Button("Generate", variant="primary")
                cancel = gr.Button("Cancel", variant="stop")
        with gr.Column(scale=3, min_width=320):
            gallery = gr.Gallery(label="Sequence", columns=4, height="auto", object_fit="contain",
                                 elem_id="sequence-gallery", preview=False)
            live = gr.Markdown(elem_id="run-progress")
            summary = gr.Markdown("Pick a preset or type a prompt, then **Generate**.", elem_classes=["run-summary"])
            last_run = gr.State("")

    form = [prompt, beats, frames, provider, model, mode, seed, size, references]

    def to_request(prompt_text: str, beats_text: str, n: float, provider_name: str, model_id: str, mode_name: str,
                   seed_value: float | None, size_text: str, files: list[str] | None) -> GenerationRequest:
        return GenerationRequest(prompt=prompt_text or "", beats=parse_beats(beats_text), frames=int(n or 0),
                                 mode=mode_name, provider=provider_name, model=model_id or "", size=(size_text or "").strip(),
                                 seed=None if seed_value is None else int(seed_value),
                                 references=[Path(f) for f in files or []])

    def show_estimate(*values: Any) -> str:
        *fields, state = values
        try:
            request = playground.resolve(to_request(*fields))
        except PlaygroundError as exc:
            return f"*{exc}*"
        est = playground.estimate(request)
        note = " (estimate: model not in the price table)" if est.price.estimated else ""
        return (f"**Estimated cost** ${est.usd:.4f} = {est.images} × ${est.per_image_usd:.4f}{note} · "
                f"{'ready' if playground.configured(request.provider, state) else 'not configured'}")

    async def on_generate(*values: Any) -> AsyncIterator[dict[Any, Any]]:
        *fields, state = values
        request = to_request(*fields)
        queue: asyncio.Queue[Progress] = asyncio.Queue()
        task = asyncio.create_task(playground.run(request, state, on_progress=queue.put_nowait))
        yield {gallery: [], live: f"Running… 0 / {request.frames} frames", summary: ""}
        try:
            while not task.done():
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    p = getter.result()
                    yield {gallery: progress_items(p, request.beats),
                           live: f"Running… {p.frames_done} / {p.frames_requested} frames · {p.elapsed_s:.1f} s {p.note}"}
                else:
                    getter.cancel()
            result = task.result()
        except (InputError, SpendCapError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        finally:
            if not task.done():  # the user pressed Cancel: the core logs the run as cancelled
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        yield {gallery: gallery_items(result), live: "", summary: format_summary(result.record),
               last_run: result.record.run_id}

    inputs = form + [session]
    for component in (frames, provider, model, mode, size):
        component.change(show_estimate, inputs, estimate, api_visibility="private", show_progress="hidden")
    provider.change(lambda p: gr.Dropdown(choices=model_choices(p), value=provider_class(p).default_model()),
                    provider, model, api_visibility="private")
    run_event = generate.click(on_generate, inputs, [gallery, live, summary, last_run], api_name="generate",
                               concurrency_limit=None, concurrency_id="runs")
    prompt.submit(on_generate, inputs, [gallery, live, summary, last_run], api_visibility="private",
                  concurrency_limit=None, concurrency_id="runs")
    cancel.click(lambda: "Cancelled", None, live, cancels=[run_event], api_visibility="private")

    def fill_preset(title: str) -> tuple[Any, ...]:
        chosen = presets.get(title)
        if chosen is None:
            return gr.skip(), gr.skip(), gr.skip()
        return chosen.prompt, "\n".join(chosen.story.beats), chosen.frames

    preset.change(fill_preset, preset, [prompt, beats, frames], api_visibility="private")
    return {"gallery": gallery, "summary": summary, "last_run": last_run, "run_event": run_event,
            "provider": provider, "generate": generate}


# -- the History tab ---------------------------------------------------------------------
def build_history_tab(playground: Playground) -> dict[str, Any]:
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm")
        run_id = gr.Textbox(label="Run ID", placeholder="click a row, or paste a run id", scale=3)
        reopen = gr.Button("Open run", size="sm")
    table = gr.Dataframe(value=lambda: history_table(playground), label="Runs (newest first)", interactive=False,
                         wrap=True, max_height=420, elem_id="history-table",
                         column_widths=["12%", "15%", "7%", "10%", "7%", "6%", "5%", "5%", "6%", "6%", "6%", "10%", "5%"])
    gallery = gr.Gallery(label="Run frames", columns=5, height="auto", object_fit="contain")
    summary = gr.Markdown()

    def pick(evt: gr.SelectData, frame: Any) -> str:
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return str(frame.iloc[row]["run_id"])

    def open_run(rid: str) -> tuple[Any, str]:
        try:
            return run_frames(playground, rid.strip())
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    refresh.click(lambda: history_table(playground), None, table, api_visibility="private")
    table.select(pick, table, run_id, api_visibility="private").then(open_run, run_id, [gallery, summary],
                                                                        api_visibility="private")
    reopen.click(open_run, run_id, [gallery, summary], api_name="open_run")
    return {"table": table, "refresh": lambda: history_table(playground)}


def build_keys(playground: Playground, session: gr.State) -> None:
    """Per-session keys: password fields whose events are private and never logged or saved."""
    keyed = [provider_class(n) for n in provider_names() if provider_class(n).key_env]
    if not keyed:
        return
    with gr.Accordion("API keys for this session (kept in memory only)", open=False):
        for cls in keyed:
            box = gr.Textbox(label=f"{cls.key_env} ({cls.name})", type="password", placeholder="uses the environment if empty")

            def store(value: str, state: Session, env_var: str = str(cls.key_env)) -> Session:
                if value.strip():
                    state.keys[env_var] = value.strip()
                else:
                    state.keys.pop(env_var, None)
                return state

            box.change(store, [box, session], session, api_visibility="private", show_progress="hidden")


def build_app(playground: Playground) -> gr.Blocks:
    with gr.Blocks(title="Sequential image playground") as app:
        session = gr.State(Session())
        gr.Markdown(banner(playground), elem_id="banner")
        with gr.Tab("Generate"):
            generate = build_generate_tab(playground, session)
            build_keys(playground, session)
        with gr.Tab("History") as history_tab:
            history = build_history_tab(playground)
        for module_name in OPTIONAL_TABS:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name != module_name:
                    raise
                continue
            module.build_tab(playground, session)
        history_tab.select(history["refresh"], None, history["table"], api_visibility="private")
        generate["run_event"].then(history["refresh"], None, history["table"], api_visibility="private")
    return app
