"""ConsiStory+ importer, subsetting, and the bench-story command end to end (offline).

The published file is not part of the repository: tests that need it find it through
PLAYGROUND_CONSISTORY_FILE or ../shared/benchmarks/ beside the clone, and skip with the
reason when it is absent. Everything else uses a small synthetic YAML of the same format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from playground.base.config import Settings
from playground.base.errors import InputError
from playground.cli.main import main
from playground.core import Playground
from playground.experiments import consistory
from support.paths import REPO

SHARED_FILE = REPO.parent / "shared" / "benchmarks" / "consistory_plus.yaml"
ARMS = ["--arm", "local::sequence", "--arm", "local::baseline"]

SYNTHETIC = {
    "animals": [
        {
            "concept_token": "fox",
            "style": "A watercolour painting of",
            "subject": "A red fox with a blue scarf",
            "settings": ["crossing a frozen river", "sleeping in a hollow log", "watching the moon", "chasing a moth"],
        },
        {
            "concept_token": "owl",
            "style": "A quick pencil study of",
            "subject": "A barn owl with golden eyes",
            "settings": ["perched on a fence post", "gliding over a meadow", "hiding in a barn", "hooting at dusk"],
        },
        {
            "concept_token": "newt",
            "style": "",
            "subject": "A newt",
            "settings": ["under a mossy stone", "in a rain puddle", "climbing a fern", "on a garden path"],
        },
    ],
    "foods": [
        {
            "concept_token": "tart",
            "style": "A soft pastel still life of",
            "subject": "A lemon tart with a lattice crust",
            "settings": ["on a marble counter", "under a glass dome", "on a picnic blanket", "beside a cup of tea"],
        },
        {
            "concept_token": "cake",
            "style": "A glossy magazine photo of",
            "subject": "A three-tier wedding cake",
            "settings": ["on a silver stand", "being cut by a knife", "in a bakery window", "under string lights"],
        },
    ],
    "humans": [
        {
            "concept_token": "beekeeper",
            "style": "A sunlit documentary photo of",
            "subject": "A beekeeper in a white veil",
            "settings": [
                "lifting a honey frame",
                "walking between hives",
                "pouring honey into jars",
                "resting under an apple tree",
            ],
        },
    ],
}


def real_file() -> Path:
    """The published ConsiStory+ file, or a skip saying where it was looked for."""
    configured = os.environ.get("PLAYGROUND_CONSISTORY_FILE", "").strip()
    if configured:
        if Path(configured).is_file():
            return Path(configured)
        pytest.skip(f"PLAYGROUND_CONSISTORY_FILE={configured} does not exist")
    if SHARED_FILE.is_file():
        return SHARED_FILE
    pytest.skip(
        f"ConsiStory+ file absent: set PLAYGROUND_CONSISTORY_FILE or place it at {SHARED_FILE} "
        "(see docs/consistory.md for where the public file lives)"
    )


@pytest.fixture
def synthetic_file(tmp_path: Path) -> Path:
    path = tmp_path / "mini_consistory.yaml"
    path.write_text(yaml.safe_dump(SYNTHETIC, sort_keys=False), encoding="utf-8")
    return path


def bench(path: Path, data_dir: Path, *extra: str) -> int:
    return main(["bench-story", str(path), *ARMS, "--size", "512x512", "--data-dir", str(data_dir), *extra])


def experiment_rows(data_dir: Path) -> pd.DataFrame:
    return Playground(Settings.from_env(env={}, data_dir=data_dir)).log.read()


# ---------------------------------------------------------------- importing


def test_compose_story_drops_the_dangling_of_and_keeps_one_beat_per_setting() -> None:
    story = consistory.compose_story(
        "A moody charcoal sketch of",
        "A lighthouse keeper with a grey beard",
        ["climbing the spiral stairs", "  polishing   the great lens "],
    )
    assert story.character == "A lighthouse keeper with a grey beard"
    assert story.style == "A moody charcoal sketch"
    assert story.beats == ("climbing the spiral stairs", "polishing the great lens")
    assert story.prompt() == "A lighthouse keeper with a grey beard. A moody charcoal sketch."
    assert consistory.compose_story("", "A newt", ["on a garden path"]).prompt() == "A newt."


def test_synthetic_file_imports_in_file_order_with_stable_ids(synthetic_file: Path) -> None:
    stories = consistory.load_consistory(synthetic_file)
    assert [s.category for s in stories] == ["animals"] * 3 + ["foods"] * 2 + ["humans"]
    assert [s.story_id for s in stories[:3]] == ["animals-000-fox", "animals-001-owl", "animals-002-newt"]
    assert stories[3].story.character == "A lemon tart with a lattice crust"
    assert stories[3].story.beats == tuple(SYNTHETIC["foods"][0]["settings"])
    assert all(s.frames == 4 for s in stories)
    assert [s.story_id for s in consistory.load_consistory(synthetic_file)] == [s.story_id for s in stories]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "mapping of category"),
        ({"animals": {"subject": "x"}}, "not a list"),
        ({"animals": [{"style": "A photo of", "settings": ["a"]}]}, "animals[0] lacks subject"),
        ({"animals": [{"subject": "A cat", "settings": "on a mat"}]}, "animals[0].settings must be a list"),
        ({"animals": [{"subject": "A cat", "settings": ["a", ""]}]}, "non-empty texts"),
        ({"animals": [{"subject": "A cat", "settings": [f"s{i}" for i in range(16)]}]}, "16 settings"),
        ({"animals": []}, "no prompt sets"),
    ],
)
def test_malformed_files_are_refused_with_the_place_named(data: object, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        consistory.parse_consistory(data)


def test_unreadable_and_invalid_yaml_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the ConsiStory\\+ file"):
        consistory.load_consistory(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("animals: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        consistory.load_consistory(broken)


# ---------------------------------------------------------------- subsetting and ids


def test_subsets_by_category_sample_and_limit(synthetic_file: Path) -> None:
    stories = consistory.load_consistory(synthetic_file)
    foods = consistory.select_stories(stories, ["foods", "humans"])
    assert [s.category for s in foods] == ["foods", "foods", "humans"]
    with pytest.raises(InputError, match="unknown category fish; the file has: animals, foods, humans"):
        consistory.select_stories(stories, ["fish"])
    sample = consistory.select_stories(stories, sample=3, sample_seed=7)
    assert len(sample) == 3
    assert sample == consistory.select_stories(stories, sample=3, sample_seed=7)
    assert [stories.index(s) for s in sample] == sorted(stories.index(s) for s in sample)  # file order kept
    samples = {
        tuple(s.story_id for s in consistory.select_stories(stories, sample=3, sample_seed=seed)) for seed in range(8)
    }
    assert len(samples) > 1  # the seed matters
    assert consistory.select_stories(stories, limit=2) == stories[:2]
    assert len(consistory.select_stories(stories, sample=50)) == len(stories)
    with pytest.raises(InputError, match="--limit must be at least 1"):
        consistory.select_stories(stories, limit=0)


def test_experiment_id_follows_content_arms_and_subset(synthetic_file: Path, tmp_path: Path) -> None:
    digest = consistory.file_digest(synthetic_file)
    base = consistory.experiment_id_for(digest, ["a", "b"], ["s1", "s2"])
    assert base == consistory.experiment_id_for(digest, ["a", "b"], ["s1", "s2"])
    assert base != consistory.experiment_id_for(digest, ["a"], ["s1", "s2"])
    assert base != consistory.experiment_id_for(digest, ["a", "b"], ["s1"])
    moved = tmp_path / "elsewhere.yaml"
    moved.write_bytes(synthetic_file.read_bytes())
    assert consistory.file_digest(moved) == digest
    moved.write_bytes(synthetic_file.read_bytes() + b"# edited\n")
    assert consistory.file_digest(moved) != digest


def test_the_published_file_has_192_stories_in_8_categories() -> None:
    stories = consistory.load_consistory(real_file())
    assert len(stories) == 192
    assert len({s.category for s in stories}) == 8
    assert len({s.story_id for s in stories}) == 192
    assert all(5 <= s.frames <= 10 for s in stories)
    assert not any(s.story.style.endswith(" of") for s in stories)


# ---------------------------------------------------------------- the command, offline


def test_bench_story_runs_every_story_and_arm_and_sequence_is_more_consistent(
    synthetic_file: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert bench(synthetic_file, data_dir, "--out", str(out)) == 0
    captured = capsys.readouterr()
    assert "estimated cost $0.0000" in captured.err
    assert "| Method |" in captured.out and "(reference)" in captured.out
    runs = experiment_rows(data_dir)
    assert len(runs) == 6 * 2
    assert runs["experiment_id"].nunique() == 1 and runs["experiment_id"].iloc[0].startswith("consistory-")
    assert set(runs["arm"]) == {"local:procedural-v1:sequence", "local:procedural-v1:baseline"}
    assert set(runs["story_id"]) == {s.story_id for s in consistory.load_consistory(synthetic_file)}
    assert set(runs["status"]) == {"ok"}
    means = runs.groupby("mode")["subject_consistency"].mean()
    assert means["sequence"] > means["baseline"]
    table = pd.read_csv(out / "consistory_table.csv")
    overall = table[table["table"] == "overall"].set_index("method")
    assert overall.loc["local:procedural-v1:sequence", "subject_consistency_mean"] == pytest.approx(
        runs[runs["mode"] == "sequence"].groupby("story_id")["subject_consistency"].mean().mean(), abs=1e-6
    )
    assert set(table.loc[table["table"] == "category", "category"]) == {"animals", "foods", "humans"}
    assert (out / "consistory_plot.png").stat().st_size > 1000


def test_a_rerun_resumes_without_sending_again(
    synthetic_file: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench(synthetic_file, data_dir, "--limit", "2") == 0
    first = experiment_rows(data_dir)
    assert bench(synthetic_file, data_dir, "--limit", "2") == 0
    assert "4 already done, 0 to run" in capsys.readouterr().err
    assert len(experiment_rows(data_dir)) == len(first)


def test_json_output_and_bad_arguments(
    synthetic_file: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench(synthetic_file, data_dir, "--categories", "foods", "--json") == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["stories"] == 2 and payload["sent"] == 4 and payload["not_sent"] == 0
    assert {row["method"] for row in payload["table"]} >= {"local:procedural-v1:sequence"}
    assert any(row["table"] == "reference" and row["clip_i_mean"] == 0.9117 for row in payload["table"])
    assert bench(synthetic_file, data_dir, "--categories", "fish") == 2
    assert "unknown category fish" in capsys.readouterr().err
    assert main(["bench-story", str(synthetic_file), "--arm", "nowhere::sequence", "--data-dir", str(data_dir)]) == 2
    assert "unknown provider 'nowhere'" in capsys.readouterr().err


def test_real_file_subset_offline_sequence_beats_baseline(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = real_file()
    assert bench(path, data_dir, "--sample", "8", "--sample-seed", "1") == 0
    runs = experiment_rows(data_dir)
    assert runs["story_id"].nunique() == 8 and len(runs) == 16
    by_mode = runs.groupby("mode")[["subject_consistency", "palette_consistency"]].mean()
    assert by_mode.loc["sequence", "subject_consistency"] > by_mode.loc["baseline", "subject_consistency"]
    assert "local:procedural-v1:sequence" in capsys.readouterr().out


# ---------------------------------------------------------------- a paid provider (the loopback emulator)


def test_paid_arms_show_the_estimate_and_refuse_past_max_usd_with_nothing_sent(
    synthetic_file: Path, data_dir: Path, emulator, emulator_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    arms = ["--arm", "byteplus::sequence", "--arm", "byteplus::baseline"]
    args = ["bench-story", str(synthetic_file), *arms, "--limit", "2", "--data-dir", str(data_dir)]
    assert main([*args, "--max-usd", "0.5"]) == 2
    err = capsys.readouterr().err
    # 2 stories x 4 frames x 2 arms at the price table's $0.035 per image
    assert "estimated cost $0.5600" in err and "passes --max-usd $0.50: nothing was sent" in err
    assert emulator.requests_for("byteplus") == []
    assert not (data_dir / "runs.csv").exists()


def test_paid_arms_run_through_the_provider_protocol_and_cost_per_story_is_reported(
    synthetic_file: Path,
    data_dir: Path,
    tmp_path: Path,
    emulator,
    emulator_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.image_size = (256, 256)  # small frames: quick to score
    arms = ["--arm", "byteplus::sequence", "--arm", "byteplus::baseline"]
    args = [
        "bench-story",
        str(synthetic_file),
        *arms,
        "--limit",
        "2",
        "--data-dir",
        str(data_dir),
        "--max-usd",
        "1",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 0
    creates = emulator.requests_for("byteplus", "POST")
    assert len(creates) == 2 * 1 + 2 * 4  # one call per sequence story, one per frame for baseline
    runs = experiment_rows(data_dir)
    assert set(runs["status"]) == {"ok"} and runs["cost_usd"].sum() == pytest.approx(0.56)
    table = pd.read_csv(tmp_path / "out" / "consistory_table.csv")
    overall = table[table["table"] == "overall"]
    assert overall["cost_per_story_usd"].tolist() == pytest.approx([0.14, 0.14])
    written = (data_dir / "runs.csv").read_text() + (tmp_path / "out" / "consistory_table.md").read_text()
    assert emulator_env["ARK_API_KEY"] not in written
    capsys.readouterr()
    assert main(args) == 0  # the rerun resumes: nothing more is sent
    assert len(emulator.requests_for("byteplus", "POST")) == len(creates)
    assert "4 already done, 0 to run; estimated cost $0.0000" in capsys.readouterr().err


def test_a_failed_run_is_retried_by_the_next_invocation_and_only_it(
    synthetic_file: Path, data_dir: Path, emulator, emulator_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.image_size = (256, 256)
    emulator.set_fault("byteplus", "content", count=1)  # the first call is refused: that run ends in error
    args = [
        "bench-story",
        str(synthetic_file),
        "--arm",
        "byteplus::sequence",
        "--limit",
        "3",
        "--data-dir",
        str(data_dir),
        "--concurrency",
        "1",
    ]
    assert main(args) == 1
    assert "1 run(s) ended in error; rerun the same command to retry them" in capsys.readouterr().err
    first = experiment_rows(data_dir)
    failed = first.loc[first["status"] == "error", "story_id"].tolist()
    assert len(failed) == 1 and (first["status"] == "ok").sum() == 2
    sent_before = len(emulator.requests_for("byteplus", "POST"))
    assert main(args) == 0
    assert "2 already done, 1 to run" in capsys.readouterr().err
    assert len(emulator.requests_for("byteplus", "POST")) == sent_before + 1
    after = experiment_rows(data_dir)
    assert after.loc[after["story_id"] == failed[0], "status"].tolist() == ["error", "ok"]


def test_progress_bar_counts_statuses_and_survives_a_closed_stream() -> None:
    import io

    from playground.base.types import RunRecord
    from playground.cli.bench_story import ProgressBar

    stream = io.StringIO()
    bar = ProgressBar(40, stream)
    for i in range(40):
        bar(None, RunRecord(status="ok" if i % 10 else "error", cost_usd=0.01) if i < 39 else None)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 20  # one line per 5% on a non-terminal
    assert lines[-1].startswith("[" + "#" * 30 + "] 40/40 runs  $0.3900")
    assert "error 4" in lines[-1] and "ok 35" in lines[-1] and "not sent (cap) 1" in lines[-1]

    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    broken = ProgressBar(2, Closed())
    broken(None, RunRecord(status="ok"))
    broken(None, RunRecord(status="ok"))
    assert broken.done == 2
