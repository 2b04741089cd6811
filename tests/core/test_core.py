"""The core run pipeline with the offline provider: frames on disk, one row per run, bad input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.base.types import RUN_COLUMNS, GenerationRequest
from playground.core import Playground

STORY = "A red panda courier with a green scarf. Flat webcomic style."
BEATS = ["gets a parcel", "runs over roofs", "hides from rain", "delivers it"]


def run(pg: Playground, **kwargs):
    return asyncio.run(pg.run(GenerationRequest(**{"prompt": STORY, "frames": 4, "seed": 5, **kwargs})))


def test_sequence_run_saves_frames_in_order_and_logs_one_row(playground: Playground) -> None:
    result = run(playground, beats=BEATS)
    record = result.record
    assert record.status == "ok" and record.frames_returned == 4 and record.api_calls == 1
    assert [f.path.name for f in result.frames] == [f"frame_{i:02d}.png" for i in range(1, 5)]
    assert [f.number for f in result.frames] == [1, 2, 3, 4] and [f.caption for f in result.frames] == BEATS
    for frame in result.frames:
        assert frame.preview is not None and frame.preview.name == f"frame_{frame.number:02d}.preview.webp"
        with Image.open(frame.path) as image:
            assert image.size == (1024, 1024)
    assert record.first_frame_s is not None and 0 < record.first_frame_s <= record.latency_s
    log = playground.log.read()
    assert len(log) == 1 and list(log.columns) == RUN_COLUMNS
    row = log.iloc[0]
    assert row["run_id"] == record.run_id and json.loads(row["beats"]) == BEATS
    assert Path(row["image_dir"]) == result.frames[0].path.parent
    assert row["created_at"].endswith("Z")


def test_same_seed_same_pixels_and_different_seed_differs(tmp_path: Path) -> None:
    a = run(Playground(Settings.from_env(env={}, data_dir=tmp_path / "a")), beats=BEATS)
    b = run(Playground(Settings.from_env(env={}, data_dir=tmp_path / "b")), beats=BEATS)
    c = run(Playground(Settings.from_env(env={}, data_dir=tmp_path / "c")), beats=BEATS, seed=6)
    assert [f.read_bytes() for f in a.paths] == [f.read_bytes() for f in b.paths]
    assert a.paths[0].read_bytes() != c.paths[0].read_bytes()


def test_baseline_makes_one_call_per_frame_with_per_frame_prompts(playground: Playground) -> None:
    record = run(playground, beats=BEATS, mode="baseline").record
    assert record.status == "ok" and record.api_calls == 4 and record.frames_returned == 4
    prompts = record.composed_prompts
    assert len(prompts) == 4 and all(STORY in p for p in prompts)
    assert [p.endswith(b) for p, b in zip(prompts, BEATS)] == [True] * 4


def test_sequence_prompt_states_the_frame_count(playground: Playground) -> None:
    record = run(playground, beats=BEATS).record
    (prompt,) = record.composed_prompts
    assert "series of 4 images" in prompt and "Image 4: delivers it" in prompt


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"frames": 0}, "between 1 and 15"),
        ({"frames": 16}, "between 1 and 15"),
        ({"frames": 2, "beats": [str(i) for i in range(16)]}, "the limit is 15, one per frame"),
        ({"provider": "nope"}, "unknown provider"),
        ({"model": "no-such-model"}, "unknown model"),
        ({"mode": "sideways"}, "mode must be"),
        ({"size": "999x999"}, "not allowed"),
    ],
)
def test_bad_input_is_rejected_logged_and_keeps_earlier_rows(
    playground: Playground, kwargs: dict, message: str
) -> None:
    first = run(playground).record
    before = (playground.log.runs.path).read_bytes()
    with pytest.raises(InputError, match=message):
        run(playground, **kwargs)
    after = playground.log.runs.path.read_bytes()
    assert after.startswith(before), "an earlier row was altered"
    log = playground.log.read()
    assert len(log) == 2 and log.iloc[0]["run_id"] == first.run_id
    assert log.iloc[1]["status"] == "error" and message.split()[0] in log.iloc[1]["error"]
    assert int(log.iloc[1]["api_calls"]) == 0


def test_unreadable_reference_image_is_rejected(playground: Playground, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InputError, match="not a readable image"):
        run(playground, references=[bad])


def test_reference_images_are_counted_and_hashed(playground: Playground, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(ref)
    record = run(playground, references=[ref]).record
    assert record.ref_count == 1 and len(record.ref_hashes[0]) == 64


def test_log_survives_restart_and_keeps_appending(data_dir: Path) -> None:
    run(Playground(Settings.from_env(env={}, data_dir=data_dir)))
    again = Playground(Settings.from_env(env={}, data_dir=data_dir))
    run(again, frames=2)
    assert list(again.log.read()["frames_requested"]) == [4, 2]


def test_a_refused_row_names_the_default_model_and_size(playground: Playground) -> None:
    with pytest.raises(InputError):
        run(playground, prompt=" ")
    row = playground.log.read().iloc[-1]
    assert row["model"] == "procedural-v1" and row["size"] == "1024x1024" and row["status"] == "error"
