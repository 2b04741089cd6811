"""Chain mode end to end, checked on the emulator's side: every provider with reference input
(offline `local` too) runs `--mode chain`; calls 2..N carry frame 1's very bytes as their first
reference ("first", sent together once frame 1 is back), or each the frame before it
("previous", one after another); a lost frame 1 stops the chain before anything more is sent."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.base.types import GenerationRequest, RunResult
from playground.core import Playground
from playground.core.references import load_reference
from support.paths import REPO

BEATS = ["scene alpha", "scene bravo", "scene charlie", "scene delta"]

# provider -> (a model that takes a reference image, a size it takes); the edit-only models take a
# reference of the user's in every call (frame 1 too), after the chained frame
CHAINS: dict[str, tuple[str, str]] = {
    "byteplus": ("seedream-5-0-260128", "256x256"),
    "evolink": ("doubao-seedream-5.0-lite", "256x256"),
    "wavespeed": ("bytedance/seedream-v5.0-lite/edit-sequential", "256x256"),
    "atlascloud": ("bytedance/seedream-v4.5/edit-sequential", "256x256"),
    "stability": ("sd3.5-large", "1024x1024"),
    "fal": ("fal-ai/bytedance/seedream/v4/text-to-image", "1024x1024"),  # frames 2..N go to its /edit
    "fal:edit": ("fal-ai/bytedance/seedream/v4/edit", "1024x1024"),
    "gemini": ("gemini-2.5-flash-image", "1024x1024"),
    "replicate": ("bytedance/seedream-4", "1024x1024"),
    "replicate:nano-banana": ("google/nano-banana", "1024x1024"),
    "replicate:flux-kontext-pro": ("black-forest-labs/flux-kontext-pro", "1024x1024"),
    "openai": ("gpt-image-1.5", "1024x1024"),  # frames 2..N go to /images/edits
}


def run_chain(
    env: dict[str, str],
    data_dir: Path,
    provider: str,
    model: str,
    size: str,
    chain_from: str = "first",
    frames: int = 4,
    references: tuple[Path, ...] = (),
) -> RunResult:
    pg = Playground(Settings.from_env(env=env, data_dir=data_dir))
    request = GenerationRequest(
        prompt="a red fox in a blue scarf",
        frames=frames,
        mode="chain",
        provider=provider,
        model=model,
        size=size,
        beats=BEATS[:frames],
        chain_from=chain_from,
        references=list(references),
    )
    return asyncio.run(pg.run(request))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reference_hashes(emulator: Any, value: Any) -> list[str]:
    """The sha256 of every image a request body carries, in order: data URIs, the emulator's
    upload URLs (WaveSpeed), Gemini's inline parts."""
    found: list[str] = []
    if isinstance(value, dict):
        blob = value.get("inlineData", value.get("inline_data"))
        if isinstance(blob, dict):
            return [
                digest(
                    base64.urlsafe_b64decode(blob["data"] + "=" * (-len(blob["data"]) % 4))
                    if "-" in blob["data"] or "_" in blob["data"]
                    else base64.b64decode(blob["data"])
                )
            ]
        for item in value.values():
            found += reference_hashes(emulator, item)
    elif isinstance(value, list):
        for item in value:
            found += reference_hashes(emulator, item)
    elif isinstance(value, str) and value.startswith("data:image/"):
        found.append(digest(base64.b64decode(value.split(",", 1)[1])))
    elif isinstance(value, str) and "/files/upload/" in value:
        upload = value.rsplit("/", 1)[1]
        found.append(digest(next(data for key, (_, data) in emulator.uploads.items() if key.endswith(upload))))
    return found


def frame_requests(emulator: Any, provider: str) -> dict[int, list[str]]:
    """{frame number: the hashes of the references its create request carried}, read from the
    emulator's request log (the frame told by its beat in the prompt)."""
    out: dict[int, list[str]] = {}
    for r in emulator.requests_for(provider.split(":")[0], "POST"):
        text = json.dumps(r.json) + json.dumps(r.form)
        numbers = [i + 1 for i, beat in enumerate(BEATS) if beat in text]
        if len(numbers) != 1:
            continue  # an upload, a poll: no prompt
        assert numbers[0] not in out, f"frame {numbers[0]} was asked for twice"
        out[numbers[0]] = reference_hashes(emulator, r.json) + [meta["sha256"] for _, meta in r.parts]
    return out


def frame_files(result: RunResult) -> list[bytes]:
    return [frame.path.read_bytes() for frame in result.frames]


@pytest.mark.parametrize("case", sorted(CHAINS))
def test_chain_calls_carry_frame_1(emulator, tmp_path, case):
    provider = case.split(":")[0]
    model, size = CHAINS[case]
    own: list[str] = []
    references: tuple[Path, ...] = ()
    if "edit" in model.rsplit("/", 1)[-1]:  # an edit-only model: frame 1 needs a reference of the user's
        references = (tmp_path / "own.png",)
        Image.new("RGB", (64, 48), (200, 40, 40)).save(references[0])
        own = [digest(load_reference(references[0]).data)]
    result = run_chain(emulator.env(), tmp_path / "data", provider, model, size, references=references)
    record = result.record
    assert record.status == "ok", record.error
    assert record.mode == "chain" and record.api_calls == 4 and record.frames_returned == 4
    assert record.reference_frames == {2: 1, 3: 1, 4: 1}
    frame_1 = digest(frame_files(result)[0])
    sent = frame_requests(emulator, case)
    assert sorted(sent) == [1, 2, 3, 4]
    assert sent[1] == own  # frame 1: the story and beat 1 alone (with the user's references, if any)
    assert all(sent[n] == [frame_1, *own] for n in (2, 3, 4)), sent  # frame 1 first, then the user's
    assert record.composed_prompts == [f"a red fox in a blue scarf {beat}" for beat in BEATS]  # verbatim, as sent


@pytest.mark.parametrize("provider", ["byteplus", "gemini"])
def test_previous_chains_each_frame_to_its_predecessor_one_after_another(emulator, tmp_path, provider):
    model, size = CHAINS[provider]
    result = run_chain(emulator.env(), tmp_path / "data", provider, model, size, chain_from="previous")
    assert result.record.status == "ok", result.record.error
    assert result.record.reference_frames == {2: 1, 3: 2, 4: 3}
    hashes = [digest(data) for data in frame_files(result)]
    sent = frame_requests(emulator, provider)
    # call n carries frame n-1's bytes, so it cannot have left before frame n-1 was back: sequential
    assert sent == {1: [], 2: [hashes[0]], 3: [hashes[1]], 4: [hashes[2]]}
    order = [
        n
        for r in emulator.requests_for(provider, "POST")
        for n, beat in enumerate(BEATS, 1)
        if beat in json.dumps(r.json)
    ]
    assert order == [1, 2, 3, 4]


def test_chain_from_first_sends_frames_2_to_n_together(emulator, tmp_path):
    """Once frame 1 is back, calls 2..4 are all at the provider at the same time (held there)."""
    model, size = CHAINS["byteplus"]
    hold = emulator.hold("byteplus", after=1)  # frame 1 passes; the others wait at the emulator
    results: list[RunResult] = []
    runner = threading.Thread(
        target=lambda: results.append(run_chain(emulator.env(), tmp_path / "data", "byteplus", model, size))
    )
    runner.start()
    try:
        assert hold.arrived.wait(30)
        deadline = time.monotonic() + 30
        while hold.seen < 4 and time.monotonic() < deadline:  # the other two arrive while the first waits
            hold.released.wait(0.01)
        assert hold.seen == 4, f"only {hold.seen} of 4 calls reached the provider while the hold was on"
    finally:
        hold.release()
        runner.join(60)
    assert results and results[0].record.status == "ok", results and results[0].record.error


def test_a_lost_frame_1_stops_the_chain(emulator, tmp_path):
    model, size = CHAINS["byteplus"]
    emulator.set_fault("byteplus", "auth", count=1)
    result = run_chain(emulator.env(), tmp_path / "data", "byteplus", model, size)
    record = result.record
    assert record.status == "error" and record.frames_returned == 0
    assert len(emulator.requests_for("byteplus", "POST")) == 1  # nothing more was sent
    assert "chain mode: frame 1 did not come back, so the frames chained from it were not sent" in record.error
    assert record.reference_frames == {} and record.cost_usd >= 0
    assert set(record.frame_errors or {}) == {1, 2, 3, 4}
    assert "not sent: frame 1 did not come back" in record.frame_errors[2]


def test_local_chain_keeps_frame_1s_character_offline(tmp_path):
    """The stand-in draws the character its reference carries: a chain keeps frame 1's, a
    baseline draws a new one per call."""
    result = run_chain({}, tmp_path / "data", "local", "", "512x512")
    assert result.record.status == "ok" and result.record.reference_frames == {2: 1, 3: 1, 4: 1}

    def character(path: Path) -> str:
        with Image.open(path) as image:
            return image.text["playground-character"]

    characters = [character(frame.path) for frame in result.frames]
    assert len(set(characters)) == 1
    pg = Playground(Settings.from_env(env={}, data_dir=tmp_path / "data"))
    baseline = asyncio.run(
        pg.run(
            GenerationRequest(
                prompt="a red fox in a blue scarf", frames=4, mode="baseline", beats=BEATS, size="512x512"
            )
        )
    )
    assert len({character(frame.path) for frame in baseline.frames}) > 1


def test_cli_runs_a_chain_from_the_previous_frame(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "run",
            "--mode",
            "chain",
            "--chain-from",
            "previous",
            "--frames",
            "3",
            "--prompt",
            "a red fox",
            "--size",
            "512x512",
            "--json",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["mode"] == "chain" and row["status"] == "ok" and row["api_calls"] == 3
    assert row["reference_frames"] == {"2": 1, "3": 2}


def test_openai_chain_prices_the_reference_input_and_stays_within_its_worst_case(emulator, tmp_path):
    """A chain on a token-billed model: the estimate prices frame 1 as image input tokens of the
    three calls that send it (typical: low fidelity, worst: high fidelity), and what the usage
    reports stays under the worst case the caps checked."""
    from playground.providers import provider_class

    price = provider_class("openai").price("gpt-image-1.5")
    pg = Playground(Settings.from_env(env=emulator.env(), data_dir=tmp_path / "data"))
    chain = GenerationRequest(
        prompt="a red fox",
        frames=4,
        mode="chain",
        provider="openai",
        model="gpt-image-1.5",
        size="1024x1024",
        beats=BEATS,
    )
    baseline = GenerationRequest(
        prompt="a red fox",
        frames=4,
        mode="baseline",
        provider="openai",
        model="gpt-image-1.5",
        size="1024x1024",
        beats=BEATS,
    )
    with_chain, without = pg.plan(chain).estimate, pg.plan(baseline).estimate
    assert with_chain.references_usd == pytest.approx(3 * 135 * 8.0 / 1e6)
    assert with_chain.usd == pytest.approx(without.usd + 3 * 135 * 8.0 / 1e6)
    assert with_chain.max_usd == pytest.approx(without.max_usd + 3 * 3050 * 8.0 / 1e6)
    assert price.image_in_per_mtok == 8.0
    record = asyncio.run(pg.run(chain)).record
    assert record.status == "ok" and record.max_cost_usd == with_chain.max_usd
    assert record.cost_source == "reported" and 0 < record.cost_usd <= record.max_cost_usd
    assert [r.path for r in emulator.requests_for("openai", "POST")].count("/images/edits") == 3


def test_openai_user_references_are_priced_by_their_pixels(tmp_path):
    """A 2048x2048 reference costs four times the worst tokens of a 1024x1024 one (scaled up by
    area, never down); a small one the 1024x1024 figure."""
    pg = Playground(Settings.from_env(env={"OPENAI_API_KEY": "k"}, data_dir=tmp_path / "data"))
    big, small = tmp_path / "big.png", tmp_path / "small.png"
    Image.new("RGB", (2048, 2048), (10, 20, 30)).save(big)
    Image.new("RGB", (64, 64), (10, 20, 30)).save(small)

    def most(refs: list[Path]) -> float:
        return pg.plan(
            GenerationRequest(
                prompt="a fox",
                frames=1,
                mode="baseline",
                provider="openai",
                model="gpt-image-1.5",
                size="1024x1024",
                references=refs,
            )
        ).estimate.max_usd

    assert most([big]) - most([]) == pytest.approx(4 * 3050 * 8.0 / 1e6, abs=1e-6)
    assert most([small]) - most([]) == pytest.approx(3050 * 8.0 / 1e6, abs=1e-6)
