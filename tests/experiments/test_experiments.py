"""Experiments offline: arms, fair sequence-vs-baseline comparisons, concurrency, cost cap,
resume, votes (the local provider; the emulator-backed tests are in test_experiments_emulator.py)."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.base.errors import InputError, SpendCapError
from playground.base.prompts import Story
from playground.base.types import RunRecord
from playground.core import Playground, Session
from playground.experiments.cells import Arm, Cell, parse_arm, parse_arms, run_cells, run_outcomes
from playground.experiments.compare import compare, comparison_cells, plan_comparison
from playground.experiments.votes import add_score, add_vote, blind_pair
from playground.providers.adapters.local import LocalProvider

STORY = Story(
    character="A red fox courier with a blue scarf",
    style="flat webcomic style",
    beats=("gets a parcel", "runs over roofs", "delivers it"),
)
SEQ, BASE = Arm("local", "", "sequence"), Arm("local", "", "baseline")


def priced(data_dir: Path, **env: str) -> Playground:
    """A playground where the local stand-in costs $0.10 an image (so caps have something to count)."""
    return Playground(
        Settings.from_env(env={"PLAYGROUND_PRICES": '{"local/procedural-v1": 0.1}', **env}, data_dir=data_dir)
    )


# -- arms -----------------------------------------------------------------------------------
def test_parse_arm_resolves_the_default_model_and_keeps_colons_in_model_ids() -> None:
    assert parse_arm("local::baseline") == BASE
    assert parse_arm("local::baseline").label == "local:procedural-v1:baseline"
    assert parse_arm(" byteplus:seedream-5-0-260128:sequence ").label == "byteplus:seedream-5-0-260128:sequence"
    assert parse_arm("openai:org:custom:model:baseline").model == "org:custom:model"


@pytest.mark.parametrize(
    "text, message",
    [
        ("local", "PROVIDER:MODEL:MODE"),
        ("nope::sequence", "unknown provider 'nope'"),
        ("local::seq", "mode must be one of sequence, baseline"),
        ("", "PROVIDER:MODEL:MODE"),
    ],
)
def test_parse_arm_rejects_bad_specs_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_arm(text)


def test_parse_arms_skips_comments_and_refuses_duplicates() -> None:
    assert parse_arms(["local::sequence", "  # byteplus::sequence", "", "local::baseline # free"]) == [SEQ, BASE]
    with pytest.raises(InputError, match="listed twice"):
        parse_arms(["local::sequence", "local:procedural-v1:sequence"])
    with pytest.raises(InputError, match="at least one arm"):
        parse_arms(["# nothing"])


def test_comparison_cells_are_arms_times_variants_with_one_seed() -> None:
    cells = comparison_cells(
        STORY, [SEQ, BASE], variants={"A": "{character}. {style}.", "B": "{character}!", "C": " "}, frames=3, seed=11
    )
    assert [(c.variant, c.arm.mode) for c in cells] == [
        ("A", "sequence"),
        ("A", "baseline"),
        ("B", "sequence"),
        ("B", "baseline"),
    ]
    assert {c.seed for c in cells} == {11}
    assert cells[0].story.prompt() == "A red fox courier with a blue scarf. flat webcomic style."
    assert cells[2].story.beats == STORY.beats
    with pytest.raises(InputError, match="at most 6"):
        comparison_cells(STORY, [Arm("local", "", "sequence")] * 7, frames=3, seed=None)


# -- a comparison, offline --------------------------------------------------------------------
def test_compare_runs_sequence_and_baseline_fairly_and_logs_both(playground: Playground) -> None:
    result = asyncio.run(compare(playground, STORY, [SEQ, BASE], frames=3, seed=5, size="512x512"))
    seq, base = result.records
    assert (seq.status, base.status) == ("ok", "ok")
    assert seq.experiment_id == base.experiment_id == result.experiment_id
    assert (seq.arm, base.arm) == ("local:procedural-v1:sequence", "local:procedural-v1:baseline")
    assert seq.seed == base.seed == 5
    sent_seq, sent_base = seq.composed_prompts, base.composed_prompts
    assert len(sent_seq) == 1 and all(beat in sent_seq[0] for beat in STORY.beats)
    assert len(sent_base) == 3 and all(beat in text for beat, text in zip(STORY.beats, sent_base))
    assert all(STORY.prompt() in text for text in sent_seq + sent_base)
    log = playground.log.read()
    assert sorted(log["arm"]) == sorted([seq.arm, base.arm])
    assert set(log["experiment_id"]) == {result.experiment_id} and list(log["repeat"]) == [0, 0]
    assert all(len(o.result.frames) == 3 for o in result.outcomes)  # type: ignore[union-attr]


def test_compare_with_prompt_variants_labels_every_row(playground: Playground) -> None:
    result = asyncio.run(
        compare(
            playground,
            STORY,
            [SEQ],
            variants={"A": "{character}. {style}.", "B": "{character}, same scarf in every frame."},
            frames=3,
            seed=1,
            size="512x512",
        )
    )
    log = playground.log.read()
    assert sorted(log["variant"]) == ["A", "B"]
    prompts = {r.variant: r.composed_prompts[0] for r in result.records}
    assert "same scarf in every frame" in prompts["B"] and "same scarf" not in prompts["A"]


@pytest.mark.parametrize(
    "arms, message",
    [
        ([Arm("openai", "", "sequence")], "no native sequential mode"),
        ([SEQ, Arm("byteplus", "", "sequence")], "byteplus is not configured: set ARK_API_KEY"),
    ],
)
def test_compare_refuses_bad_input_before_sending_anything(
    playground: Playground, arms: list[Arm], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        asyncio.run(compare(playground, STORY, arms, frames=3, seed=None, experiment_id="cmp-bad"))
    log = playground.log.read()  # not even the good arm ran; the refused one is an error row
    assert list(log["arm"]) == [arms[-1].label] and list(log["status"]) == ["error"]
    assert (
        list(log["api_calls"]) == [0] and message in log.iloc[0]["error"] and log.iloc[0]["experiment_id"] == "cmp-bad"
    )
    assert log.iloc[0]["run_id"] and json.loads(log.iloc[0]["beats"]) == list(STORY.beats)


def test_estimating_a_refused_comparison_logs_nothing(playground: Playground) -> None:
    with pytest.raises(InputError):
        plan_comparison(playground, STORY, [Arm("openai", "", "sequence")], frames=3, seed=None)
    assert playground.log.read().empty  # the estimate line asks on every keystroke: no rows for that


def test_compare_refuses_a_total_that_passes_the_session_cap(data_dir: Path) -> None:
    pg = priced(data_dir, PLAYGROUND_MAX_USD_PER_SESSION="0.5")  # each arm 0.30, both 0.60
    with pytest.raises(SpendCapError, match="PLAYGROUND_MAX_USD_PER_SESSION"):
        asyncio.run(compare(pg, STORY, [SEQ, BASE], frames=3, seed=None, session=Session()))
    log = pg.log.read()  # nothing sent: each arm an error row naming the cap
    assert sorted(log["arm"]) == sorted([SEQ.label, BASE.label]) and set(log["api_calls"]) == {0}
    assert all("PLAYGROUND_MAX_USD_PER_SESSION" in e for e in log["error"])


# -- many cells ---------------------------------------------------------------------------------
def cells_of(n: int, frames: int = 2) -> list[Cell]:
    story = Story(STORY.character, STORY.style, STORY.beats[:frames])
    return [
        Cell(story=story, arm=SEQ, repeat=r, frames=frames, seed=r, story_id="fox", size="512x512") for r in range(n)
    ]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_cost_cap_stops_before_it_is_passed(data_dir: Path, concurrency: int) -> None:
    pg = priced(data_dir)  # each cell 2 frames x $0.10 = $0.20; the cap allows two
    seen: list[tuple[int, RunRecord | None]] = []
    records = asyncio.run(
        run_cells(
            pg,
            cells_of(5),
            "cap",
            concurrency=concurrency,
            max_usd=0.5,
            on_done=lambda c, r: seen.append((c.repeat, r)),
        )
    )
    assert len(records) == 2 and sum(r.cost_usd for r in records) <= 0.5
    assert sorted(c for c, r in seen if r is None) == sorted(set(range(5)) - {r.repeat for r in records})
    assert len(pg.log.read()) == 2  # refused cells sent nothing and logged nothing


def test_resume_skips_cells_already_logged_ok(playground: Playground) -> None:
    first = asyncio.run(run_cells(playground, cells_of(2), "resume-1"))
    assert [r.status for r in first] == ["ok", "ok"]
    again = asyncio.run(run_cells(playground, cells_of(3), "resume-1"))
    assert [r.repeat for r in again] == [2]  # only the new cell
    assert len(playground.log.read()) == 3
    other = asyncio.run(run_cells(playground, cells_of(1), "resume-2"))  # another experiment: not skipped
    assert len(other) == 1 and other[0].story_id == "fox"


class BarrierProvider(LocalProvider):
    """The local stand-in that records concurrent calls and, if asked, holds each call until
    `expected` calls are in flight at once (a sequential runner would time out)."""

    def __init__(self, expected: int = 0) -> None:
        super().__init__()
        self.expected, self.in_flight, self.peak = expected, 0, 0
        self.all_in = asyncio.Event()

    async def generate(self, call, client, sink):  # type: ignore[no-untyped-def]
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight >= self.expected:
            self.all_in.set()
        try:
            if self.expected:
                await asyncio.wait_for(self.all_in.wait(), timeout=10)
            await asyncio.sleep(0.05)
            return await super().generate(call, client, sink)
        finally:
            self.in_flight -= 1


def test_compare_runs_every_arm_at_the_same_time(playground: Playground, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = BarrierProvider(expected=3)  # the sequence call + the baseline's two calls
    monkeypatch.setattr(playground, "provider", lambda name: provider)
    result = asyncio.run(
        compare(playground, Story("a fox", beats=("a", "b")), [SEQ, BASE], frames=2, seed=None, size="512x512")
    )
    assert [r.status for r in result.records] == ["ok", "ok"] and provider.peak == 3


def test_cells_of_one_provider_are_bounded_by_its_max_concurrency(
    playground: Playground, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = BarrierProvider()
    monkeypatch.setattr(playground, "provider", lambda name: provider)
    records = asyncio.run(run_cells(playground, cells_of(6, frames=1), "bound", concurrency=6))
    assert len(records) == 6 and provider.peak == LocalProvider.max_concurrency == 2


def test_a_failing_cell_does_not_stop_the_others(playground: Playground, monkeypatch: pytest.MonkeyPatch) -> None:
    real = playground.run

    async def flaky(request, session=None, on_progress=None, cancel=None):  # type: ignore[no-untyped-def]
        if request.repeat == 1:
            raise RuntimeError("adapter bug")
        return await real(request, session, on_progress, cancel)

    monkeypatch.setattr(playground, "run", flaky)
    outcomes = asyncio.run(run_outcomes(playground, cells_of(3), "flaky"))
    assert [o.record.status for o in outcomes] == ["ok", "error", "ok"]  # type: ignore[union-attr]
    assert "adapter bug" in outcomes[1].record.error  # type: ignore[union-attr]


# -- votes ------------------------------------------------------------------------------------
def test_votes_and_scores_are_appended_to_ratings_csv(playground: Playground) -> None:
    add_vote(playground, "e1", "run-a", "run-b", "left", rater="ana")
    add_score(playground, "e1", "run-a", "4")
    ratings = playground.log.read_ratings()
    assert list(ratings["verdict"]) == ["left", "score"]
    assert list(ratings["run_id"]) == ["run-a", "run-a"] and ratings.iloc[0]["other_run_id"] == "run-b"
    assert int(ratings.iloc[1]["score"]) == 4 and list(ratings["rater"]) == ["ana", "anonymous"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda pg: add_vote(pg, "e", "a", "b", "better"), "one of left, right, tie"),
        (lambda pg: add_vote(pg, "e", "a", "a", "tie"), "two different runs"),
        (lambda pg: add_score(pg, "e", "a", 6), "from 1 to 5"),
        (lambda pg: add_score(pg, "e", "a", "3.5"), "from 1 to 5"),
    ],
)
def test_bad_votes_are_refused(playground: Playground, call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        call(playground)
    assert playground.log.read_ratings().empty


def test_blind_pair_only_offers_sequences_with_frames_in_both_orders() -> None:
    records = [RunRecord(run_id=f"r{i}", frames_returned=n) for i, n in enumerate([3, 0, 2, 3])]
    rng = random.Random(0)
    seen = set()
    for _ in range(60):
        left, right = blind_pair(records, rng)  # type: ignore[misc]
        assert left.run_id != right.run_id and "r1" not in (left.run_id, right.run_id)
        seen.add((left.run_id, right.run_id))
    assert len(seen) == 6  # every ordered pair of the three runs with frames
    assert blind_pair(records[:2], rng) is None
    shown = {frozenset(("r0", "r2")), frozenset(("r0", "r3"))}
    left, right = blind_pair(records, rng, shown)  # type: ignore[misc]
    assert {left.run_id, right.run_id} == {"r2", "r3"}  # the one pair not shown yet
    assert blind_pair(records, rng, shown | {frozenset(("r2", "r3"))}) is not None  # all shown: any pair
