"""Importing frames made elsewhere as a run with provider `import`."""

from __future__ import annotations

import json
import math
from datetime import UTC
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from playground.base.errors import InputError
from playground.cli.main import main
from playground.core import Playground
from playground.experiments import export
from playground.experiments.importer import import_run


def make_frames(folder: Path, count: int, fmt: str = "PNG", size: tuple[int, int] = (320, 240)) -> list[Path]:
    """Same figure on a shifting background: a tiny consistent 'sequence'."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = Image.new("RGB", size, (40 + 30 * i, 120, 200 - 20 * i))
        ImageDraw.Draw(image).ellipse((100 + 10 * i, 60, 180 + 10 * i, 200), fill=(230, 60, 40))
        path = folder / f"mj_{i}.{'jpg' if fmt == 'JPEG' else fmt.lower()}"
        image.save(path, format=fmt)
        paths.append(path)
    return paths


def test_import_copies_scores_and_logs_a_normal_row(playground: Playground, tmp_path: Path) -> None:
    sources = make_frames(tmp_path / "src", 3, fmt="JPEG")
    record = import_run(
        playground,
        sources,
        "midjourney-v7",
        0.12,
        "A fox courier. Ink style.",
        ["packs", "runs"],
        experiment_id="exp-1",
        arm="B",
        variant="mj",
    )
    run_dir = playground.log.run_dir(record.run_id)
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        [f"frame_{i:02d}.jpg" for i in (1, 2, 3)] + [f"frame_{i:02d}.preview.webp" for i in (1, 2, 3)]
    )
    assert (run_dir / "frame_02.jpg").read_bytes() == sources[1].read_bytes()  # originals, byte for byte
    row = playground.log.get(record.run_id)
    assert row["provider"] == "import" and row["model"] == "midjourney-v7" and row["cost_source"] == "user"
    assert row["status"] == "ok" and row["frames_returned"] == row["frames_requested"] == 3
    assert row["cost_usd"] == pytest.approx(0.12) and row["price_per_image_usd"] == pytest.approx(0.04)
    assert (row["experiment_id"], row["arm"], row["variant"]) == ("exp-1", "B", "mj")
    assert row["size"] == "320x240" and json.loads(row["beats"]) == ["packs", "runs"]
    assert "Image 2: runs" in json.loads(row["composed_prompts"])[0]
    for metric in ("palette_consistency", "structure_consistency", "subject_consistency"):
        assert 0.0 <= row[metric] <= 1.0
    # it is a run like any other: it exports
    assert export.load_run(playground, record.run_id).caption(3) == "Frame 3"


def test_a_bad_file_rejects_the_whole_import_and_writes_nothing(playground: Playground, tmp_path: Path) -> None:
    good = make_frames(tmp_path, 2)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(InputError, match="notes.png: not a readable image"):
        import_run(playground, [good[0], bad, good[1]], "comfyui", 0.0, "a fox", [])
    with pytest.raises(InputError, match="missing.png: cannot be read"):
        import_run(playground, [tmp_path / "missing.png"], "comfyui", 0.0, "a fox", [])
    assert playground.log.read().empty
    assert not (playground.settings.data_dir / "runs").exists() or not any(
        (playground.settings.data_dir / "runs").iterdir()
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(model=" "), "model name is empty"),
        (dict(cost_usd=-0.5), "0 or more"),
        (dict(cost_usd=math.nan), "0 or more"),
        (dict(prompt=""), "prompt is empty"),
        (dict(beats=["a", "b", "c"]), "3 beats for 2 frames"),
        (dict(mode="storyboard"), "mode must be one of"),
    ],
)
def test_bad_fields_are_refused_with_the_fix(
    playground: Playground, tmp_path: Path, kwargs: dict, message: str
) -> None:
    args = dict(frames=make_frames(tmp_path, 2), model="mj", cost_usd=0.1, prompt="a fox", beats=[]) | kwargs
    with pytest.raises(InputError, match=message):
        import_run(playground, **args)
    with pytest.raises(InputError, match="no frames given"):
        import_run(playground, [], "mj", 0.1, "a fox", [])
    assert playground.log.read().empty


def test_cli_import_json_and_exit_codes(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames = [str(p) for p in make_frames(tmp_path, 2)]
    code = main(
        [
            "import",
            *frames,
            "--model",
            "midjourney-v7",
            "--cost",
            "0.08",
            "--prompt",
            "a fox",
            "--beat",
            "packs",
            "--beat",
            "runs",
            "--json",
            "--data-dir",
            str(data_dir),
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["provider"] == "import" and out["cost_usd"] == pytest.approx(0.08)
    assert out["frames_returned"] == 2 and out["api_calls"] == 0
    assert (
        main(["import", frames[0], "--model", "mj", "--cost", "-1", "--prompt", "x", "--data-dir", str(data_dir)]) == 2
    )
    assert "0 or more" in capsys.readouterr().err


def test_run_with_provider_import_points_to_the_import_command(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--provider", "import", "--frames", "2", "--prompt", "x", "--data-dir", str(data_dir)]) == 2
    assert "use `python -m playground import" in capsys.readouterr().err


# -- issue 13: an imported run is not this app's spend, and its typed cost is bounded ---------------

SPACE = {"SPACE_ID": "owner/playground"}  # the Space defaults: $25 a day


@pytest.mark.parametrize("cost", ["1e300", "1001", "inf", "nan", "-0.01"])
def test_cli_refuses_an_import_cost_out_of_bounds_and_logs_nothing(data_dir: Path, tmp_path: Path, cost: str) -> None:
    from support.faults import cli

    frames = [str(p) for p in make_frames(tmp_path, 2)]
    done = cli(["import", *frames, "--model", "mj", "--cost", cost, "--prompt", "a fox"], SPACE, data_dir)
    assert done.code == 2 and "0 or more and at most 1000" in done.err
    assert not (data_dir / "runs.csv").exists()


def test_cli_imported_costs_never_shut_paid_runs_off(emulator, data_dir: Path, tmp_path: Path) -> None:
    from datetime import datetime

    from support.faults import cli

    env = {**emulator.env(), **SPACE}
    frames = [str(p) for p in make_frames(tmp_path, 2)]
    assert cli(["import", *frames, "--model", "mj", "--cost", "1000", "--prompt", "a fox"], env, data_dir).code == 0
    done = cli(
        ["run", "--provider", "byteplus", "--frames", "2", "--size", "256x256", "--prompt", "a fox", "--json"],
        env,
        data_dir,
    )
    assert done.code == 0, done.err
    paid = done.json()["cost_usd"]
    from playground.store.runlog import RunLog

    today = datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z")
    assert 0 < paid < 25 and RunLog(data_dir).spent_since(today) == pytest.approx(paid)


def test_api_import_is_bounded_and_not_counted_by_the_day_cap(emulator, data_dir: Path, tmp_path: Path) -> None:
    from gradio_client import Client

    from playground.base.config import Settings
    from playground.store.runlog import RunLog
    from support.app import launch_app
    from support.gradio_raw import call, upload

    app, url = launch_app(Settings.from_env(env={**emulator.env(), **SPACE}, data_dir=data_dir))
    try:
        files = upload(url, make_frames(tmp_path, 2))
        refused = call(url, "do_import", [files, "mj", 1e300, "a fox", ""])
        assert not refused.success and "1000" in refused.error
        assert not (data_dir / "runs.csv").exists()
        assert call(url, "do_import", [files, "mj", 1000, "a fox", ""]).success
        job = Client(url, verbose=False).submit(
            "a fox", "", 2, "byteplus", "seedream-5-0-260128", "sequence", 7, "256x256", [], api_name="/generate"
        )
        job.result()
        assert "ok: 2 of 2 frames" in str(job.outputs())
    finally:
        app.close()
    assert list(RunLog(data_dir).read()["provider"]) == ["import", "byteplus"]
