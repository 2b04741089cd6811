"""The typed API and the workbench's new events, attacked as a stranger would on a public Space
(SPACE_ID set, default caps): what the answers reveal of the machine, and whether the vote and
note logs can be grown without bound or broken by any text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from playground.base.config import Settings
from playground.core import Playground
from playground.experiments import annotations, votes
from playground.experiments.annotations import add_note, annotation_log
from support.gradio_raw import SPACE, call

gradio_client = pytest.importorskip("gradio_client")
BEATS = ["gets a parcel", "runs over roofs"]


def _no_server_path(value: object, data_dir: Path) -> None:
    text = json.dumps(value)
    for root in {str(data_dir), str(data_dir.resolve())}:
        assert root not in text, f"a server path in the answer: {text[:300]}"


def test_api_answers_name_no_server_path(space_app: str, data_dir: Path) -> None:
    """History shows a run's folder as runs/<run_id>; the API's JSON must not say more."""
    client = gradio_client.Client(space_app, verbose=False)
    run, files = client.predict(prompt="A fox.", beats=BEATS, api_name="/run")
    assert run["status"] == "ok" and len(files) == 2
    assert run["image_dir"] == f"runs/{run['run_id']}"
    _no_server_path(run, data_dir)
    listed, _ = client.predict(run_id=run["run_id"], api_name="/runs")
    assert listed["runs"][0]["image_dir"] == f"runs/{run['run_id']}"
    _no_server_path(listed, data_dir)
    compared, _ = client.predict(prompt="A fox.", beats=BEATS, api_name="/compare")
    _no_server_path(compared, data_dir)
    _no_server_path(client.predict(experiment_id=compared["experiment_id"], api_name="/report"), data_dir)


def test_votes_through_the_api_cannot_grow_ratings_csv_without_bound(space_app: str, data_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    client = gradio_client.Client(space_app, verbose=False)
    compared, _ = client.predict(prompt="A fox.", beats=BEATS, api_name="/compare")
    left, right = (r["run_id"] for r in compared["runs"])
    vote = dict(experiment_id=compared["experiment_id"], left_run_id=left, right_run_id=right, verdict="left",
                rater="x" * 64, api_name="/vote")
    client.predict(**vote)
    ratings = data_dir / "ratings.csv"
    bound = ratings.stat().st_size + 400  # room for one or two more rows
    monkeypatch.setattr(votes, "MAX_RATINGS_BYTES", bound, raising=False)
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="ratings.csv is full"):
        for _ in range(10):
            client.predict(**vote)
    assert ratings.stat().st_size <= bound + 1000  # at most the row that crossed it


def test_hostile_rater_names_round_trip_and_reports_go_on(space_app: str, data_dir: Path) -> None:
    """A rater name with CR, NUL and a lone surrogate (sent as raw JSON) is logged cleanly."""
    client = gradio_client.Client(space_app, verbose=False)
    compared, _ = client.predict(prompt="A fox.", beats=BEATS, api_name="/compare")
    left, right = (r["run_id"] for r in compared["runs"])
    data = [compared["experiment_id"], left, right, "right", "overall", "RATER"]
    answer = call(space_app, "vote", data, raw_json=json.dumps(data).replace("RATER", "a\\rb\\u0000c\\ud800d"))
    assert answer.success, answer.error
    assert "\r" not in answer.output[0]["rater"] and "\x00" not in answer.output[0]["rater"]
    report = client.predict(experiment_id=compared["experiment_id"], api_name="/report")
    assert json.dumps(report)  # the report still reads the log
    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    assert len(pg.log.read_ratings()) == 1


def test_notes_cannot_grow_annotations_csv_without_bound(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    from playground.base.types import RunRecord

    pg.log.append(RunRecord(run_id="r1", provider="local", model="m", mode="sequence", prompt="p",
                            frames_requested=1, status="ok"))
    add_note(pg, "r1", "first")
    path = annotation_log(data_dir).path
    bound = path.stat().st_size + 3000
    monkeypatch.setattr(annotations, "MAX_ANNOTATIONS_BYTES", bound, raising=False)
    from playground.base.errors import InputError

    with pytest.raises(InputError, match="annotations.csv is full"):
        for _ in range(10):
            add_note(pg, "r1", "n" * 2000)
    assert path.stat().st_size <= bound + 2500


def test_hostile_note_text_round_trips(data_dir: Path) -> None:
    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    from playground.base.types import RunRecord

    pg.log.append(RunRecord(run_id="r1", provider="local", model="m", mode="sequence", prompt="p",
                            frames_requested=1, status="ok"))
    add_note(pg, "r1", "one\rtwo\x00three\ud800four\nfive", author="me\ud800")
    found = annotations.annotations(pg, "r1")
    assert len(found.notes) == 1 and "five" in found.notes[0][2]
    shown = annotations.annotations_text(found)
    assert shown.encode("utf-8") and "\r" not in shown and "\x00" not in shown  # the page can be sent it
    assert annotations.annotations(pg, "r2").notes == []
