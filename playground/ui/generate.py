"""The Generate tab: layout and callbacks, nothing else. Every callback turns widgets into a
request and awaits one core function (the same ones the CLI and the tests call); what it
shows is written by the presenters in playground.present.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from playground.base.errors import PlaygroundError
from playground.base.presets import load_presets
from playground.base.types import GenerationRequest, RunResult
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.sink import Progress
from playground.present.estimate import estimate_text
from playground.present.forms import MODE_CHOICES, MODE_INFO, frames_value, mode_and_chain, parse_beats
from playground.present.providers import (
    generate_sizes,
    model_choices,
    provider_choices,
    reference_note,
    takes_seed,
)
from playground.present.runs import (
    format_summary,
    gallery_items,
    look_strip,
    progress_items,
    progress_text,
    refusal_text,
)
from playground.providers import provider_class
from playground.ui.closelook import gallery_look_js
from playground.ui.shared import (
    InFlight,
    build_downloads,
    download_updates,
    frames_box,
    request_cancel,
    visitor_session,
)

TICK_S = 0.5  # how often the elapsed time of a run in flight is refreshed
# On a phone the results sit above the form: after a tap on Generate, bring them into view (an
# event's js runs before its Python function; what it returns becomes the inputs, so it returns them)
SHOW_RESULTS = """(...values) => {
  if (window.innerWidth <= 640) document.getElementById("generate-results")?.scrollIntoView({block: "start"});
  return values;
}"""


CANCELLED = "**Cancelled.** The run is logged with status `cancelled` (see History); frames that arrived are kept."


def kept_model(provider_name: str, model_id: str | None) -> Any:
    """The Model list of a newly chosen provider: the model shown is kept when it is the provider's
    (History's Load into Generate sets both), else the provider's default."""
    listed = [m.id for m in provider_class(provider_name).models]
    return gr.Dropdown(
        choices=model_choices(provider_name),
        value=model_id if model_id in listed else provider_class(provider_name).default_model(),
    )


def final_summary(result: RunResult) -> str:
    """The summary a finished run shows; a cancelled one says so first, with its id, frames and cost."""
    text = format_summary(result.record)
    return f"{CANCELLED}\n\n{text}" if result.record.status == "cancelled" else text


async def stream_progress(
    task: asyncio.Task[RunResult], queue: asyncio.Queue[Progress], frames: int
) -> AsyncIterator[tuple[list[tuple[str, str]] | None, str]]:
    """(gallery items, progress line) while the run is in flight: items when frames landed,
    None when only the clock ticked (every TICK_S)."""
    started = time.perf_counter()
    latest, first_frame_s = Progress(0, frames, 0.0, []), None
    getter: asyncio.Future[Progress] | None = None
    try:
        while not task.done():
            getter = getter or asyncio.ensure_future(queue.get())
            await asyncio.wait({task, getter}, timeout=TICK_S, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                latest, getter = getter.result(), None
                while not queue.empty():  # frames that landed together: show the newest state once
                    latest = queue.get_nowait()
                if first_frame_s is None and latest.frames_done:
                    first_frame_s = latest.elapsed_s
                yield progress_items(latest), progress_text(latest, first_frame_s)
            elif not task.done():  # nothing new: tick the clock
                ticking = Progress(
                    latest.frames_done,
                    latest.frames_requested,
                    time.perf_counter() - started,
                    latest.frames,
                    latest.note,
                )
                yield None, progress_text(ticking, first_frame_s)
    finally:
        if getter is not None:
            getter.cancel()


# -- the Generate tab --------------------------------------------------------------------
def build_generate_tab(playground: Playground, session: gr.State) -> dict[str, Any]:
    presets = load_presets()
    first = next(iter(presets.values()), None)
    default_provider = playground.settings.default_provider
    default_model = provider_class(default_provider).default_model()
    # The form opens on the first preset, so Generate works at once (offline with `local`).
    start = (
        GenerationRequest(
            prompt=first.prompt, frames=first.frames, beats=list(first.story.beats), provider=default_provider
        )
        if first
        else GenerationRequest(prompt="", frames=4)
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300, elem_id="generate-form"):
            preset = gr.Dropdown(
                choices=["(none)"] + list(presets),
                value=first.title if first else "(none)",
                label="Preset",
                info="Fills prompt, beats and frames; runs offline with `local`",
            )
            prompt = gr.Textbox(
                label="Prompt",
                lines=3,
                value=start.prompt,
                placeholder="Character and style, e.g. 'A red panda courier with a green scarf. "
                "Flat-colour webcomic style.'",
                info="Shift+Enter or Ctrl+Enter to generate",
            )
            beats = gr.Textbox(
                label="Frame beats",
                lines=4,
                value="\n".join(start.beats),
                placeholder="Optional, one per line: what happens in each frame",
            )
            with gr.Row():  # every input of a run in sight: nothing hides in a closed accordion
                frames = frames_box(start.frames)
                seed = gr.Number(
                    value=7,
                    precision=0,
                    label="Seed",
                    min_width=90,
                    elem_id="seed-box",
                    visible=takes_seed(default_provider, default_model),
                )  # only where the model takes one
                # the model's sizes its pre-send check takes; any other may be typed (the estimate judges it)
                sizes, _ = generate_sizes(playground, default_provider, default_model, "sequence", start.frames, "")
                size = gr.Dropdown(
                    choices=sizes,
                    value="",
                    label="Size",
                    allow_custom_value=True,
                    min_width=150,
                    elem_id="generate-size",
                )
            with gr.Row():  # 260 px each: side by side they clipped "Local (offline stand-in, not a mo…"
                provider = gr.Dropdown(
                    choices=provider_choices(playground), value=default_provider, label="Provider", min_width=260
                )
                model = gr.Dropdown(
                    choices=model_choices(default_provider),
                    value=default_model,
                    label="Model",
                    allow_custom_value=True,
                    min_width=260,
                )
            mode = gr.Radio(MODE_CHOICES, value="sequence", label="Mode", info=MODE_INFO, elem_id="generate-mode")
            with gr.Column(elem_classes=["pg-action-bar"], elem_id="generate-actions"):  # sticky: always in view
                with gr.Row():
                    generate = gr.Button("Generate", variant="primary", elem_id="generate-button", min_width=100)
                    cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-button", min_width=100)
                estimate = gr.Markdown(
                    estimate_text(playground, start), elem_classes=["run-summary"], elem_id="run-estimate"
                )
            references = gr.File(
                label="Reference images",
                file_count="multiple",
                file_types=["image"],
                type="filepath",
                height=130,
                elem_id="reference-images",
            )
            ref_note = gr.Markdown(reference_note(default_provider, default_model), elem_id="reference-note")
        with gr.Column(scale=3, min_width=300, elem_classes=["pg-results"], elem_id="generate-results"):
            # a click on a frame opens the close look at full resolution (ui/closelook.py)
            gallery = gr.Gallery(
                label="Sequence",
                columns=4,
                height="auto",
                object_fit="contain",
                elem_id="sequence-gallery",
                preview=False,
                allow_preview=False,
            )
            look = gr.HTML(elem_id="sequence-look", container=False, js_on_load=gallery_look_js("sequence-gallery"))
            live = gr.Markdown(elem_id="run-progress")
            summary = gr.Markdown(
                "Pick a preset or type a prompt, then **Generate**.",
                elem_classes=["run-summary"],
                elem_id="run-summary",
            )
            downloads = build_downloads("run")
            last_run = gr.State("")
            in_flight = gr.State(InFlight())

    form = [prompt, beats, frames, provider, model, mode, seed, size, references]

    def to_request(
        prompt_text: str,
        beats_text: str,
        n: float,
        provider_name: str,
        model_id: str,
        mode_name: str,
        seed_value: float | None,
        size_text: str,
        files: list[str] | None,
    ) -> GenerationRequest:
        mode_value, chain_from = mode_and_chain(mode_name)
        return GenerationRequest(
            prompt=prompt_text or "",
            beats=parse_beats(beats_text),
            frames=frames_value(n),  # type: ignore[arg-type]  # the core refuses a non-whole value
            mode=mode_value,  # type: ignore[arg-type]
            provider=provider_name,
            model=model_id or "",
            size=(size_text or "").strip(),
            seed=None if seed_value is None else int(seed_value),
            references=[Path(f) for f in files or []],
            chain_from=chain_from,
        )

    def show_estimate(*values: Any) -> str:  # the session's spend is its visitor's once it has run (on_generate)
        *fields, _, _, state = values
        return estimate_text(playground, to_request(*fields), state)

    def show_reference_note(provider_name: str, model_id: str, files: list[str] | None) -> str:
        return reference_note(provider_name, model_id, len(files or []))

    async def on_generate(
        prompt_text: str,
        beats_text: str,
        n: float | None,
        provider_name: str,
        model_id: str,
        mode_name: str,
        seed_value: float | None,
        size_text: str,
        files: list[str] | None,
        shown_run: str,
        running: InFlight,
        state: Session,
        http: gr.Request | None = None,
    ) -> AsyncIterator[dict[Any, Any]]:
        state = visitor_session(playground, state, http)  # gr.Request: Gradio passes it, it is no API input
        request = to_request(
            prompt_text, beats_text, n, provider_name, model_id, mode_name, seed_value, size_text, files
        )
        queue: asyncio.Queue[Progress] = asyncio.Queue()
        token = asyncio.Event()  # the Cancel button sets it (once registered in `running`, below)
        task = asyncio.create_task(playground.run(request, state, on_progress=queue.put_nowait, cancel=token))
        # The core checks input, key and spend caps before its first await (one turn of the loop):
        # a refusal keeps the frames on screen and says why where it stays visible.
        await asyncio.sleep(0)
        if task.done() and isinstance(task.exception(), PlaygroundError):
            yield {summary: refusal_text(task.exception(), shown_run), live: ""}  # type: ignore[arg-type]
            raise gr.Error(str(task.exception()), print_exception=False)
        hidden = [gr.DownloadButton(visible=False)] * len(downloads)
        running.tokens.add(token)
        yield {
            gallery: [],
            live: progress_text(Progress(0, request.frames, 0.0, [])),
            summary: "",
            last_run: "",
            **dict(zip(downloads, hidden)),
        }  # no run shown until this one ends (the close look)
        try:
            async for items, text in stream_progress(task, queue, request.frames):
                yield {live: text} if items is None else {gallery: items, live: text}
            result = task.result()
        except PlaygroundError as exc:  # refused after all (should the core ever await before checking)
            yield {summary: refusal_text(exc), live: ""}
            raise gr.Error(str(exc), print_exception=False) from None
        finally:
            running.end(token)
            if not task.done():  # the page went away (Gradio cancelled this event): the core logs it as cancelled
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        # the one final state: also after Cancel, which only set the token (the core returned the run)
        yield {
            gallery: gallery_items(result.frames),
            live: "",
            summary: final_summary(result),
            last_run: result.record.run_id,
        }

    inputs = form + [last_run, in_flight, session]
    outputs = [gallery, live, summary, last_run, *downloads]
    # The estimate follows every field it depends on, presets included. A textbox's .change fires
    # per keystroke (its .input sends the value from before the key in Gradio 6.31): always_last
    # keeps at most one waiting, and no concurrency limit, so it never queues behind other
    # sessions' estimates (it reads no more than the price table and today's spend). One listener
    # for every field: always_last holds per listener, so with one per field an older answer (the
    # beats typed, the old frame count) could land after a newer one and stay on screen.
    quick = dict(api_visibility="private", show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)
    gr.on(
        [c.change for c in (prompt, beats, frames, provider, model, mode, size, references)],
        show_estimate,
        inputs,
        estimate,
        **quick,
    )
    for component in (model, references):
        component.change(
            show_reference_note,
            [provider, model, references],
            ref_note,
            api_visibility="private",
            show_progress="hidden",
        )
    model.change(
        lambda p, m: gr.Number(visible=takes_seed(p, m)),
        [provider, model],
        seed,
        api_visibility="private",
        show_progress="hidden",
    )
    provider.change(kept_model, [provider, model], model, api_visibility="private")

    def refresh_sizes(provider_name: str, model_id: str, mode_name: str, n: float | None, current: str | None) -> Any:
        choices, kept = generate_sizes(playground, provider_name, model_id, mode_name, n, current)
        return gr.Dropdown(choices=choices, value=kept)

    for component in (model, mode):  # a new provider changes the model too (kept_model)
        component.change(
            refresh_sizes,
            [provider, model, mode, frames, size],
            size,
            api_visibility="private",
            show_progress="hidden",
            trigger_mode="always_last",
        )
    # the close look's frames: the run shown, once it has ended (last_run is empty while one streams)
    last_run.change(
        lambda run_id: look_strip(playground, run_id),
        last_run,
        look,
        api_visibility="private",
        show_progress="hidden",
        concurrency_limit=None,
    )
    # One pool for both triggers, bounded by queue(default_concurrency_limit=...) in app.py:
    # a public app must not start unboundedly many paid runs at once (the rest wait in the queue).
    # Gradio's status (queue position, spinner, "Error" badge) only on the progress line: on the
    # gallery and summary an error badge hid the frames and the reason of a refused run.
    run_options = dict(concurrency_limit="default", concurrency_id="runs", show_progress_on=[live])
    run_event = generate.click(
        on_generate, inputs, outputs, api_name="generate", js=SHOW_RESULTS, api_visibility="undocumented", **run_options
    )  # an old contract; scripts use /run
    submit_event = prompt.submit(on_generate, inputs, outputs, api_visibility="private", js=SHOW_RESULTS, **run_options)
    # Exports take a moment: an event of their own after the run, so the run has ended (and
    # Generate takes the next click) as soon as its frames and numbers are on screen.
    for event in (run_event, submit_event):
        event.success(
            lambda run_id: download_updates(playground, run_id),
            last_run,
            downloads,
            api_visibility="private",
            show_progress="hidden",
        )
    # not `cancels=`: the run's own event shows the cancelled run (one writer for its lines)
    cancel.click(
        request_cancel, in_flight, None, api_visibility="private", concurrency_limit=None, show_progress="hidden"
    )  # never waits behind the runs it cancels

    def fill_preset(title: str) -> tuple[Any, ...]:
        chosen = presets.get(title)
        if chosen is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return chosen.prompt, "\n".join(chosen.story.beats), chosen.frames, chosen.mode

    preset.input(fill_preset, preset, [prompt, beats, frames, mode], api_visibility="private")
    return {
        "gallery": gallery,
        "summary": summary,
        "last_run": last_run,
        "run_event": run_event,
        "submit_event": submit_event,
        "provider": provider,
        "generate": generate,
        "estimate": estimate,
        "inputs": inputs,
    }
