"""The Arena tab: blind pairwise votes on any experiment's sequences (one vote, or one per
criterion), several raters, keyboard keys, undo, and the leaderboard with vote counts and
bootstrap intervals. Layout and callbacks only: playground.present.arena does the work (its
votes go through experiments.votes.vote, the function behind the /vote endpoint)."""

from __future__ import annotations

import random
from typing import Any

import gradio as gr

from playground.base.errors import PlaygroundError
from playground.base.ratings import CRITERIA
from playground.core.playground import Playground
from playground.present.arena import (
    PER_CRITERION,
    VERDICT_KEYS,
    VERDICT_LABELS,
    ArenaPair,
    cast,
    experiment_choices,
    frames_of,
    leaderboard,
    new_pair,
    reveal,
    undo,
)

ROWS = ("overall", *PER_CRITERION)
ONE_VOTE, PER_CRITERION_MODE = "one vote", "per criterion (character, style, story)"
# A, B, T, S vote on the first row still open; N next pair; U undo. Ignored while typing (the rater
# box), with a modifier, on key repeat, and while the Arena is not on screen. A key clicks the real
# button, so mouse, keys and tests share one path.
KEYS_JS = """
if (!window.arenaKeys) {
  window.arenaKeys = true;
  // A row whose button was clicked is "sent" until the server answers: the next key goes to the next
  // open row, however fast the keys come. A row's buttons turning enabled again (undo, next pair)
  // clears the mark.
  document.addEventListener("click", (event) => {
    const row = event.target.closest && event.target.closest("#arena .arena-row");
    if (row && event.target.closest("button")) row.dataset.sent = "1";
  }, true);
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      if (m.oldValue !== null && !m.target.disabled) {
        const row = m.target.closest(".arena-row");
        if (row) delete row.dataset.sent;
      }
    }
  }).observe(document.body, {attributes: true, attributeFilter: ["disabled"], attributeOldValue: true, subtree: true});
  document.addEventListener("keydown", (event) => {
    const panel = document.querySelector("#arena");
    if (!panel || panel.offsetParent === null) return;
    const target = event.target;
    const typing = "input:not([type=radio]):not([type=checkbox]):not([type=button]), textarea, select, [contenteditable]";
    if (target && target.closest && target.closest(typing)) return;
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    const verdict = {a: "left", b: "right", t: "tie", s: "skip"}[event.key.toLowerCase()];
    let button = null;
    if (verdict) {
      for (const row of panel.querySelectorAll(".arena-row")) {
        if (row.offsetParent === null || row.dataset.sent) continue;
        const candidate = row.querySelector("button.arena-" + verdict);
        if (candidate && !candidate.disabled) { button = candidate; break; }
      }
    } else if (event.key.toLowerCase() === "n") {
      button = panel.querySelector("#arena-next");
    } else if (event.key.toLowerCase() === "u") {
      button = panel.querySelector("#arena-undo");
    }
    if (button && !button.disabled) { event.preventDefault(); button.click(); }
  });
}
"""
HELP = (
    "Which sequence keeps the character and style more consistent, and tells the story better? "
    "The arms are revealed after your vote. Keys: **A** · **B** · **T** tie · **S** skip · **N** next pair · "
    "**U** undo."
)


def build_tab(playground: Playground) -> dict[str, Any]:
    rng = random.Random()
    with gr.Tab("Arena", elem_id="arena-tab") as tab, gr.Column(elem_id="arena"):
        with gr.Row():
            experiment = gr.Dropdown(choices=[], value=None, label="Experiment", scale=3, elem_id="arena-experiment")
            rater = gr.Textbox(
                label="Rater", placeholder="your name (optional)", max_length=64, scale=2, elem_id="arena-rater"
            )
            mode = gr.Radio([ONE_VOTE, PER_CRITERION_MODE], value=ONE_VOTE, label="Vote", scale=3, elem_id="arena-mode")
        info = gr.Markdown(HELP, elem_id="arena-info")
        state = gr.State(None)
        remembered = gr.BrowserState("", storage_key="playground-arena-rater")  # the rater's name, in this browser
        with gr.Row(equal_height=True):
            galleries = {
                side: gr.Gallery(
                    label=label,
                    columns=4,
                    height=240,
                    object_fit="contain",
                    allow_preview=False,
                    elem_id=f"arena-{side}",
                    min_width=300,
                )
                for side, label in (("left", "A"), ("right", "B"))
            }
        buttons: dict[tuple[str, str], gr.Button] = {}
        rows: dict[str, gr.Column] = {}
        for criterion in ROWS:  # one block per criterion: its name above its four buttons (a phone wraps them)
            with gr.Column(
                elem_classes=["arena-row"], visible=criterion == "overall", elem_id=f"arena-row-{criterion}"
            ) as row:
                if criterion != "overall":
                    gr.Markdown(f"**{criterion}**", elem_classes=["arena-criterion"])
                with gr.Row():
                    for verdict, label in VERDICT_LABELS.items():
                        buttons[(criterion, verdict)] = gr.Button(
                            f"{label} · {VERDICT_KEYS[verdict]}",
                            interactive=False,
                            size="sm",
                            min_width=80,
                            elem_id=f"arena-{criterion}-{verdict}",
                            elem_classes=[f"arena-{verdict}"],
                            variant="primary" if verdict != "skip" else "secondary",
                        )
            rows[criterion] = row
        reveal_box = gr.Markdown(elem_id="arena-reveal")
        with gr.Row():
            next_button = gr.Button("Next pair · N", size="sm", elem_id="arena-next")
            undo_button = gr.Button("Undo last · U", size="sm", interactive=False, elem_id="arena-undo")
        with gr.Row():
            board_criterion = gr.Dropdown(
                list(CRITERIA), value="overall", label="Leaderboard criterion", scale=1, elem_id="arena-board-criterion"
            )
        board = gr.Dataframe(
            label="Leaderboard (win % and BT with 95% bootstrap intervals; none below 5 votes)",
            interactive=False,
            wrap=True,
            elem_id="arena-leaderboard",
        )
        gr.HTML("", js_on_load=KEYS_JS, elem_id="arena-keys")

    all_buttons = list(buttons.values())

    def button_updates(pair: ArenaPair | None) -> dict[Any, Any]:
        return {
            b: gr.Button(interactive=pair is not None and criterion in pair.pending)
            for (criterion, _), b in buttons.items()
        }

    def show_pair(choice: str | None, who: str, how: str) -> dict[Any, Any]:
        pair = new_pair(playground, choice or "", who or "", how == PER_CRITERION_MODE, rng)
        shown = (
            {galleries["left"]: [], galleries["right"]: []}
            if pair is None
            else {
                galleries["left"]: frames_of(playground, pair.left),
                galleries["right"]: frames_of(playground, pair.right),
            }
        )
        note = (
            HELP
            if pair is not None
            else (
                "Choose an experiment above."
                if not choice
                else "Fewer than two arms with frames in this experiment: nothing to vote on."
            )
        )
        visible = {rows[c]: gr.Column(visible=(c == "overall") == (how != PER_CRITERION_MODE)) for c in ROWS}
        return {
            state: pair,
            info: note,
            reveal_box: "",
            undo_button: gr.Button(interactive=False),
            **shown,
            **visible,
            **button_updates(pair),
        }

    def load(choice: str | None, who: str, how: str, criterion: str, stored: str) -> dict[Any, Any]:
        choices = experiment_choices(playground)
        chosen = choice if choice in choices else (choices[0] if choices else None)
        who = who or (stored if isinstance(stored, str) else "")[:64]
        return {
            experiment: gr.Dropdown(choices=choices, value=chosen),
            rater: who,
            **show_pair(chosen, who, how),
            board: leaderboard(playground, chosen, criterion),
        }

    def on_vote(criterion: str, verdict: str, pair: ArenaPair | None, who: str, board_for: str) -> dict[Any, Any]:
        try:
            pair = cast(playground, pair, criterion, verdict, who or "")
        except PlaygroundError as exc:
            raise gr.Error(str(exc)) from None
        out: dict[Any, Any] = {state: pair, undo_button: gr.Button(interactive=True), **button_updates(pair)}
        if pair.done:
            out[reveal_box] = reveal(playground, pair) + " Press **Next pair** (N) for another."
            out[board] = leaderboard(playground, pair.experiment_id, board_for)
        return out

    def on_undo(pair: ArenaPair | None, who: str, board_for: str) -> dict[Any, Any]:
        try:
            pair, criterion = undo(playground, pair, who or "")
        except PlaygroundError as exc:
            raise gr.Error(str(exc)) from None
        return {
            state: pair,
            reveal_box: f"Withdrew your {criterion} vote: vote again.",
            undo_button: gr.Button(interactive=bool(pair.cast)),
            **button_updates(pair),
            board: leaderboard(playground, pair.experiment_id, board_for),
        }

    pair_outputs = [state, info, reveal_box, undo_button, *galleries.values(), *rows.values(), *all_buttons]
    private: dict[str, Any] = {"api_visibility": "private"}
    tab.select(
        load,
        [experiment, rater, mode, board_criterion, remembered],
        [experiment, rater, *pair_outputs, board],
        **private,
    )
    rater.change(lambda who: (who or "")[:64], rater, remembered, **private)
    for event in (experiment.input, mode.input):
        event(show_pair, [experiment, rater, mode], pair_outputs, **private)
    next_button.click(show_pair, [experiment, rater, mode], pair_outputs, **private)
    experiment.input(leaderboard_for(playground), [experiment, board_criterion], board, **private)
    board_criterion.input(leaderboard_for(playground), [experiment, board_criterion], board, **private)
    for (criterion, verdict), button in buttons.items():
        button.click(
            lambda *v, c=criterion, d=verdict: on_vote(c, d, *v),
            [state, rater, board_criterion],
            [state, undo_button, reveal_box, board, *all_buttons],
            trigger_mode="once",
            **private,
        )
    undo_button.click(
        on_undo,
        [state, rater, board_criterion],
        [state, reveal_box, undo_button, board, *all_buttons],
        trigger_mode="once",
        **private,
    )
    return {"tab": tab, "experiment": experiment, "leaderboard": board}


def leaderboard_for(playground: Playground) -> Any:
    def show(choice: str | None, criterion: str) -> Any:
        return leaderboard(playground, choice, criterion or "overall")

    return show
