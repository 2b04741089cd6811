"""Input limits: every rejection is a clear InputError, nothing reaches the provider (the
emulator saw zero requests), and it is logged as one error row appended after the earlier
rows, which stay byte-for-byte the same."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from playground.base.errors import InputError
from playground.base.types import MAX_PROMPT_CHARS
from playground.core.references import load_reference
from support.faults import make_playground, png_header_only, rows, run


@pytest.fixture
def pg(emulator, data_dir):
    return make_playground(emulator.env(), data_dir)


def write_image(path: Path, size=(64, 48), fmt="PNG", colour=(30, 120, 200), **save) -> Path:
    Image.new("RGB", size, colour).save(path, format=fmt, **save)
    return path


def rejected(pg, emulator, words: str, **fields) -> None:
    """Reject, send nothing, log one error row after the earlier ones, leave them intact."""
    before = pg.log.runs.path.read_bytes() if pg.log.runs.path.exists() else b""
    count = len(rows(pg)) if before else 0
    with pytest.raises(InputError) as caught:
        run(pg, **fields)
    assert words in str(caught.value)
    assert emulator.requests == [], "nothing may be sent"
    after = pg.log.runs.path.read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    logged = rows(pg)
    assert len(logged) == count + 1
    assert logged[-1]["status"] == "error" and words in logged[-1]["error"]


@pytest.fixture
def earlier_row(pg, emulator):
    assert run(pg, provider="byteplus", frames=2, size="256x256").record.status == "ok"
    emulator.reset()


BP = dict(provider="byteplus", size="256x256")


@pytest.mark.parametrize(
    "fields, words",
    [
        (dict(prompt="", frames=2, **BP), "the prompt is empty"),
        (dict(prompt="   \n ", frames=2, **BP), "the prompt is empty"),
        (dict(prompt="x" * (MAX_PROMPT_CHARS + 1), frames=2, **BP), f"the limit is {MAX_PROMPT_CHARS}"),
        (dict(prompt="x" * 3000, beats=["y" * 600, "z" * 600], frames=2, **BP), "prompt and beats are 4200 characters"),
        (dict(frames=0, **BP), "frames must be between 1 and 15, got 0"),
        (dict(frames=16, **BP), "frames must be between 1 and 15, got 16"),
        (dict(frames=2, beats=[str(i) for i in range(16)], **BP), "16 beats; the limit is 15"),
        (dict(frames=2, mode="storyboard", **BP), "mode must be one of"),
        (dict(frames=2, provider="nope"), "unknown provider 'nope'"),
        (dict(frames=2, provider="byteplus", size="banana"), "size 'banana' is not valid"),
        (dict(frames=2, provider="byteplus", size="20x20"), "64 to 16384 a side"),
        (dict(frames=1, provider="openai", mode="baseline", size="999x999"), "allowed: 1024x1024"),
        (dict(frames=3, provider="fal", size="512x512"), "no native sequential mode: use mode baseline"),
        (
            dict(frames=15, provider="atlascloud", model="bytedance/seedream-v4/sequential", size="256x256"),
            "at most 14 frame(s)",
        ),
    ],
)
def test_bad_requests_are_rejected_before_sending(pg, emulator, earlier_row, fields, words):
    fields.setdefault("prompt", "a fox courier")
    rejected(pg, emulator, words, **fields)


def test_frames_must_be_a_whole_number(pg, emulator):
    rejected(pg, emulator, "frames must be between", prompt="x", frames=2.5, **BP)


# -- reference images ------------------------------------------------------------------------------------------


def test_references_plus_frames_at_most_15_for_seedream(pg, emulator, tmp_path, earlier_row):
    refs = [write_image(tmp_path / f"r{i}.png", colour=(i * 15, 50, 50)) for i in range(14)]
    rejected(pg, emulator, "reference images + frames must be <= 15", prompt="x", frames=2, references=refs, **BP)
    assert run(pg, prompt="x", frames=1, references=refs, **BP).record.status == "ok"  # 14 + 1 is allowed


def test_reference_count(pg, emulator, tmp_path):
    refs = [write_image(tmp_path / f"r{i}.png") for i in range(15)]
    rejected(pg, emulator, "15 reference images; the limit is 14", prompt="x", frames=1, references=refs, **BP)


def test_a_model_without_references_refuses_them(pg, emulator, tmp_path):
    ref = write_image(tmp_path / "r.png")
    rejected(
        pg,
        emulator,
        "takes no reference images",
        prompt="x",
        frames=2,
        provider="wavespeed",
        size="256x256",
        references=[ref],
    )


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda d: d.joinpath("notes.png").write_text("not an image") and d / "notes.png", "not a readable image"),
        (
            lambda d: d.joinpath("bomb.png").write_bytes(png_header_only(100_000, 100_000)) and d / "bomb.png",
            "not a readable image",
        ),
        (lambda d: write_image(d / "tiny.png", size=(10, 10)), "sides must be over 14 pixels"),
        (lambda d: write_image(d / "icon.ico", size=(32, 32), fmt="ICO"), "ICO is not accepted"),
        (lambda d: d / "missing.png", "cannot be read"),
    ],
)
def test_bad_reference_files(pg, emulator, tmp_path, earlier_row, make, words):
    rejected(pg, emulator, words, prompt="x", frames=1, references=[make(tmp_path)], **BP)


def test_an_oversized_reference_file(pg, emulator, tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as f:  # sparse: its size is what is checked, before it is read
        f.truncate(41_000_000)
    rejected(pg, emulator, "over the 40 MB limit", prompt="x", frames=1, references=[big], **BP)


def test_exif_orientation_is_applied_and_metadata_dropped_before_upload(pg, emulator, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    exif[0x010F] = "SecretCamera"  # Make: must not be uploaded
    photo = write_image(tmp_path / "photo.jpg", size=(80, 40), fmt="JPEG", exif=exif.tobytes())
    ref = load_reference(photo)
    assert (ref.width, ref.height) == (40, 80) and ref.mime == "image/png"
    record = run(pg, prompt="x", frames=1, references=[photo], **BP).record
    assert record.status == "ok" and record.ref_count == 1
    sent = emulator.requests_for("byteplus", "POST")[0].json["image"]
    head, data = sent.split(",", 1)
    assert head == "data:image/png;base64"
    raw = base64.b64decode(data)
    with Image.open(io.BytesIO(raw)) as uploaded:
        assert uploaded.size == (40, 80)
        assert not uploaded.getexif()
    assert b"SecretCamera" not in raw


def test_a_heavy_reference_falls_back_to_jpeg_or_is_refused(tmp_path, monkeypatch):
    from playground.core import references

    noisy = Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3))  # ~270 KB as PNG
    path = tmp_path / "noisy.png"
    noisy.save(path, format="PNG")
    monkeypatch.setattr(references, "MAX_REFERENCE_BYTES", 200_000)
    ref = load_reference(path)
    assert ref.mime == "image/jpeg" and len(ref.data) <= 200_000 and (ref.width, ref.height) == (300, 300)
    monkeypatch.setattr(references, "MAX_REFERENCE_BYTES", 20_000)
    with pytest.raises(InputError, match="still over"):
        load_reference(path)
