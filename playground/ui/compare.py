"""The Compare tab: one story across up to 6 arms at once, side by side, then a blind vote.

Layout and callbacks only: every callback calls playground.experiments (the functions the
`compare` command and the tests call too) and shows what playground.present.compare writes.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from playground.base.errors import PlaygroundError
from playground.base.presets import load_presets
from playground.core.playground import Playground
from playground.core.session import Session
from playground.core.sink import Progress
from playground.experiments.cells import (
    Cell,
    logged_runs,
    parse_arms,
    total_max_usd,
    total_usd,
)
from playground.experiments.compare import (
    MAX_ARMS,
    Comparison,
    compare,
    needs_confirmation,
    new_experiment_id,
)
from playground.present.compare import (
    DEFAULT_ARMS,
    MAX_ROWS,
    NOTHING_TO_CONFIRM,
    CompareForm,
    PendingConfirmation,
    VotePool,
    append_arm,
    cast_vote,
    composed_prompts,
    estimate_markdown,
    outcome_items,
    read_form,
    row_header,
    status_line,
)
from playground.present.forms import MODE_CHOICES
from playground.present.providers import (
    EACH_DEFAULT,
    common_sizes,
    default_sizes_note,
    model_choices,
    provider_choices,
)
from playground.present.runs import progress_items
from playground.providers import provider_class
from playground.ui.shared import InFlight, frames_box, request_cancel, visitor_session

VOTE_CONTROLS = ("vote_left", "vote_tie", "vote_right", "left_score", "right_score")


# -- the tab --------------------------------------------------------------------------------
def build_tab(playground: Playground, session: gr.State) -> dict[str, Any]:
    presets = load_presets()
    with gr.Tab("Compare"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=320):
                form = _build_form(playground, presets)
            with gr.Column(scale=3, min_width=360):
                status = gr.Markdown(
                    "Choose arms, then **Run comparison**. Every arm runs at the same time.", elem_id="compare-status"
                )
                form["activity"] = gr.Markdown(elem_id="compare-activity")  # where Gradio shows queue and errors
                with gr.Tabs():
                    with gr.Tab("Side by side"):
                        rows = [_build_row(i) for i in range(MAX_ROWS)]
                    with gr.Tab("Blind vote"):
                        vote = _build_vote()
        pool = gr.State(None)
        pending = gr.State(PendingConfirmation())
        form["in_flight"] = gr.State(InFlight())
        _wire(playground, session, form, rows, vote, status, pool, presets, pending)
    return {"status": status, "rows": rows, "pool": pool}


def _build_form(playground: Playground, presets: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = {}
    c["preset"] = gr.Dropdown(choices=["(none)"] + list(presets), value="(none)", label="Preset")
    c["prompt_a"] = gr.Textbox(
        label="Prompt", lines=3, elem_id="compare-prompt", placeholder="Character and style, shared by every frame"
    )
    with gr.Accordion("Prompt variants (optional A/B test of the wording)", open=False):
        c["prompt_b"] = gr.Textbox(label="Prompt variant B", lines=2, placeholder="Filled in: the prompt above is A")
        c["prompt_c"] = gr.Textbox(label="Prompt variant C", lines=2)
    c["beats"] = gr.Textbox(label="Frame beats", lines=4, placeholder="One per line: what happens in each frame")
    with gr.Row():
        c["frames"] = frames_box(4)
        c["seed"] = gr.Number(value=7, precision=0, label="Seed (sent to arms that take one)")
        c["size"] = gr.Dropdown(
            choices=size_dropdown(playground, DEFAULT_ARMS, 4),
            value="",
            label="Size",
            allow_custom_value=True,
            elem_id="compare-size",
            info="The same for every arm; offered: the sizes every arm takes",
        )
    c["arms"] = gr.Textbox(
        label="Arms",
        lines=4,
        value=DEFAULT_ARMS,
        elem_id="compare-arms",
        info=f"One per line, provider:model:mode (empty model = default; mode sequence, baseline, "
        f"chain or chain-previous), up to {MAX_ARMS}",
    )
    c["size_note"] = gr.Markdown(sizes_note(DEFAULT_ARMS), elem_id="compare-size-note")
    with gr.Row():
        default = playground.settings.default_provider
        c["add_provider"] = gr.Dropdown(
            choices=provider_choices(playground), value=default, label="Provider", scale=2, min_width=260
        )
        c["add_model"] = gr.Dropdown(
            choices=model_choices(default),
            value=provider_class(default).default_model(),
            label="Model",
            allow_custom_value=True,
            scale=2,
            min_width=260,
        )
        c["add_mode"] = gr.Radio(MODE_CHOICES, value="baseline", label="Mode", scale=2)
    c["add"] = gr.Button("Add arm", size="sm")
    c["estimate"] = gr.Markdown(elem_id="compare-estimate")
    with gr.Row():
        c["run"] = gr.Button("Run comparison", variant="primary", elem_id="compare-run")
        c["cancel"] = gr.Button("Cancel", variant="stop", elem_id="compare-cancel")
    with gr.Group(visible=False) as c["confirm_box"]:
        c["confirm_text"] = gr.Markdown()
        with gr.Row():
            c["confirm"] = gr.Button("Yes, run it", variant="stop")
            c["back"] = gr.Button("No")
    return c


def _build_row(i: int) -> dict[str, Any]:
    with gr.Group(visible=False) as box:
        header = gr.Markdown(elem_classes=["run-summary"])
        gallery = gr.Gallery(
            show_label=False,
            columns=6,
            height="auto",
            object_fit="contain",
            preview=False,
            elem_id=f"compare-gallery-{i}",
        )
        with gr.Accordion("Composed prompt(s) sent", open=False):
            prompts = gr.Textbox(show_label=False, lines=3, max_lines=12, interactive=False)
    return {"box": box, "header": header, "gallery": gallery, "prompts": prompts}


def _build_vote() -> dict[str, Any]:
    v: dict[str, Any] = {}
    v["info"] = gr.Markdown("Run a comparison: two of its sequences appear here without their arm names.")
    with gr.Row(equal_height=False):
        for side in ("left", "right"):
            with gr.Column():
                v[side] = gr.Gallery(
                    label=side.capitalize(),
                    columns=3,
                    height=280,
                    object_fit="contain",
                    preview=False,
                    elem_id=f"vote-{side}",
                )
                v[f"{side}_score"] = gr.Radio(
                    ["1", "2", "3", "4", "5"],
                    value=None,
                    elem_id=f"vote-{side}-score",
                    interactive=False,
                    label=f"Score {side} (optional, 5 = best)",
                )
    with gr.Row():  # usable while a pair awaits its vote
        v["vote_left"] = gr.Button("Left better", interactive=False, elem_id="vote-left-better")
        v["vote_tie"] = gr.Button("Tie", interactive=False, elem_id="vote-tie")
        v["vote_right"] = gr.Button("Right better", interactive=False, elem_id="vote-right-better")
        v["next"] = gr.Button("Another pair", variant="secondary")
    v["rater"] = gr.Textbox(label="Rater (optional)", placeholder="your name or initials", max_lines=1)
    v["reveal"] = gr.Markdown(elem_id="vote-reveal")
    return v


def _wire(
    playground: Playground,
    session: gr.State,
    form: dict[str, Any],
    rows: list[dict[str, Any]],
    vote: dict[str, Any],
    status: gr.Markdown,
    pool: gr.State,
    presets: dict[str, Any],
    pending: gr.State,
) -> None:
    fields = [form[k] for k in ("prompt_a", "prompt_b", "prompt_c", "beats", "frames", "seed", "arms", "size")]
    row_outputs = [c for row in rows for c in row.values()]
    vote_outputs = [vote[k] for k in ("info", "left", "right", "reveal", *VOTE_CONTROLS)]
    run_outputs = [
        status,
        form["activity"],
        form["confirm_box"],
        form["confirm_text"],
        pool,
        *row_outputs,
        *vote_outputs,
    ]
    rng = random.Random()

    def form_of(values: list[Any]) -> CompareForm:
        a, b, c, beats, frames, seed, arms, size = values
        return read_form([a, b, c], beats, frames, seed, arms, size)

    def show_estimate(*values: Any) -> str:
        *vals, state, _, _ = values  # the form, the session, the pending confirmation, the runs in flight
        return estimate_markdown(playground, form_of(vals), state)

    def voting(enabled: bool) -> dict[Any, Any]:
        """The vote buttons and scores: usable only while a pair awaits its vote (a new pair starts unscored)."""
        score = gr.Radio(value=None, interactive=True) if enabled else gr.Radio(interactive=False)
        return {vote[k]: gr.Button(interactive=enabled) if k.startswith("vote_") else score for k in VOTE_CONTROLS}

    def pair_updates(current: VotePool | None) -> dict[Any, Any]:
        pair = current.draw(rng) if current else None
        if pair is None:
            return {
                vote["info"]: "Fewer than two sequences returned frames: nothing to vote on.",
                vote["left"]: [],
                vote["right"]: [],
                vote["reveal"]: "",
                pool: current,
                **voting(False),
            }
        return {
            vote["info"]: "Which sequence keeps the character and style more consistent, and tells the story "
            "better? The arms are revealed after your vote.",
            vote["left"]: current.items[pair[0]],
            vote["right"]: current.items[pair[1]],
            vote["reveal"]: "",
            pool: current,
            **voting(True),
        }

    async def on_run(
        confirmed: bool, values: tuple[Any, ...], state: Session, asked: PendingConfirmation, running: InFlight
    ) -> AsyncIterator[dict[Any, Any]]:
        form_values = form_of(list(values))
        shown, shown_usd = asked.take()  # before any await: two confirmations cannot both use it
        if confirmed and shown != form_values:
            yield {status: f"**Not sent:** {NOTHING_TO_CONFIRM}.", form["confirm_box"]: gr.Group(visible=False)}
            raise gr.Error(NOTHING_TO_CONFIRM, print_exception=False)
        experiment_id = new_experiment_id()
        try:
            plans = form_values.plans(playground, state, experiment_id)
        except PlaygroundError as exc:
            logged = logged_runs(playground, experiment_id)
            note = (
                f" {logged} refused run(s) logged as error rows of `{experiment_id}` (see History)." if logged else ""
            )
            yield {status: f"**Not sent:** {exc}.{note}"}
            raise gr.Error(str(exc), print_exception=False) from None
        usd, most = total_usd(plans), total_max_usd(plans)
        # ask, unless this is the answer to the same question (a worst case that grew since asks again)
        if needs_confirmation(playground, most) and not (confirmed and most <= shown_usd + 1e-9):
            asked.form, asked.max_usd = form_values, most
            yield {
                form["confirm_box"]: gr.Group(visible=True),
                form["confirm_text"]: f"**At most ${most:.4f}** (typical ${usd:.4f}), above "
                f"${playground.settings.confirm_usd:.2f} (PLAYGROUND_CONFIRM_USD). "
                f"Nothing has been sent. Run it?",
            }
            return
        done: list[Comparison] = []
        async for update in _run_rows(
            playground, form_values, [p.cell for p in plans], state, rows, status, done, experiment_id, running
        ):
            yield {form["confirm_box"]: gr.Group(visible=False), **update}
        yield pair_updates(VotePool.of(done[0]))

    def run_handler(confirmed: bool, name: str) -> Any:
        # Explicit parameters: Gradio passes gr.Request only to a named positional parameter.
        async def handler(
            a: str,
            b: str,
            c: str,
            beats: str,
            frames: float | None,
            seed: float | None,
            arms: str,
            size: str | None,
            state: Session,
            asked: PendingConfirmation | None = None,
            running: InFlight | None = None,
            http: gr.Request | None = None,
        ) -> AsyncIterator[dict[Any, Any]]:
            state = visitor_session(playground, state, http)
            async for update in on_run(
                confirmed,
                (a, b, c, beats, frames, seed, arms, size),
                state,
                asked or PendingConfirmation(),
                running or InFlight(),
            ):
                yield update

        handler.__name__ = name  # Gradio names an event after its function
        return handler

    on_click, on_confirm = run_handler(False, "on_click"), run_handler(True, "on_confirm")

    def on_back(asked: PendingConfirmation) -> tuple[Any, str]:
        asked.take()
        return gr.Group(visible=False), "Cancelled: nothing was sent."

    inputs = fields + [session, pending, form["in_flight"]]
    # the Generate tab's pool ("runs", bounded in app.py): a comparison holds one slot while its arms run
    # Gradio's status (queue, timer, "Error" badge) on an empty line of its own: on the status
    # line or the rows it hid the reason and the frames
    run_options = dict(concurrency_limit="default", concurrency_id="runs", show_progress_on=[form["activity"]])
    # the form's own event (its output is the page's 60-odd components): private; scripts use /compare (ui/api.py)
    form["run"].click(on_click, inputs, run_outputs, api_name="compare_form", api_visibility="private", **run_options)
    form["confirm"].click(on_confirm, inputs, run_outputs, api_visibility="private", **run_options)
    # Cancel sets the comparison's token: every arm stops, is logged as cancelled, and the run's own
    # event shows them (with what may have been billed)
    form["cancel"].click(
        request_cancel,
        form["in_flight"],
        None,
        api_visibility="private",
        concurrency_limit=None,
        show_progress="hidden",
    )
    form["back"].click(on_back, pending, [form["confirm_box"], status], api_visibility="private")
    # one listener each (see generate.py): answers of one listener land in order, of several may not
    gr.on(
        [c.change for c in fields],
        show_estimate,
        inputs,
        form["estimate"],
        api_visibility="private",
        show_progress="hidden",
        trigger_mode="always_last",
        concurrency_limit=None,
    )
    gr.on(
        [form["arms"].change, form["frames"].change],  # the sizes every arm takes, and whether defaults differ
        lambda arms, n: (gr.Dropdown(choices=size_dropdown(playground, arms, n)), sizes_note(arms)),
        [form["arms"], form["frames"]],
        [form["size"], form["size_note"]],
        api_visibility="private",
        show_progress="hidden",
        trigger_mode="always_last",
        concurrency_limit=None,
    )
    form["add_provider"].change(
        lambda p: gr.Dropdown(choices=model_choices(p), value=provider_class(p).default_model()),
        form["add_provider"],
        form["add_model"],
        api_visibility="private",
    )
    form["add"].click(
        append_arm,
        [form["arms"], form["add_provider"], form["add_model"], form["add_mode"]],
        form["arms"],
        api_visibility="private",
    )
    form["preset"].change(
        lambda t: _preset_values(presets, t),
        form["preset"],
        [form["prompt_a"], form["beats"], form["frames"]],
        api_visibility="private",
    )

    def on_vote(verdict: str, current: VotePool | None, left: str | None, right: str | None, rater: str) -> Any:
        try:
            revealed = cast_vote(playground, current, verdict, left, right, rater or "")
        except PlaygroundError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        return {vote["reveal"]: revealed + " Press **Another pair** to vote again.", pool: current, **voting(False)}

    vote_inputs = [pool, vote["left_score"], vote["right_score"], vote["rater"]]
    for verdict in ("left", "tie", "right"):
        vote[f"vote_{verdict}"].click(
            lambda *v, verdict=verdict: on_vote(verdict, *v),
            vote_inputs,
            [vote["reveal"], pool, *(vote[k] for k in VOTE_CONTROLS)],
            api_visibility="private",
        )
    vote["next"].click(pair_updates, pool, vote_outputs + [pool], api_visibility="private")


def _arm_specs(arms_text: str | None) -> list[tuple[str, str, str]]:
    try:
        return [(a.provider, a.model, a.mode) for a in parse_arms((arms_text or "").splitlines())]
    except PlaygroundError:  # the estimate line says what is wrong with the arms
        return []


def size_dropdown(playground: Playground, arms_text: str | None, frames: float | None) -> list[tuple[str, str]]:
    """ "each model's default" first, then the sizes every arm's pre-send check takes."""
    n = frames if isinstance(frames, int) or (isinstance(frames, float) and frames.is_integer()) else 4
    sizes = common_sizes(playground, _arm_specs(arms_text), int(n or 4)) if _arm_specs(arms_text) else []
    return [(EACH_DEFAULT, ""), *((s, s) for s in sizes)]


def sizes_note(arms_text: str | None) -> str:
    note = default_sizes_note(_arm_specs(arms_text))
    return f"*{note}*" if note else ""


def _preset_values(presets: dict[str, Any], title: str) -> tuple[Any, ...]:
    chosen = presets.get(title)
    if chosen is None:
        return gr.skip(), gr.skip(), gr.skip()
    return chosen.prompt, "\n".join(chosen.story.beats), chosen.frames


async def _run_rows(
    playground: Playground,
    form: CompareForm,
    cells: list[Cell],
    state: Session,
    rows: list[dict[str, Any]],
    status: gr.Markdown,
    done: list[Comparison],
    experiment_id: str,
    running: InFlight,
) -> AsyncIterator[dict[Any, Any]]:
    """Run the comparison, streaming each arm's frames into its row; the result goes to `done`."""
    queue: asyncio.Queue[tuple[int, Progress]] = asyncio.Queue()
    token = asyncio.Event()
    running.tokens.add(token)
    task = asyncio.create_task(
        compare(
            playground,
            form.story,
            form.arms(),
            variants=form.variants,
            frames=form.frames,
            seed=form.seed,
            size=form.size,
            session=state,
            on_progress=lambda i, p: queue.put_nowait((i, p)),
            experiment_id=experiment_id,
            cancel=token,
        )
    )
    first: dict[Any, Any] = {status: f"Running {len(cells)} arm(s) at once…"}
    for i, row in enumerate(rows):
        cell = cells[i] if i < len(cells) else None
        first[row["box"]] = gr.Group(visible=cell is not None)
        if cell is not None:
            first[row["header"]] = (
                f"**{cell.arm.label}**{f' · variant {cell.variant}' if cell.variant else ''} — running…"
            )
            first[row["gallery"]], first[row["prompts"]] = [], ""
    yield first
    try:
        while not task.done():
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                i, p = getter.result()
                yield {
                    rows[i]["gallery"]: progress_items(p),
                    rows[i]["header"]: f"**{cells[i].arm.label}** — running… {p.frames_done}/{p.frames_requested} "
                    f"frames · {p.elapsed_s:.1f} s",
                }
            else:
                getter.cancel()
        comparison = task.result()
    except PlaygroundError as exc:
        raise gr.Error(str(exc), print_exception=False) from None
    finally:
        running.end(token)
        if not task.done():  # the page went away: the core logs in-flight runs as cancelled
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    done.append(comparison)
    final: dict[Any, Any] = {status: status_line(comparison)}
    for i, outcome in enumerate(comparison.outcomes):
        if outcome.record is not None:
            final[rows[i]["header"]] = row_header(outcome.record, outcome.cell.variant)
            final[rows[i]["gallery"]] = outcome_items(outcome)
            final[rows[i]["prompts"]] = composed_prompts(outcome.record)
    yield final
