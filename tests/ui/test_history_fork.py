"""History as a workbench: filters, refusals hidden by default, what a reopened run was made
with, and the request that makes it again."""

from __future__ import annotations

import asyncio

import pytest

from playground.base.errors import InputError
from playground.base.types import GenerationRequest
from playground.core import Playground
from playground.present.history import RunFilter, filtered_runs, made_with, request_from_record


def make_runs(playground: Playground) -> list[str]:
    seq = asyncio.run(
        playground.run(GenerationRequest(prompt="A fox courier.", frames=2, beats=["wakes", "runs", "x"], seed=7))
    ).record
    base = asyncio.run(
        playground.run(GenerationRequest(prompt="A cat.", frames=2, mode="baseline", size="512x512"))
    ).record
    with pytest.raises(InputError):
        asyncio.run(playground.run(GenerationRequest(prompt=" ", frames=2)))
    return [seq.run_id, base.run_id]


def test_filters_and_refusals_hidden_by_default(playground: Playground) -> None:
    seq, base = make_runs(playground)
    shown, hidden = filtered_runs(playground, RunFilter(), 100)
    assert list(shown["run_id"]) == [base, seq] and hidden == 1  # newest first, the refusal left out
    everything, hidden = filtered_runs(playground, RunFilter(include_refused=True), 100)
    assert len(everything) == 3 and hidden == 0
    baseline, _ = filtered_runs(playground, RunFilter(mode="baseline"), 100)
    assert list(baseline["run_id"]) == [base]
    assert filtered_runs(playground, RunFilter(status="error"), 100)[0].empty  # only the refusal, hidden
    assert len(filtered_runs(playground, RunFilter(status="error", include_refused=True), 100)[0]) == 1


def test_made_with_and_the_request_that_makes_it_again(playground: Playground) -> None:
    seq, _ = make_runs(playground)
    record = playground.log.get(seq)
    from playground.store.codec import record_from_row

    logged = record_from_row(record)  # type: ignore[arg-type]
    text = made_with(logged)
    assert "Prompt: A fox courier." in text and "(the first 2 of 3 sent)" in text and "3. x" in text
    assert "seed 7 sent" in text and "local/procedural-v1" in text
    again = asyncio.run(playground.run(request_from_record(logged))).record
    assert again.run_id != logged.run_id and again.composed_prompts == logged.composed_prompts
    assert (again.frames_requested, again.seed, again.size, again.beats) == (
        logged.frames_requested,
        logged.seed,
        logged.size,
        logged.beats,
    )


def test_tags_and_notes_are_append_only_and_replayed(playground: Playground) -> None:
    from playground.experiments.annotations import add_note, add_tag, annotations, remove_tag
    from playground.ui.limits import DATA_FILES

    seq, base = make_runs(playground)
    add_tag(playground, seq, "keep")
    add_tag(playground, seq, "webcomic")
    remove_tag(playground, seq, "keep")
    add_note(playground, seq, "=HYPERLINK(x) the scarf changes colour", "me")
    add_note(playground, seq, "second look: fine")
    found = annotations(playground, seq)
    assert found.tags == ["webcomic"] and [n[2] for n in found.notes][0] == "second look: fine"
    assert found.notes[1][1:] == ("me", "=HYPERLINK(x) the scarf changes colour")  # read back as typed
    raw = (playground.settings.data_dir / "annotations.csv").read_text(encoding="utf-8")
    assert raw.count("\n") == 6 and "'=HYPERLINK" in raw  # five rows, never rewritten; a formula neutralised
    assert annotations(playground, base).tags == []
    for bad, words in (
        (lambda: add_tag(playground, seq, "two words"), "a tag is 1 to 32"),
        (lambda: add_note(playground, seq, "x" * 2001), "at most 2000"),
        (lambda: add_tag(playground, "nope", "keep"), "no run 'nope'"),
    ):
        with pytest.raises(InputError, match=words):
            bad()
    assert "annotations.csv" in DATA_FILES  # never served


def test_history_thumbnails_are_first_frame_previews_and_refusals_have_none(playground: Playground) -> None:
    from playground.present.runs import history_table, thumbnail_url

    seq, base = make_runs(playground)
    table = history_table(playground, frame=filtered_runs(playground, RunFilter(include_refused=True), 100)[0])
    cells = dict(zip(table["run_id"], table["frame"]))
    for run_id in (seq, base):  # each row's own run, its first frame's preview, never the original
        assert cells[run_id] == f"![first frame]({thumbnail_url(playground, run_id)})"
        assert cells[run_id].endswith(f"/runs/{run_id}/frame_01.preview.webp)")
    refused = [cell for rid, cell in cells.items() if rid not in (seq, base)]
    assert refused == [""]
    assert thumbnail_url(playground, "../runs.csv") == "" and thumbnail_url(playground, "") == ""


def test_history_filters_by_the_tags_runs_carry_now(playground: Playground) -> None:
    from playground.experiments.annotations import add_tag, remove_tag
    from playground.present.history import filter_choices
    from playground.ui.history import filter_of

    seq, base = make_runs(playground)
    add_tag(playground, seq, "keep")
    add_tag(playground, base, "keep")
    add_tag(playground, base, "odd")
    remove_tag(playground, base, "keep")
    assert list(filtered_runs(playground, RunFilter(tag="keep"), 100)[0]["run_id"]) == [seq]
    assert list(filtered_runs(playground, RunFilter(tag="odd", mode="baseline"), 100)[0]["run_id"]) == [base]
    assert filtered_runs(playground, RunFilter(tag="odd", mode="sequence"), 100)[0].empty
    assert filter_choices(playground)["tag"] == ["keep", "odd"]
    # the History tab's Tag box (after Experiment, before the refused checkbox) reaches the filter
    assert filter_of(("", "", "", "", "", "keep", False)) == RunFilter(tag="keep")
