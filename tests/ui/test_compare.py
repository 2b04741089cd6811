"""The Compare tab's helpers, without a browser: the form, the estimate and its confirmation
note, arm rows, and the blind vote (logged, then revealed)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.base.errors import PlaygroundError
from playground.base.prompts import Story
from playground.core import Playground
from playground.experiments.cells import Arm
from playground.experiments.compare import compare
from playground.present.compare import (
    VotePool,
    append_arm,
    cast_vote,
    composed_prompts,
    estimate_markdown,
    read_form,
    row_header,
)

ARMS = "local::sequence\nlocal::baseline"


def test_read_form_makes_variants_only_when_a_second_prompt_is_given() -> None:
    plain = read_form(["A fox.", "", ""], "a\nb\n\n", 2, 7, ARMS)
    assert plain.variants is None and plain.story.beats == ("a", "b") and plain.seed == 7
    assert [c.arm.mode for c in plain.cells()] == ["sequence", "baseline"]
    ab = read_form(["A fox.", "A fox, same scarf.", ""], "a\nb", 2, None, ARMS)
    assert ab.variants == {"A": "A fox.", "B": "A fox, same scarf."} and ab.seed is None
    assert [(c.variant, c.arm.mode) for c in ab.cells()] == [
        ("A", "sequence"),
        ("A", "baseline"),
        ("B", "sequence"),
        ("B", "baseline"),
    ]


@pytest.mark.parametrize("typed", [0, 16, 2.5, None])
def test_compare_frames_reach_the_core_as_typed(playground: Playground, typed: float | None) -> None:
    """0 or an empty box is not "one frame per beat", 16 is not 15, 2.5 is not 2: each is refused."""
    form = read_form(["A fox."], "a\nb", typed, 7, ARMS)
    assert [c.request("").frames for c in form.cells()] == [typed or 0] * 2
    with pytest.raises(PlaygroundError, match="frames must be between 1 and 15"):
        form.plans(playground, None)
    assert "frames must be between 1 and 15" in estimate_markdown(playground, form, None)


def test_append_arm_adds_one_line() -> None:
    assert (
        append_arm("local::sequence\n\n", "fal", "fal-ai/flux-pro", "baseline")
        == "local::sequence\nfal:fal-ai/flux-pro:baseline"
    )


def test_estimate_mentions_the_confirmation_threshold(data_dir: Path) -> None:
    priced = Playground(
        Settings.from_env(
            env={"PLAYGROUND_PRICES": '{"local/procedural-v1": 0.2}', "PLAYGROUND_CONFIRM_USD": "0.5"},
            data_dir=data_dir,
        )
    )
    text = estimate_markdown(priced, read_form(["A fox."], "a\nb", 2, 7, ARMS), None)
    assert "$0.8000 for 2 run(s), 4 image(s)" in text and "asked to confirm" in text
    cheap = estimate_markdown(priced, read_form(["A fox."], "a", 1, 7, "local::sequence"), None)
    assert "$0.2000" in cheap and "confirm" not in cheap
    assert "mode must be one of" in estimate_markdown(priced, read_form(["A fox."], "", 2, 7, "local::x"), None)


def test_blind_vote_is_logged_then_revealed(playground: Playground) -> None:
    story = Story("A fox courier", beats=("a parcel", "a door"))
    result = asyncio.run(
        compare(
            playground,
            story,
            [Arm("local", "", "sequence"), Arm("local", "", "baseline")],
            frames=2,
            seed=3,
            size="512x512",
        )
    )
    pool = VotePool.of(result)
    left, right = pool.draw(random.Random(1))  # type: ignore[misc]
    assert len(pool.items[left]) == 2 and all(Path(p).exists() for p, _ in pool.items[left])
    reveal = cast_vote(playground, pool, "right", None, "4", "ana")
    assert pool.label(left) in reveal and pool.label(right) in reveal and "right better" in reveal
    ratings = playground.log.read_ratings()
    assert list(ratings["verdict"]) == ["right", "score"] and ratings.iloc[0]["run_id"] == left
    assert ratings.iloc[1]["run_id"] == right and int(ratings.iloc[1]["score"]) == 4
    with pytest.raises(PlaygroundError, match="no pair to vote on"):
        cast_vote(playground, pool, "tie", None, None, "")  # one vote per pair shown


def test_vote_pool_shows_every_pair_once_before_repeating() -> None:
    from playground.base.types import RunRecord
    from playground.experiments.compare import Comparison

    pool = VotePool("e", [RunRecord(run_id=f"r{i}", frames_returned=2) for i in range(4)], {})
    rng = random.Random(3)
    first_round = {frozenset(pool.draw(rng)) for _ in range(6)}  # type: ignore[arg-type]
    assert len(first_round) == 6  # 4 sequences: 6 pairs, none twice
    assert pool.draw(rng) is not None and len(pool.shown) == 1  # then a new round
    assert VotePool.of(Comparison("e")).draw(rng) is None


def test_row_header_and_prompts_show_what_happened(playground: Playground) -> None:
    story = Story("A fox courier", beats=("a parcel", "a door"))
    result = asyncio.run(compare(playground, story, [Arm("local", "", "baseline")], frames=2, seed=3, size="512x512"))
    record = result.records[0]
    header = row_header(record)
    assert "local:procedural-v1:baseline" in header and "2/2 frames" in header and "subject" in header
    assert composed_prompts(record).count("[call ") == 2 and "a door" in composed_prompts(record)
    record.status, record.error = "error", "key rejected"
    assert "**Why:** key rejected" in row_header(record)
    record.status, record.frame_errors = "partial", {2: "refused for content"}
    assert "**Not returned:** Frame 2: refused for content" in row_header(record)


def test_a_refused_arm_in_the_compare_tab_is_an_error_row_and_says_so(playground: Playground) -> None:
    import gradio as gr

    from playground.core import Session
    from playground.ui.app import build_app

    compare_event = next(f for f in build_app(playground).fns.values() if f.api_name == "compare_form")
    updates: list[dict[object, object]] = []

    async def run() -> None:
        async for update in compare_event.fn(
            "A fox.", "", "", "a\nb", 2, 7, "local::sequence\nopenai::sequence", "", Session()
        ):
            updates.append(update)

    with pytest.raises(gr.Error, match="no native sequential mode"):
        asyncio.run(run())
    log = playground.log.read()
    assert list(log["status"]) == ["error"] and log.iloc[0]["arm"].startswith("openai:")
    status = next(v for u in updates for k, v in u.items() if getattr(k, "elem_id", "") == "compare-status")
    assert "Not sent" in status and "1 refused run(s) logged" in status and log.iloc[0]["experiment_id"] in status


def test_cancel_in_compare_stops_every_arm_and_shows_them(emulator, data_dir: Path) -> None:
    from playground.ui.app import build_app
    from playground.ui.shared import InFlight, request_cancel

    emulator.latency_s = 4.0  # a frame a second
    playground = Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir))
    compare_event = next(f for f in build_app(playground).fns.values() if f.api_name == "compare_form")
    running = InFlight()
    updates: list[dict[str, object]] = []

    async def run() -> None:
        from playground.core import Session

        async for update in compare_event.fn(
            "A fox.",
            "",
            "",
            "a\nb\nc\nd",
            4,
            7,
            "byteplus::sequence\nbyteplus::baseline",
            "2048x2048",
            Session(),
            None,
            running,
        ):
            shown = {getattr(k, "elem_id", "") or id(k): v for k, v in update.items()}
            updates.append(shown)
            if any(isinstance(v, list) and v for v in shown.values()) and running.tokens:  # a frame arrived
                await request_cancel(running)

    asyncio.run(run())
    log = playground.log.read()
    assert sorted(log["status"]) == ["cancelled", "cancelled"] and not running.tokens
    status = next(u["compare-status"] for u in reversed(updates) if "compare-status" in u)
    assert "0/2 arm(s) ok" in str(status) and "2 cancelled" in str(status)
