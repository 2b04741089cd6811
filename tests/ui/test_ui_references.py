"""Reference images end to end through the emulator, and what the UI says about them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.base.types import GenerationRequest
from playground.core import Playground
from playground.present.providers import reference_note


def reference(folder: Path, name: str = "hero.png", colour: tuple[int, int, int] = (200, 40, 40)) -> Path:
    path = folder / name
    Image.new("RGB", (96, 64), colour).save(path)
    return path


@pytest.fixture
def live(emulator_env: dict[str, str], tmp_path: Path) -> Playground:
    return Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))


def test_byteplus_sends_the_reference_and_the_row_records_its_hash(live: Playground, emulator, tmp_path: Path) -> None:
    ref = reference(tmp_path)
    request = GenerationRequest(prompt="A fox courier. Flat style.", frames=3, provider="byteplus", references=[ref])
    record = asyncio.run(live.run(request)).record
    assert record.status == "ok" and record.ref_count == 1
    sent = emulator.requests_for("byteplus", "POST")[-1].json
    header, _, payload = sent["image"].partition(",")
    assert header == "data:image/png;base64"
    received = base64.b64decode(payload)
    assert Image.open(io.BytesIO(received)).size == (96, 64)
    assert record.ref_hashes == [hashlib.sha256(received).hexdigest()]
    row = live.log.get(record.run_id)
    assert row["ref_count"] == 1 and json.loads(row["ref_hashes"]) == record.ref_hashes


def test_two_references_go_as_a_list(live: Playground, emulator, tmp_path: Path) -> None:
    refs = [reference(tmp_path, "a.png"), reference(tmp_path, "b.png", (20, 200, 20))]
    record = asyncio.run(
        live.run(GenerationRequest(prompt="A fox. Ink.", frames=2, provider="byteplus", references=refs))
    ).record
    sent = emulator.requests_for("byteplus", "POST")[-1].json
    assert isinstance(sent["image"], list) and len(sent["image"]) == 2
    assert record.ref_count == 2 and len(set(record.ref_hashes)) == 2


def test_wavespeed_edit_sequential_receives_its_references(live: Playground, emulator, tmp_path: Path) -> None:
    model = "bytedance/seedream-v4.5/edit-sequential"
    record = asyncio.run(
        live.run(
            GenerationRequest(
                prompt="A fox. Ink.", frames=2, provider="wavespeed", model=model, references=[reference(tmp_path)]
            )
        )
    ).record
    assert record.status == "ok" and record.ref_count == 1
    submits = [r for r in emulator.requests_for("wavespeed", "POST") if r.path.endswith("edit-sequential")]
    assert len(submits) == 1 and len(submits[0].json["images"]) == 1


@pytest.mark.parametrize(
    "provider, model, refs, message",
    [
        ("wavespeed", "bytedance/seedream-v4.5/edit-sequential", 0, "edits reference images"),
        ("wavespeed", "bytedance/seedream-v4.5/sequential", 1, "takes no reference images"),
        ("fal", "", 1, "takes no reference images"),
    ],
)
def test_a_model_that_cannot_take_the_references_is_refused_before_sending(
    live: Playground, emulator, tmp_path: Path, provider: str, model: str, refs: int, message: str
) -> None:
    request = GenerationRequest(
        prompt="A fox. Ink.",
        frames=1 if provider == "fal" else 2,
        provider=provider,
        model=model,
        references=[reference(tmp_path, f"r{i}.png") for i in range(refs)],
    )
    with pytest.raises(InputError, match=message):
        asyncio.run(live.run(request))
    assert emulator.requests_for(provider) == []  # nothing sent, not even an upload
    row = live.log.latest(1).iloc[0]
    assert row["status"] == "error" and message in row["error"] and int(row["ref_count"]) == refs


def test_reference_note_says_which_models_take_references() -> None:
    assert "up to 14 reference image" in reference_note("byteplus", "seedream-5-0-260128")
    assert "references + frames ≤ 15" in reference_note("byteplus", "seedream-5-0-260128")
    no_refs = reference_note("wavespeed", "bytedance/seedream-v4.5/sequential")
    assert "takes no reference images" in no_refs and "edit-sequential" in no_refs
    assert "nothing is sent" in reference_note("wavespeed", "bytedance/seedream-v4.5/sequential", count=1)
    edit = reference_note("wavespeed", "bytedance/seedream-v4.5/edit-sequential")
    assert "1 to 10" in edit and "Upload at least one" in edit
    assert "Upload at least one" not in reference_note("wavespeed", "bytedance/seedream-v4.5/edit-sequential", 2)
    assert "remove 1" in reference_note("wavespeed", "bytedance/seedream-v4.5/edit-sequential", 11)
    assert "unknown provider" in reference_note("nope", "")
