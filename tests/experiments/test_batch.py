"""Batch experiment files: the format, the examples in experiments/, the cost cap, the
confirmation and the ids that make resume work (offline, `python -m playground batch` in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.cli.main import main
from playground.core import Playground
from playground.experiments.batchfile import load_batch
from playground.experiments.cells import parse_arm, plan_cells
from support.paths import REPO

EXAMPLES = sorted((REPO / "experiments").glob("*.toml"))
INLINE = (
    'arms = ["local::sequence", "local::baseline"]\nrepeats = 2\nseed = 10\nsize = "512x512"\n'
    '[variants]\nA = "{character}. {style}."\nB = "{character}, drawn in {style}"\n'
    '[[stories]]\nid = "fox"\ncharacter = "a fox courier"\nstyle = "ink"\nbeats = ["a parcel", "a door"]\n'
)


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def batch(capsys: pytest.CaptureFixture[str], path: Path, data_dir: Path, *extra: str) -> tuple[int, dict, str]:
    code = main(["batch", str(path), "--json", "--data-dir", str(data_dir), *extra])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def test_there_is_one_example_per_preset() -> None:
    presets = sorted(p.stem.split("_", 1)[1] for p in (EXAMPLES[0].parent.parent / "presets").glob("*.toml"))
    assert sorted(p.stem for p in EXAMPLES) == presets


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_are_offline_and_their_commented_remote_arms_are_valid(path: Path, emulator_server) -> None:  # type: ignore[no-untyped-def]
    parsed = load_batch(path)
    assert {c.arm.provider for c in parsed.cells} == {"local"} and {c.arm.mode for c in parsed.cells} >= {
        "sequence",
        "baseline",
    }
    assert not [
        p.problem
        for p in plan_cells(Playground(Settings.from_env(env={}, data_dir=Path("unused"))), parsed.cells)
        if p.problem
    ]
    remote = [
        line.strip().lstrip("#").strip().strip('",')
        for line in path.read_text().splitlines()
        if line.strip().startswith('# "')
    ]
    assert remote, "list remote arms commented out, for people with keys"
    with_keys = Playground(Settings.from_env(env=emulator_server.env(), data_dir=Path("unused")))
    for spec in remote:
        cells = [type(parsed.cells[0])(story=parsed.cells[0].story, arm=parse_arm(spec), frames=parsed.cells[0].frames)]
        assert not [p.problem for p in plan_cells(with_keys, cells) if p.problem], spec


def test_an_example_runs_offline_then_resumes_to_nothing(capsys, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    path = next(p for p in EXAMPLES if p.stem == "explainer_scientific_method")
    code, first, _ = batch(capsys, path, data_dir)
    assert code == 0 and first["ok"] == first["cells"] == 4 and first["experiment_id"] == "explainer-demo"
    code, second, _ = batch(capsys, path, data_dir)
    assert code == 0 and (second["skipped"], second["ran"]) == (4, 0)


def test_cells_are_stories_x_variants_x_repeats_x_arms_with_seed_per_repeat(tmp_path: Path) -> None:
    parsed = load_batch(write(tmp_path, INLINE))
    assert len(parsed.cells) == 2 * 2 * 2
    assert {(c.variant, c.repeat, c.seed) for c in parsed.cells} == {
        ("A", 0, 10),
        ("A", 1, 11),
        ("B", 0, 10),
        ("B", 1, 11),
    }
    assert {c.story_id for c in parsed.cells} == {"fox"} and {c.size for c in parsed.cells} == {"512x512"}
    b = next(c for c in parsed.cells if c.variant == "B")
    assert b.story.prompt() == "a fox courier, drawn in ink." and b.story.beats == ("a parcel", "a door")


def test_experiment_id_follows_the_file(tmp_path: Path) -> None:
    one = load_batch(write(tmp_path, INLINE)).experiment_id
    assert one == load_batch(write(tmp_path, INLINE)).experiment_id and one.startswith("exp-")
    assert load_batch(write(tmp_path, INLINE + "\n# edited\n")).experiment_id != one
    assert load_batch(write(tmp_path, 'id = "mine"\n' + INLINE)).experiment_id == "mine"


@pytest.mark.parametrize(
    "text, message",
    [
        ("arms = [", "exp.toml"),
        ('arm = ["local::sequence"]\n', "unknown key(s) arm"),
        ('arms = "local::sequence"\n[[stories]]\npreset = "webcomic"\n', "`arms` must be a list"),
        ('arms = ["local::sequnce"]\n[[stories]]\npreset = "webcomic"\n', "mode must be one of"),
        ('arms = ["local::sequence"]\n', "at least one [[stories]]"),
        ('arms = ["local::sequence"]\n[[stories]]\npreset = "nope"\n', "unknown preset 'nope'"),
        ('arms = ["local::sequence"]\nrepeats = 0\n[[stories]]\npreset = "webcomic"\n', "`repeats` must be"),
        ('arms = ["local::sequence"]\n[[stories]]\ncharacter = "x"\n', "needs `id` and `character`"),
        ('arms = ["local::sequence"]\n[[stories]]\npreset = "webcomic"\n[[stories]]\npreset = "webcomic"\n', "unique"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_batch(write(tmp_path, text))


def test_bad_files_and_bad_cells_exit_2_and_send_nothing(capsys, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = batch(capsys, write(tmp_path, 'arms = ["local::sequence"]\n'), data_dir)
    assert code == 2 and "at least one [[stories]]" in err
    wrong_size = INLINE.replace('"512x512"', '"256x256"')
    code, _, err = batch(capsys, write(tmp_path, wrong_size), data_dir)
    assert code == 2 and "size '256x256' is not allowed" in err
    assert not (data_dir / "runs.csv").exists()


def test_cost_cap_refuses_cells_before_sending(capsys, monkeypatch, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLAYGROUND_PRICES", '{"local/procedural-v1": 0.1}')  # a cell = 2 frames = $0.20
    code, out, _ = batch(capsys, write(tmp_path, INLINE), data_dir, "--max-usd", "0.5", "--yes")
    assert code == 0 and (out["ran"], out["refused"]) == (2, 6) and out["cost_usd"] <= 0.5
    code, out, _ = batch(capsys, write(tmp_path, INLINE), data_dir, "--max-usd", "0.5", "--yes")
    assert (out["skipped"], out["ran"], out["refused"]) == (2, 2, 4)  # the cap is per invocation; resume continues


def test_confirmation_refusal_sends_nothing(capsys, monkeypatch, tmp_path: Path, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PLAYGROUND_PRICES", '{"local/procedural-v1": 0.1}')  # 8 cells = $1.60
    monkeypatch.setenv("PLAYGROUND_CONFIRM_USD", "1.0")
    code, _, err = batch(capsys, write(tmp_path, INLINE), data_dir)
    assert code == 2 and "PLAYGROUND_CONFIRM_USD" in err and "nothing was sent" in err
    assert not (data_dir / "runs.csv").exists()
