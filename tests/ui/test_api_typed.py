"""The typed API through gradio_client, against one launched app: named parameters, the CLI's
JSON plus the original frames, bad values refused with the CLI's words (and logged where the
CLI logs them), and a comparison run, voted and reported entirely through the client."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.core import Playground
from support.app import launch_app
from support.paths import REPO

gradio_client = pytest.importorskip("gradio_client")
BEATS = ["gets a parcel", "runs over roofs", "hides from rain", "delivers it"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data_dir = tmp_path_factory.mktemp("api") / "data"
    app, url = launch_app(Settings.from_env(env={}, data_dir=data_dir))
    try:
        yield url, data_dir
    finally:
        app.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def client(served: tuple[str, Path]):
    return gradio_client.Client(served[0], verbose=False)


def test_listing_names_every_parameter(client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == ["/compare", "/report", "/run", "/runs", "/vote"]
    assert not api["unnamed_endpoints"]
    names = {name: [p["parameter_name"] for p in e["parameters"]] for name, e in api["named_endpoints"].items()}
    assert names["/run"] == ["prompt", "beats", "frames", "provider", "model", "mode", "seed", "size"]
    assert names["/vote"] == ["experiment_id", "left_run_id", "right_run_id", "verdict", "criterion", "rater"]
    assert names["/compare"][:4] == ["prompt", "beats", "frames", "arms"] and "confirm" in names["/compare"]


def test_run_returns_the_cli_json_and_the_original_frames(client, served: tuple[str, Path]) -> None:
    run, files = client.predict(
        prompt="A red panda courier. Flat webcomic style.", beats=BEATS, seed=7, api_name="/run"
    )
    assert run["status"] == "ok" and run["frames_requested"] == 4 and run["seed_sent"] == 7
    originals = sorted(Path(run["image_dir"]).glob("frame_??.png"))
    assert [Path(f).read_bytes() for f in files] == [p.read_bytes() for p in originals]
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "run",
            "--prompt",
            "A fox.",
            "--beat",
            "a",
            "--data-dir",
            str(served[1]),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert list(json.loads(cli.stdout)) == list(run)  # one shape: the CLI's --json


def test_run_takes_frames_from_beats_and_sends_the_first_beats(client) -> None:
    run, files = client.predict(prompt="A fox.", beats=BEATS, frames=2, api_name="/run")
    assert run["frames_requested"] == 2 and run["beats_used"] == 2 and len(files) == 2


@pytest.mark.parametrize("mode, chained", [("chain", {"2": 1, "3": 1}), ("chain-previous", {"2": 1, "3": 2})])
def test_run_takes_the_chain_modes(client, mode: str, chained: dict[str, int]) -> None:
    run, files = client.predict(prompt="A fox.", beats=BEATS[:3], mode=mode, api_name="/run")
    assert run["mode"] == "chain" and run["reference_frames"] == chained and len(files) == 3


@pytest.mark.parametrize(
    "fields, words",
    [
        (dict(prompt="A fox.", frames="abc"), "frames must be a whole number from 1 to 15"),
        (dict(prompt="A fox.", frames=16), "frames must be a whole number from 1 to 15"),
        (dict(prompt="A fox."), "give a frame count, or one beat per frame"),
        (dict(prompt=["not", "text"], frames=2), "prompt is text"),
        (dict(prompt="A fox.", frames=2, mode="x"), "mode must be one of"),
        (dict(prompt="A fox.", frames=2, seed=-1), "seed must be a whole number"),
        (dict(prompt="A fox.", frames=2, beats=[str(i) for i in range(16)]), "the limit is 15"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(client, fields: dict, words: str) -> None:
    with pytest.raises(Exception, match=words):
        client.predict(**fields, api_name="/run")


def test_a_refused_run_is_logged_as_from_the_cli(client, served: tuple[str, Path]) -> None:
    playground = Playground(Settings.from_env(env={}, data_dir=served[1]))
    before = len(playground.log.read())
    with pytest.raises(Exception, match="unknown provider 'nope'"):
        client.predict(prompt="A fox.", frames=2, provider="nope", api_name="/run")
    with pytest.raises(Exception, match="size '300x300' is not allowed"):
        client.predict(prompt="A fox.", frames=2, size="300x300", api_name="/run")
    log = playground.log.read()
    assert len(log) == before + 2 and list(log["status"].tail(2)) == ["error", "error"]


def test_compare_vote_report_end_to_end(client) -> None:
    result, files = client.predict(prompt="A red panda courier.", beats=BEATS[:2], api_name="/compare")
    assert [r["arm"] for r in result["runs"]] == ["local:procedural-v1:sequence", "local:procedural-v1:baseline"]
    assert all(r["status"] == "ok" for r in result["runs"]) and len(files) == 4
    left, right = (r["run_id"] for r in result["runs"])
    vote = client.predict(
        experiment_id=result["experiment_id"],
        left_run_id=left,
        right_run_id=right,
        verdict="left",
        rater="me",
        api_name="/vote",
    )
    assert vote["verdict"] == "left" and vote["rater"] == "me" and vote["source"] == "api"
    report = client.predict(experiment_id=result["experiment_id"], api_name="/report")
    assert report["experiment_id"] == result["experiment_id"] and report["votes"] == 1 and report["runs"] == 2
    with pytest.raises(Exception, match="not in experiment"):
        client.predict(
            experiment_id="cmp-other", left_run_id=left, right_run_id=right, verdict="left", api_name="/vote"
        )
    with pytest.raises(Exception, match="verdict is one of"):
        client.predict(
            experiment_id=result["experiment_id"],
            left_run_id=left,
            right_run_id=right,
            verdict="both",
            api_name="/vote",
        )
    with pytest.raises(Exception, match="no experiment 'nope'"):
        client.predict(experiment_id="nope", api_name="/report")


def test_vote_takes_a_criterion_and_skip(client) -> None:
    result, _ = client.predict(prompt="A red panda courier.", beats=BEATS[:2], api_name="/compare")
    left, right = (r["run_id"] for r in result["runs"])
    ask = dict(experiment_id=result["experiment_id"], left_run_id=left, right_run_id=right, api_name="/vote")
    style = client.predict(verdict="right", criterion="style", **ask)
    skipped = client.predict(verdict="skip", **ask)
    assert (style["criterion"], style["verdict"], skipped["verdict"]) == ("style", "right", "skip")
    assert style["vote_id"] != skipped["vote_id"]
    overall = client.predict(experiment_id=result["experiment_id"], api_name="/report")
    assert overall["votes"] == 0  # a skip counts for no figure, a style vote not for "overall"
    by_style = client.predict(experiment_id=result["experiment_id"], criterion="style", api_name="/report")
    assert by_style["votes"] == 1 and by_style["criterion"] == "style"
    assert [row["key"] for row in by_style["grid"]["rows"]] and set(by_style["grid"]["arms"]) == {
        r["arm"] for r in result["runs"]
    }
    with pytest.raises(Exception, match="criterion"):
        client.predict(verdict="left", criterion="mood", **ask)


def test_runs_filters_pages_and_hides_refusals(client, served: tuple[str, Path]) -> None:
    made, _ = client.predict(prompt="A fox.", frames=1, mode="baseline", api_name="/run")
    with pytest.raises(Exception, match="unknown provider"):
        client.predict(prompt="A fox.", frames=2, provider="nope", api_name="/run")
    listed, none = client.predict(limit=500, api_name="/runs")
    assert none == [] and all(not (r["status"] == "error" and r["api_calls"] == 0) for r in listed["runs"])
    everything, _ = client.predict(include_refused=True, limit=500, api_name="/runs")
    assert everything["total"] > listed["total"]
    from playground.experiments.annotations import add_tag

    add_tag(Playground(Settings.from_env(env={}, data_dir=served[1])), made["run_id"], "keep")
    one, files = client.predict(run_id=made["run_id"], api_name="/runs")
    assert [r["run_id"] for r in one["runs"]] == [made["run_id"]] and len(files) == 1
    assert one["runs"][0]["tags"] == ["keep"]
    baseline, _ = client.predict(mode="baseline", limit=1, api_name="/runs")
    assert len(baseline["runs"]) == 1 and baseline["runs"][0]["mode"] == "baseline"
    with pytest.raises(Exception, match="limit must be a whole number from 1 to 500"):
        client.predict(limit=10_000, api_name="/runs")


def test_old_endpoints_still_answer_out_of_the_listing(client) -> None:
    with pytest.raises(Exception, match="no run 'nope' in the log"):  # reached the handler: callable by name
        client.predict("nope", api_name="/open_run")


def test_the_readme_example_runs_against_the_app(served: tuple[str, Path]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- api-example -->\n```python\n", 1)[1].split("```", 1)[0]
    code = block.replace('"http://127.0.0.1:7860/"', repr(served[0]))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    first, second = done.stdout.splitlines()[-2:]  # after the client's own "Loaded as API" line
    assert first.startswith("ok 0.0 7 ") and second.startswith("1 [")


def test_runs_and_vote_commands_print_what_the_api_returns(client, served: tuple[str, Path]) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "playground", *args, "--data-dir", str(served[1])],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = json.loads(cli("runs", "--limit", "3", "--json").stdout)
    api, _ = client.predict(limit=3, api_name="/runs")
    assert listed == api  # one function answers both
    result, _ = client.predict(prompt="A fox.", beats=["a", "b"], api_name="/compare")
    left, right = (r["run_id"] for r in result["runs"])
    voted = cli(
        "vote", "--experiment", result["experiment_id"], "--left", left, "--right", right, "--verdict", "tie", "--json"
    )
    assert voted.returncode == 0, voted.stderr
    logged = json.loads(voted.stdout)
    assert {
        k: logged[k]
        for k in ("experiment_id", "left_run_id", "right_run_id", "verdict", "criterion", "rater", "source")
    } == {
        "experiment_id": result["experiment_id"],
        "left_run_id": left,
        "right_run_id": right,
        "verdict": "tie",
        "criterion": "overall",
        "rater": "anonymous",
        "source": "cli",
    }
    assert logged["vote_id"] and logged["pair_id"]  # the row's own ids, as ratings.csv has them
    bad = cli("vote", "--experiment", result["experiment_id"], "--left", left, "--right", "nope", "--verdict", "tie")
    assert bad.returncode == 2 and "'nope'" in bad.stderr and bad.stderr.startswith("error: ")


def test_runs_filter_by_tag_through_the_api_and_the_cli(client, served: tuple[str, Path]) -> None:
    from playground.experiments.annotations import add_tag, remove_tag

    kept, _ = client.predict(prompt="A fox.", frames=1, mode="baseline", api_name="/run")
    other, _ = client.predict(prompt="A cat.", frames=1, mode="baseline", api_name="/run")
    playground = Playground(Settings.from_env(env={}, data_dir=served[1]))
    add_tag(playground, kept["run_id"], "shortlist")
    add_tag(playground, other["run_id"], "shortlist")
    remove_tag(playground, other["run_id"], "shortlist")  # untagged since: not listed
    tagged, _ = client.predict(tag="shortlist", limit=500, api_name="/runs")
    assert [r["run_id"] for r in tagged["runs"]] == [kept["run_id"]] and tagged["total"] == 1
    assert tagged["runs"][0]["tags"] == ["shortlist"]
    assert client.predict(tag="nobody-uses-this", api_name="/runs")[0]["total"] == 0
    cli = subprocess.run(
        [sys.executable, "-m", "playground", "runs", "--tag", "shortlist", "--json", "--data-dir", str(served[1])],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == tagged  # one function answers both
