"""Gradio Blocks: layout and callbacks, nothing else. Every callback turns widgets into a
request and awaits one core function (the same ones the CLI and the tests call).

Tabs from other modules (Compare, Analysis) plug in through EXTRA_TABS: a module with
`build_tab(playground, session)` adds its own tab.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from playground import ui_hub
from playground.base.errors import InputError, PlaygroundError, SpendCapError
from playground.base.presets import load_presets
from playground.base.types import GenerationRequest, RunRecord, RunResult
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.sink import Progress
from playground.core.spend import visitor_key
from playground.export import run_exports
from playground.providers import provider_class, provider_names
from playground.store.merged import load_run
from playground.store.rundir import FRAME_NAME

if TYPE_CHECKING:
    from playground.store.hub_sync import HubSync

EXTRA_TABS = ("playground.ui_compare", "playground.ui_analysis")
# History: header -> width in px, sized for a 1400 px window (a phone scrolls the table sideways;
# Gradio 6.31's pinned_columns did not stay put). Numbers are rounded text: no overflow, no jitter.
HISTORY_COLUMNS = {"run_id": 164, "when (UTC)": 104, "provider": 80, "model": 142, "mode": 76, "status": 78,
                   "frames": 72, "cost $": 64, "latency s": 84, "subject": 70, "prompt": 116, "error": 166}
# With the Hub sync on, a writer column (merged.py), in the same 1216 px
HISTORY_COLUMNS_SYNCED = {**HISTORY_COLUMNS, "model": 120, "latency s": 80, "prompt": 98, "error": 96, "writer": 114}
DOWNLOADS = {"zip": "Download ZIP", "sheet": "Storyboard sheet (PNG)", "gif": "Animated GIF"}
TICK_S = 0.5  # how often the elapsed time of a run in flight is refreshed
# -- small pure helpers (tested without a browser) ---------------------------------------
@dataclass
class InFlight:
    """Runs of this browser session between their start and their end (a gr.State, mutated in
    place): Cancel says a run was cancelled only when there was one."""

    runs: int = 0


CANCELLED = "**Cancelled.** The run is logged with status `cancelled` (see History); frames that arrived are kept."


def cancel_updates(in_flight: InFlight) -> tuple[Any, Any]:
    """(progress line, summary) after Cancel: untouched when nothing was running."""
    if in_flight.runs <= 0:
        gr.Info("Nothing is running: there is nothing to cancel.", duration=4)
        return gr.skip(), gr.skip()
    in_flight.runs = 0  # the cancelled runs' generators stop without reaching their end
    return "", CANCELLED


def parse_beats(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def frames_value(value: float | None) -> int | float:
    """The Frames box exactly as typed: no clamping or rounding here, so a value outside 1..15
    (or not whole) reaches the core, which refuses it (a logged error row, nothing sent)."""
    if value is None:  # an emptied box
        return 0
    return int(value) if float(value).is_integer() else value


def frames_box(value: int) -> gr.Number:
    """Frames as a plain number box: a slider's box clamps out-of-range values (with a toast)
    while showing them, so the run sent was not the run the user saw."""
    return gr.Number(value=value, label="Frames", precision=None, step=1, min_width=90)


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


def reference_note(provider: str, model: str, count: int = 0) -> str:
    """Whether the chosen model takes reference images, and whether `count` of them fit."""
    try:
        cls = provider_class(provider)
    except InputError as exc:
        return f"*{exc}*"
    info = cls.model(model or cls.default_model())
    needs = "edit-sequential" in info.id  # these edit the references: they need at least one
    takers = [m.label for m in cls.models if m.max_references and not m.retired]
    if info.max_references == 0:
        other = f" In {cls.name}, these do: {', '.join(takers)}." if takers else ""
        text = f"**{info.label}** takes no reference images.{other}"
        return text + (" Remove the uploaded images to run it: nothing is sent while they are there." if count else "")
    text = f"**{info.label}** takes {'1 to ' if needs else 'up to '}{info.max_references} reference image(s)"
    if info.frames_plus_references_max:
        text += f" (references + frames ≤ {info.frames_plus_references_max})"
    text += ": they are sent with the prompt to keep the character."
    if needs and count == 0:
        text += " **Upload at least one**: this model edits reference images."
    elif count > info.max_references:
        text += f" **{count} uploaded: remove {count - info.max_references}.**"
    return text


def banner(playground: Playground) -> str:
    s = playground.settings
    live = [n for n in playground.configured_providers() if n != "local"]
    providers = ", ".join(f"`{n}`" for n in live) if live else "none (no API key set: add one as a secret or below)"
    caps = [f"${value:.2f} {label}" for value, label in ((s.max_usd_per_run, "per run"),
            (s.max_usd_per_session, "per session"), (s.max_usd_per_day, "per day")) if value not in (None, float("inf"))]
    spend = f"Spend caps: {', '.join(caps)}." if caps else ("**No spend cap is set.**" if live else "")
    return (f"**Sequential image playground** · Live providers: {providers} · `local` is an offline stand-in "
            f"that draws frames procedurally (not a model). **Every run is logged** with its prompt, frames and cost "
            f"(`{s.data_dir.name}/runs.csv`) and shows in History to everyone using this app.{ui_hub.banner_note(s)} {spend}")


def format_summary(record: RunRecord, estimate_usd: float | None = None) -> str:
    most = f", at most ${record.max_cost_usd:.4f}" if isinstance(record.max_cost_usd, float) else ""
    lines = [f"### {record.status}: {record.frames_returned} of {record.frames_requested} frames",
             f"**Cost** ${record.cost_usd or 0:.4f} ({record.cost_source}; estimate "
             f"${(record.estimate_usd if estimate_usd is None else estimate_usd) or 0:.4f}{most}) · "
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
    failures = frame_failures(record)
    if failures:
        lines.append("**Frames not returned**\n\n" + "\n".join(f"- {line}" for line in failures))
    reasons = {line.split(": ", 1)[1] for line in failures}
    if record.error and not set(record.error.split("; ")) <= reasons:  # said already, frame by frame
        lines.append(f"**{'Note' if record.status == 'cancelled' else 'Error'}:** {record.error}")
    refs = f" · {record.ref_count} reference image(s)" if record.ref_count else ""
    folder = Path(record.image_dir or "")  # DATA_DIR/runs/<run_id>: the last two parts say where
    lines.append(f"<small>run `{record.run_id}` · {record.provider}/{record.model} · {record.mode}{refs} · "
                 f"frames in `{folder.parent.name}/{folder.name}`</small>")
    return "\n\n".join(lines)


def estimate_text(playground: Playground, request: GenerationRequest, session: Session | None = None) -> str:
    """The cost estimate of a request before it is sent, or why it would be refused."""
    try:
        request = playground.resolve(request)
    except PlaygroundError as exc:
        return f"*{exc}*"
    est = playground.estimate(request)
    note = " (estimate: model not in the price table)" if est.price.estimated else ""
    state = "ready" if playground.configured(request.provider, session) else "not configured"
    try:
        playground.check_caps(est, session)
    except SpendCapError as exc:
        state = f"would be refused: {exc}"
    return (f"**Estimated cost** ${est.usd:.4f} = {est.images} × ${est.per_image_usd:.4f}{note} · **at most** "
            f"${est.max_usd:.4f} (the spend caps check this) · {state}")


def visitor_session(playground: Playground, session: Session, request: gr.Request | None) -> Session:
    """On a Space, the browser session with its spend bound to its visitor's (spend.py): a new
    client from the same address does not start a new session budget. Elsewhere (a researcher's
    own machine) each browser session keeps its own."""
    if request is None or not playground.settings.on_space:  # request None: called as a plain function (tests)
        return session
    peer = request.client.host if request.client else None
    visitor = visitor_key(dict(request.headers or {}), peer, playground.settings.on_space)
    return playground.bind_visitor(session, visitor)


def progress_text(progress: Progress, first_frame_s: float | None = None) -> str:
    """Frames done / requested, a bar, elapsed time and time to first frame of a run in flight."""
    done, wanted = progress.frames_done, max(int(progress.frames_requested), 1)
    bar = "▰" * done + "▱" * max(0, wanted - done)
    parts = [f"**Running… {done} / {progress.frames_requested} frames** <span class='bar'>{bar}</span>",
             f"{progress.elapsed_s:.1f} s elapsed"]
    if first_frame_s is not None:
        parts.append(f"first frame after {first_frame_s:.1f} s")
    if progress.note:
        parts.append(progress.note)
    return " · ".join(parts)


async def stream_progress(task: asyncio.Task[RunResult], queue: asyncio.Queue[Progress], frames: int,
                          beats: list[str]) -> AsyncIterator[tuple[list[tuple[str, str]] | None, str]]:
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
                yield progress_items(latest, beats), progress_text(latest, first_frame_s)
            elif not task.done():  # nothing new: tick the clock
                ticking = Progress(latest.frames_done, latest.frames_requested,
                                   time.perf_counter() - started, latest.frames, latest.note)
                yield None, progress_text(ticking, first_frame_s)
    finally:
        if getter is not None:
            getter.cancel()


def refusal_text(exc: BaseException, shown_run: str = "") -> str:
    """What the summary says when the core refused a run before sending it."""
    kept = f" The frames shown are from run `{shown_run}`." if shown_run else ""
    return (f"### Not sent\n\n**{exc}**\n\nNothing was sent to the provider; the attempt is logged as an error row "
            f"(see History).{kept}")


def frame_caption(number: int, beats: Sequence[str]) -> str:
    """A gallery caption that carries its frame number, so a frame that did not come back shows as a gap."""
    beat = beats[number - 1] if 0 < number <= len(beats) else ""
    return f"{number}. {beat}" if beat else f"Frame {number}"


def gallery_items(result: RunResult) -> list[tuple[str, str]]:
    beats = json.loads(result.record.beats or "[]")
    numbers = [int(match.group(1)) if (match := FRAME_NAME.match(f.name)) else i + 1 for i, f in enumerate(result.frames)]
    return [(str(p), frame_caption(n, beats)) for p, n in zip(result.previews, numbers)]


def progress_items(progress: Progress, beats: list[str]) -> list[tuple[str, str]]:
    return [(str(preview), frame_caption(i + 1, beats)) for i, _, preview in progress.frames]


def frame_failures(record: RunRecord) -> list[str]:
    """"Frame 2: <why>" for each frame that did not come back with a reason (frame_errors);
    frames failing for one reason are named together."""
    try:
        errors = json.loads(record.frame_errors or "{}")
    except json.JSONDecodeError:
        return []
    by_reason: dict[str, list[int]] = {}
    for number, reason in sorted(((int(n), str(r)) for n, r in errors.items() if str(n).isdigit())):
        by_reason.setdefault(reason, []).append(number)
    return [f"Frame{'s' if len(numbers) > 1 else ''} {number_ranges(numbers)}: {reason}"
            for reason, numbers in by_reason.items()]


def number_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1–3, 5" (sorted input)."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)


def run_frames(playground: Playground, run_id: str) -> tuple[list[tuple[str, str]], str]:
    """A past run's previews with captions, and its summary (History reopen)."""
    run = load_run(playground, run_id)
    items = [(str(f.preview or f.path), frame_caption(f.number, run.beats)) for f in run.frames]
    return items, format_summary(run.record)


def download_updates(playground: Playground, run_id: str) -> list[Any]:
    """One DownloadButton update per export: shown with its file, or hidden when the run has no frames."""
    try:
        files = run_exports(playground, run_id) if run_id else {}
    except InputError:
        files = {}
    return [gr.DownloadButton(value=str(files[fmt]), visible=True) if fmt in files else
            gr.DownloadButton(value=None, visible=False) for fmt in DOWNLOADS]


def history_table(playground: Playground, n: int = 100) -> Any:
    """The newest runs, newest first, as short text cells; the full row stays in runs.csv.
    With a pulled Hub dataset, every writer's runs, each once, and a `writer` column (merged.py)."""
    import pandas as pd

    from playground.store import merged

    frame = merged.latest(playground, n)

    def fixed(column: str, places: int) -> list[str]:
        values = pd.to_numeric(frame[column], errors="coerce")
        return ["" if pd.isna(v) else f"{v:.{places}f}" for v in values]

    table = pd.DataFrame({
        "run_id": frame["run_id"],
        "when (UTC)": frame["created_at"].astype(str).str.replace("T", " ").str.slice(5, 16),  # MM-DD HH:MM
        "provider": frame["provider"], "model": frame["model"], "mode": frame["mode"],
        "status": frame["status"],
        "frames": [f"{r}/{q}" for r, q in zip(frame["frames_returned"], frame["frames_requested"])],
        "cost $": fixed("cost_usd", 4), "latency s": fixed("latency_s", 2), "subject": fixed("subject_consistency", 3),
        "prompt": frame["prompt"].astype(str).str.slice(0, 80), "error": frame["error"].astype(str)})
    if merged.WRITER_COLUMN in frame:
        table[merged.WRITER_COLUMN] = frame[merged.WRITER_COLUMN].astype(str).to_numpy()
    return table.reset_index(drop=True)


# -- shared widgets ------------------------------------------------------------------------
def build_downloads(prefix: str) -> list[gr.DownloadButton]:
    """ZIP, sheet and GIF buttons, hidden until a run with frames is shown."""
    with gr.Row():
        return [gr.DownloadButton(label, visible=False, size="sm", elem_id=f"{prefix}-download-{fmt}")
                for fmt, label in DOWNLOADS.items()]


# -- the Generate tab --------------------------------------------------------------------
def build_generate_tab(playground: Playground, session: gr.State) -> dict[str, Any]:
    presets = load_presets()
    first = next(iter(presets.values()), None)
    default_provider = playground.settings.default_provider
    default_model = provider_class(default_provider).default_model()
    # The form opens on the first preset, so Generate works at once (offline with `local`).
    start = GenerationRequest(prompt=first.prompt, frames=first.frames, beats=list(first.story.beats),
                              provider=default_provider) if first else GenerationRequest(prompt="", frames=4)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300, elem_id="generate-form"):
            preset = gr.Dropdown(choices=["(none)"] + list(presets), value=first.title if first else "(none)",
                                 label="Preset", info="Fills prompt, beats and frames; runs offline with `local`")
            prompt = gr.Textbox(label="Prompt", lines=3, value=start.prompt,
                                placeholder="Character and style, e.g. 'A red panda courier with a green scarf. "
                                "Flat-colour webcomic style.'", info="Shift+Enter or Ctrl+Enter to generate")
            beats = gr.Textbox(label="Frame beats", lines=4, value="\n".join(start.beats),
                               placeholder="Optional, one per line: what happens in each frame")
            with gr.Row():  # every input of a run in sight: nothing hides in a closed accordion
                frames = frames_box(start.frames)
                seed = gr.Number(value=7, precision=0, label="Seed", min_width=90)
                size = gr.Textbox(label="Size", placeholder="model default", min_width=120, max_lines=1)
            with gr.Row():
                provider = gr.Dropdown(choices=provider_choices(playground), value=default_provider, label="Provider")
                model = gr.Dropdown(choices=model_choices(default_provider), value=default_model, label="Model",
                                    allow_custom_value=True)
            mode = gr.Radio(["sequence", "baseline"], value="sequence", label="Mode",
                            info="sequence: one call for N frames · baseline: N independent single-image calls")
            with gr.Row():
                generate = gr.Button("Generate", variant="primary", elem_id="generate-button")
                cancel = gr.Button("Cancel", variant="stop", elem_id="cancel-button")
            estimate = gr.Markdown(estimate_text(playground, start), elem_classes=["run-summary"], elem_id="run-estimate")
            references = gr.File(label="Reference images", file_count="multiple", file_types=["image"],
                                 type="filepath", height=130, elem_id="reference-images")
            ref_note = gr.Markdown(reference_note(default_provider, default_model), elem_id="reference-note")
        with gr.Column(scale=3, min_width=300):
            gallery = gr.Gallery(label="Sequence", columns=4, height="auto", object_fit="contain",
                                 elem_id="sequence-gallery", preview=False)
            live = gr.Markdown(elem_id="run-progress")
            summary = gr.Markdown("Pick a preset or type a prompt, then **Generate**.", elem_classes=["run-summary"],
                                  elem_id="run-summary")
            downloads = build_downloads("run")
            last_run = gr.State("")
            in_flight = gr.State(InFlight())

    form = [prompt, beats, frames, provider, model, mode, seed, size, references]

    def to_request(prompt_text: str, beats_text: str, n: float, provider_name: str, model_id: str, mode_name: str,
                   seed_value: float | None, size_text: str, files: list[str] | None) -> GenerationRequest:
        return GenerationRequest(prompt=prompt_text or "", beats=parse_beats(beats_text),
                                 frames=frames_value(n),  # type: ignore[arg-type]  # the core refuses a non-whole value
                                 mode=mode_name, provider=provider_name, model=model_id or "", size=(size_text or "").strip(),
                                 seed=None if seed_value is None else int(seed_value),
                                 references=[Path(f) for f in files or []])

    def show_estimate(*values: Any) -> str:  # the session's spend is its visitor's once it has run (on_generate)
        *fields, _, _, state = values
        return estimate_text(playground, to_request(*fields), state)

    def show_reference_note(provider_name: str, model_id: str, files: list[str] | None) -> str:
        return reference_note(provider_name, model_id, len(files or []))

    async def on_generate(prompt_text: str, beats_text: str, n: float | None, provider_name: str, model_id: str,
                          mode_name: str, seed_value: float | None, size_text: str, files: list[str] | None,
                          shown_run: str, running: InFlight, state: Session, http: gr.Request | None = None
                          ) -> AsyncIterator[dict[Any, Any]]:
        state = visitor_session(playground, state, http)  # gr.Request: Gradio passes it, it is no API input
        request = to_request(prompt_text, beats_text, n, provider_name, model_id, mode_name, seed_value, size_text,
                             files)
        queue: asyncio.Queue[Progress] = asyncio.Queue()
        task = asyncio.create_task(playground.run(request, state, on_progress=queue.put_nowait))
        # The core checks input, key and spend caps before its first await (one turn of the loop):
        # a refusal keeps the frames on screen and says why where it stays visible.
        await asyncio.sleep(0)
        if task.done() and isinstance(task.exception(), PlaygroundError):
            yield {summary: refusal_text(task.exception(), shown_run), live: ""}  # type: ignore[arg-type]
            raise gr.Error(str(task.exception()), print_exception=False)
        hidden = [gr.DownloadButton(visible=False)] * len(downloads)
        running.runs += 1
        yield {gallery: [], live: progress_text(Progress(0, request.frames, 0.0, [])), summary: "",
               **dict(zip(downloads, hidden))}
        try:
            async for items, text in stream_progress(task, queue, request.frames, request.beats):
                yield {live: text} if items is None else {gallery: items, live: text}
            result = task.result()
        except PlaygroundError as exc:  # refused after all (should the core ever await before checking)
            yield {summary: refusal_text(exc), live: ""}
            raise gr.Error(str(exc), print_exception=False) from None
        finally:
            if not task.done():  # the user pressed Cancel: the core logs the run as cancelled
                task.cancel()  # (and Cancel resets the count: it must still see this run)
                await asyncio.gather(task, return_exceptions=True)
            else:
                running.runs = max(0, running.runs - 1)
        yield {gallery: gallery_items(result), live: "", summary: format_summary(result.record),
               last_run: result.record.run_id}

    inputs = form + [last_run, in_flight, session]
    outputs = [gallery, live, summary, last_run, *downloads]
    # The estimate follows every field it depends on, presets included. A textbox's .change fires
    # per keystroke (its .input sends the value from before the key in Gradio 6.31): always_last
    # keeps at most one waiting, and no concurrency limit, so it never queues behind other
    # sessions' estimates (it reads no more than the price table and today's spend).
    quick = dict(api_visibility="private", show_progress="hidden", trigger_mode="always_last", concurrency_limit=None)
    for component in (prompt, beats, frames, provider, model, mode, size, references):
        component.change(show_estimate, inputs, estimate, **quick)
    for component in (model, references):
        component.change(show_reference_note, [provider, model, references], ref_note, api_visibility="private",
                         show_progress="hidden")
    provider.change(lambda p: gr.Dropdown(choices=model_choices(p), value=provider_class(p).default_model()),
                    provider, model, api_visibility="private")
    # One pool for both triggers, bounded by queue(default_concurrency_limit=...) in app.py:
    # a public app must not start unboundedly many paid runs at once (the rest wait in the queue).
    # Gradio's status (queue position, spinner, "Error" badge) only on the progress line: on the
    # gallery and summary an error badge hid the frames and the reason of a refused run.
    run_options = dict(concurrency_limit="default", concurrency_id="runs", show_progress_on=[live])
    run_event = generate.click(on_generate, inputs, outputs, api_name="generate", **run_options)
    submit_event = prompt.submit(on_generate, inputs, outputs, api_visibility="private", **run_options)
    # Exports take a moment: an event of their own after the run, so the run has ended (and
    # Generate takes the next click) as soon as its frames and numbers are on screen.
    for event in (run_event, submit_event):
        event.success(lambda run_id: download_updates(playground, run_id), last_run, downloads,
                      api_visibility="private", show_progress="hidden")
    cancel.click(cancel_updates, in_flight, [live, summary], cancels=[run_event, submit_event],
                 api_visibility="private")

    def fill_preset(title: str) -> tuple[Any, ...]:
        chosen = presets.get(title)
        if chosen is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return chosen.prompt, "\n".join(chosen.story.beats), chosen.frames, chosen.mode

    preset.input(fill_preset, preset, [prompt, beats, frames, mode], api_visibility="private")
    return {"gallery": gallery, "summary": summary, "last_run": last_run, "run_event": run_event,
            "submit_event": submit_event, "provider": provider, "generate": generate, "estimate": estimate,
            "inputs": inputs}


# -- the History tab ---------------------------------------------------------------------
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
    reopen.click(open_run, run_id, shown, api_name="open_run")  # first, so the public name is exactly open_run
    table.select(pick, table, run_id, api_visibility="private").then(open_run, run_id, shown, api_visibility="private")
    run_id.submit(open_run, run_id, shown, api_visibility="private")
    return {"table": table, "refresh": refreshed, "run_id": run_id, "open": open_run,
            "shown": shown}


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


def build_app(playground: Playground, hub: HubSync | None = None) -> gr.Blocks:
    """`hub`: the running Hub sync (hub_sync.start), whose state History shows."""
    from playground.ui_import import build_import

    # delete_cache: download buttons copy exports into Gradio's cache; sweep day-old files hourly
    with gr.Blocks(title="Sequential image playground", delete_cache=(3600, 86400)) as app:
        session = gr.State(Session())
        gr.Markdown(banner(playground), elem_id="banner")
        with gr.Tab("Generate"):
            generate = build_generate_tab(playground, session)
            build_keys(playground, session)
        with gr.Tab("History") as history_tab:
            hub_status = ui_hub.build_status(hub)
            history = build_history_tab(playground)
            imported = build_import(playground, history)
        for module_name in EXTRA_TABS:
            importlib.import_module(module_name).build_tab(playground, session)
        refresh = dict(fn=history["refresh"], inputs=None, outputs=history["table"], api_visibility="private")
        history_tab.select(**refresh)
        for event in (generate["run_event"], generate["submit_event"], imported):
            event.then(**refresh)
        if hub_status:
            history_tab.select(hub_status[1], None, hub_status[0], api_visibility="private", show_progress="hidden")
    return app
