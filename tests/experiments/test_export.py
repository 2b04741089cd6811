"""Exports of a logged run: ZIP with manifest, storyboard sheet, animated preview, and the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.base.types import GenerationRequest
from playground.cli.main import main
from playground.core import Playground
from playground.experiments import export

BEATS = ["gets a parcel", "runs over roofs", "hides from rain", "delivers it"]


def run_local(playground: Playground, frames: int = 4, beats: list[str] | None = None) -> str:
    request = GenerationRequest(
        prompt="A red panda courier with a green scarf. Flat webcomic style.",
        frames=frames,
        beats=BEATS[:frames] if beats is None else beats,
        seed=7,
    )
    return asyncio.run(playground.run(request)).record.run_id


def test_zip_holds_original_frames_and_a_complete_manifest(playground: Playground, tmp_path: Path) -> None:
    run_id = run_local(playground)
    path = export.export_run(playground, run_id, "zip", tmp_path / "out.zip")
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        assert names == sorted([f"{run_id}/manifest.json"] + [f"{run_id}/frame_{i:02d}.png" for i in range(1, 5)])
        frame_dir = playground.log.run_dir(run_id)
        assert archive.read(f"{run_id}/frame_02.png") == (frame_dir / "frame_02.png").read_bytes()
        manifest = json.loads(archive.read(f"{run_id}/manifest.json"))
    row = playground.log.get(run_id)
    assert manifest["run_id"] == run_id and manifest["status"] == "ok"
    assert manifest["request"]["prompt"] == row["prompt"] and manifest["request"]["beats"] == BEATS
    assert manifest["request"]["provider"] == "local" and manifest["request"]["frames_requested"] == 4
    assert manifest["composed_prompts"] == json.loads(row["composed_prompts"])
    assert "Image 3: hides from rain" in manifest["composed_prompts"][0]
    assert manifest["cost"]["cost_usd"] == row["cost_usd"] and manifest["cost"]["cost_source"] == "price table"
    assert manifest["latency"]["latency_s"] == pytest.approx(row["latency_s"])
    assert manifest["latency"]["first_frame_s"] == pytest.approx(row["first_frame_s"])
    assert manifest["scores"]["subject_consistency"] == pytest.approx(row["subject_consistency"])
    assert manifest["scores"]["clip_i"] is None  # NaN in the CSV becomes null, not NaN (invalid JSON)
    assert [f["caption"] for f in manifest["frames"]] == BEATS
    assert "image_dir" not in json.dumps(manifest)  # absolute server paths stay private


def test_zip_never_contains_a_key(emulator_env: dict[str, str], tmp_path: Path) -> None:
    playground = Playground(Settings.from_env(env=emulator_env, data_dir=tmp_path / "data"))
    request = GenerationRequest(prompt="A fox courier. Flat style.", frames=2, provider="byteplus")
    result = asyncio.run(playground.run(request))
    assert result.record.status == "ok"
    data = export.export_run(playground, result.record.run_id, "zip", tmp_path / "run.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = b"".join(archive.read(n) for n in archive.namelist())
    key = emulator_env["ARK_API_KEY"]
    assert key.encode() not in text and key.encode() not in data
    assert export.manifest_from_zip(data)["request"]["provider"] == "byteplus"


def test_sheet_is_one_png_grid_with_every_frame(playground: Playground, tmp_path: Path) -> None:
    run_id = run_local(playground)
    path = export.export_run(playground, run_id, "sheet", tmp_path)
    assert path == tmp_path / f"{run_id}-sheet.png"
    with Image.open(path) as sheet:
        assert sheet.format == "PNG"
        width, height = sheet.size
        pixels = sheet.convert("RGB")
        # 2 x 2 layout: each frame's centre pixel matches the frame it came from
        tile = export.SHEET_TILE
        for i in range(4):
            with Image.open(playground.log.run_dir(run_id) / f"frame_{i + 1:02d}.png") as frame:
                thumb = frame.convert("RGB").resize((tile, tile))
            x = 16 + (i % 2) * (tile + 16) + tile // 2
            y = 84 + (i // 2) * (tile + 64 + 16) + tile // 2
            assert _close(pixels.getpixel((x, y)), thumb.getpixel((tile // 2, tile // 2)))
    assert width == 16 + 2 * (tile + 16) and height > 2 * tile


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


@pytest.mark.parametrize("count, columns", [(1, 1), (2, 2), (4, 2), (5, 3), (9, 3), (10, 4), (15, 4)])
def test_sheet_columns(count: int, columns: int) -> None:
    assert export.sheet_columns(count) == columns


@pytest.mark.parametrize("fmt, pil_format", [("gif", "GIF"), ("webp", "WEBP")])
def test_animation_has_one_frame_per_run_frame(
    playground: Playground, tmp_path: Path, fmt: str, pil_format: str
) -> None:
    run_id = run_local(playground, frames=3)
    path = export.export_run(playground, run_id, fmt, tmp_path / f"a.{fmt}")
    with Image.open(path) as animation:
        assert animation.format == pil_format and animation.n_frames == 3
        assert max(animation.size) == export.ANIMATION_SIDE
        assert animation.info.get("loop") == 0
        durations = []
        for index in range(animation.n_frames):
            animation.seek(index)
            animation.load()
            durations.append(animation.info.get("duration"))
        assert durations == [export.FRAME_MS] * 3


def test_partial_run_keeps_frame_numbers_and_captions(playground: Playground, tmp_path: Path) -> None:
    run_id = run_local(playground)
    run_dir = playground.log.run_dir(run_id)
    for name in ("frame_02.png", "frame_02.preview.webp"):
        (run_dir / name).unlink()
    (run_dir / "frame_05.part").write_bytes(b"half a download")  # never counted as a frame
    run = export.load_run(playground, run_id)
    assert [f.number for f in run.frames] == [1, 3, 4]
    assert [run.caption(f.number) for f in run.frames] == ["gets a parcel", "hides from rain", "delivers it"]
    manifest = export.manifest_from_zip(export.export_run(playground, run_id, "zip", tmp_path / "p.zip").read_bytes())
    assert [(f["number"], f["file"]) for f in manifest["frames"]] == [
        (1, "frame_01.png"),
        (3, "frame_03.png"),
        (4, "frame_04.png"),
    ]


def test_unknown_run_and_run_without_frames_are_refused(playground: Playground, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no run 'nope'"):
        export.export_run(playground, "nope", "zip", tmp_path)
    with pytest.raises(InputError, match="frames must be between"):
        asyncio.run(playground.run(GenerationRequest(prompt="x", frames=0)))
    failed = playground.log.latest(1).iloc[0]["run_id"]
    with pytest.raises(InputError, match="no frames on disk"):
        export.export_run(playground, failed, "sheet", tmp_path)
    assert not list(tmp_path.glob("*.png"))


def test_a_damaged_frame_is_a_clear_error_and_leaves_no_file(playground: Playground, tmp_path: Path) -> None:
    run_id = run_local(playground, frames=2)
    (playground.log.run_dir(run_id) / "frame_02.png").write_bytes(b"\x89PNG damaged")
    with pytest.raises(InputError, match=f"could not export run {run_id} as sheet"):
        export.export_run(playground, run_id, "sheet", tmp_path / "out" / "s.png")
    assert list((tmp_path / "out").iterdir()) == []


def test_run_exports_are_made_once_in_the_run_folder(playground: Playground) -> None:
    run_id = run_local(playground, frames=2)
    files = export.run_exports(playground, run_id)
    assert set(files) == {"zip", "sheet", "gif"}
    assert all(p.parent == playground.log.run_dir(run_id) / "exports" and p.stat().st_size > 0 for p in files.values())
    stamp = files["zip"].stat().st_mtime_ns
    assert export.run_exports(playground, run_id)["zip"].stat().st_mtime_ns == stamp
    assert len(export.load_run(playground, run_id).frames) == 2  # exports are not frames


def test_cli_export_formats_and_errors(
    playground: Playground,
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = run_local(playground, frames=2)
    monkeypatch.chdir(tmp_path)
    assert main(["export", run_id, "--data-dir", str(data_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"{run_id}.zip" and (tmp_path / f"{run_id}.zip").exists()
    assert main(["export", run_id, "--format", "gif", "--out", "shared/story.gif", "--data-dir", str(data_dir)]) == 0
    assert Image.open(tmp_path / "shared" / "story.gif").n_frames == 2
    assert main(["export", run_id, "--format", "sheet", "--out", "sheets", "--data-dir", str(data_dir)]) == 0
    assert (tmp_path / "sheets" / f"{run_id}-sheet.png").exists()
    capsys.readouterr()
    assert main(["export", "missing-run", "--data-dir", str(data_dir)]) == 2
    assert "no run 'missing-run'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["export", run_id, "--format", "pdf", "--data-dir", str(data_dir)])
    assert exit_info.value.code == 2
