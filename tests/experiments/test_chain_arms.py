"""Chain is an arm like the others: in arm strings (`local::chain`, `local::chain-previous`), in
batch files (a string or a table with `mode = "chain"`, the file's `chain_from`), in bench-story,
and the Analysis (the report) shows sequence, chain and baseline as separate arms with a note
comparing the modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from playground.base.errors import InputError
from playground.cli.main import main
from playground.experiments.batchfile import load_batch
from playground.experiments.cells import Arm, parse_arm

STORY = """
[[stories]]
id = "fox"
character = "a red fox courier in a blue scarf"
style = "flat colours"
beats = ["picks up a parcel", "runs through the rain", "delivers it"]
"""


def batch_file(tmp_path: Path, head: str) -> Path:
    path = tmp_path / "three.toml"
    path.write_text(head + STORY, encoding="utf-8")
    return path


def test_arm_strings_name_the_chain_and_where_it_chains_from() -> None:
    assert parse_arm("local::chain") == Arm("local", "", "chain", "first")
    assert parse_arm("local::chain-previous") == Arm("local", "", "chain", "previous")
    assert parse_arm("local::chain-previous").label == "local:procedural-v1:chain-previous"
    assert parse_arm("local::chain").label == "local:procedural-v1:chain"
    with pytest.raises(InputError, match="mode must be one of sequence, baseline, chain, chain-first, chain-previous"):
        parse_arm("local::chain-last")


def test_batch_file_takes_chain_arms_as_strings_and_tables(tmp_path: Path) -> None:
    path = batch_file(
        tmp_path,
        'size = "512x512"\nchain_from = "previous"\narms = ["local::sequence", '
        '{ provider = "local", mode = "chain" }, '
        '{ provider = "local", mode = "chain", chain_from = "first" }, "local::baseline"]\n',
    )
    cells = load_batch(path).cells
    assert [c.arm.label for c in cells] == [
        "local:procedural-v1:sequence",
        "local:procedural-v1:chain-previous",
        "local:procedural-v1:chain",
        "local:procedural-v1:baseline",
    ]
    requests = [c.request("x") for c in cells]
    assert [(r.mode, r.chain_from) for r in requests][1:3] == [("chain", "previous"), ("chain", "first")]


@pytest.mark.parametrize(
    "head,message",
    [
        ('chain_from = "last"\narms = ["local::chain"]\n', "`chain_from` must be one of first, previous"),
        ('arms = [{ provider = "local", mode = "baseline", chain_from = "first" }]\n', "is for chain arms"),
        ('arms = [{ provider = "local" }]\n', "an arm table takes provider and mode"),
        ('arms = ["local::chain", "local::chain-first"]\n', "listed twice"),
    ],
)
def test_bad_chain_arms_in_a_batch_file_are_refused(tmp_path: Path, head: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_batch(batch_file(tmp_path, head))


def test_sequence_chain_and_baseline_compared_from_a_batch_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = str(tmp_path / "data")
    path = batch_file(
        tmp_path,
        'id = "three-modes"\nseed = 7\nsize = "512x512"\nrepeats = 2\n'
        'arms = ["local::sequence", { provider = "local", mode = "chain" }, '
        '"local::chain-previous", "local::baseline"]\n',
    )
    assert main(["batch", str(path), "--json", "--data-dir", data_dir]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ran"] == 8 and summary["ok"] == 8
    assert main(["report", "--experiment", "three-modes", "--json", "--data-dir", data_dir]) == 0
    report = json.loads(capsys.readouterr().out)
    arms = {a["arm"]: a for a in report["arms"]}
    assert set(arms) == {
        "local:procedural-v1:sequence",
        "local:procedural-v1:chain",
        "local:procedural-v1:chain-previous",
        "local:procedural-v1:baseline",
    }
    assert all(a["runs"] == 2 for a in arms.values())
    subject = {name.rsplit(":", 1)[1]: a["subject_consistency_mean"] for name, a in arms.items()}
    assert subject["chain"] > subject["baseline"]  # frame 1 as the reference keeps the stand-in's character
    assert main(["report", "--experiment", "three-modes", "--data-dir", data_dir]) == 0
    text = capsys.readouterr().out
    assert "by mode, the mean of its arms' subject consistency: sequence" in text
    assert "· chain " in text and "· baseline " in text


def test_bench_story_runs_a_chain_arm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stories = {
        "animals": [
            {
                "concept_token": "fox",
                "style": "A watercolour painting of",
                "subject": "A red fox with a blue scarf",
                "settings": ["crossing a river", "sleeping in a log", "watching the moon"],
            }
        ]
    }
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(stories), encoding="utf-8")
    args = [
        "bench-story",
        str(path),
        "--arm",
        "local::chain",
        "--arm",
        "local::baseline",
        "--size",
        "512x512",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(args) == 0
    assert "local:procedural-v1:chain" in capsys.readouterr().out


def test_runs_outside_an_experiment_keep_chain_from_first_and_from_previous_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Generate-tab / `run` rows have no `arm`: it was built from provider:model:mode, so chains
    from frame 1 and from the frame before pooled into one "chain" arm. The row's reference_frames
    say which they were."""
    data_dir = str(tmp_path / "data")
    base = [
        "run",
        "--provider",
        "local",
        "--frames",
        "3",
        "--size",
        "512x512",
        "--data-dir",
        data_dir,
        "--json",
        "--prompt",
        "a red fox courier in a blue scarf. flat colours.",
        "--beat",
        "picks up a parcel",
        "--beat",
        "runs through the rain",
        "--beat",
        "delivers it",
    ]
    for chain_from in ("first", "previous", "previous"):
        assert main([*base, "--mode", "chain", "--chain-from", chain_from]) == 0
    capsys.readouterr()
    assert main(["report", "--json", "--data-dir", data_dir]) == 0
    arms = {a["arm"]: a["runs"] for a in json.loads(capsys.readouterr().out)["arms"]}
    assert arms == {"local:procedural-v1:chain": 1, "local:procedural-v1:chain-previous": 2}


@pytest.mark.parametrize(
    "mode,chained,arm_mode",
    [
        ("chain", '{"2": 1, "3": 1, "4": 1}', "chain"),
        ("chain", '{"2": 1, "3": 2, "4": 3}', "chain-previous"),
        ("chain", {2: 1, 3: 2}, "chain-previous"),
        ("chain", '{"2": 1}', "chain"),  # two frames: both options send the same
        ("chain", None, "chain"),  # frame 1 never came back: nothing was chained
        ("baseline", None, "baseline"),
    ],
)
def test_arm_mode_reads_the_reference_frames(mode: str, chained: object, arm_mode: str) -> None:
    from playground.experiments.analysis import arm_mode as derive

    assert derive(mode, chained) == arm_mode
