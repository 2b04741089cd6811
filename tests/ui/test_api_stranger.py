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
from playground.present.history import RunFilter, find_runs
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


def test_votes_through_the_api_cannot_grow_ratings_csv_without_bound(
    space_app: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = gradio_client.Client(space_app, verbose=False)
    compared, _ = client.predict(prompt="A fox.", beats=BEATS, api_name="/compare")
    left, right = (r["run_id"] for r in compared["runs"])
    vote = dict(
        experiment_id=compared["experiment_id"],
        left_run_id=left,
        right_run_id=right,
        verdict="left",
        rater="x" * 64,
        api_name="/vote",
    )
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

    pg.log.append(
        RunRecord(
            run_id="r1", provider="local", model="m", mode="sequence", prompt="p", frames_requested=1, status="ok"
        )
    )
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

    pg.log.append(
        RunRecord(
            run_id="r1", provider="local", model="m", mode="sequence", prompt="p", frames_requested=1, status="ok"
        )
    )
    add_note(pg, "r1", "one\rtwo\x00three\ud800four\nfive", author="me\ud800")
    found = annotations.annotations(pg, "r1")
    assert len(found.notes) == 1 and "five" in found.notes[0][2]
    shown = annotations.annotations_text(found)
    assert shown.encode("utf-8") and "\r" not in shown and "\x00" not in shown  # the page can be sent it
    assert annotations.annotations(pg, "r2").notes == []


# -- money through the typed endpoints, against the emulator ---------------------------------------------
ARMS = [
    f"byteplus:{m}:{mode}"
    for m in ("seedream-5-0-260128", "seedream-4-5-251128", "seedream-4-0-250828")
    for mode in ("sequence", "baseline")
]


@pytest.fixture
def space_on_emulator(emulator, data_dir: Path):
    from support.app import launch_app

    apps = []

    def start(**extra: str) -> str:
        app, url = launch_app(Settings.from_env(env={**emulator.env(), **SPACE, **extra}, data_dir=data_dir))
        apps.append(app)
        return url

    yield start
    for app in apps:
        app.close()


def test_compare_with_confirm_cannot_pass_the_visitors_session_cap(space_on_emulator, emulator) -> None:
    """confirm=True skips only the question: the caps hold on the worst case of the whole comparison,
    and a fresh client from the same address shares the visitor's session cap."""
    from gradio_client.exceptions import AppError

    url = space_on_emulator(PLAYGROUND_MAX_USD_PER_SESSION="0.10", PLAYGROUND_CONFIRM_USD="0")
    first = gradio_client.Client(url, verbose=False)
    done, _ = first.predict(prompt="a fox", frames=1, arms=ARMS[:2], size="256x256", confirm=True, api_name="/compare")
    assert [r["status"] for r in done["runs"]] == ["ok", "ok"]
    sent = len(emulator.requests_for("byteplus", "POST"))
    for arms in (ARMS, ARMS[:2]):  # over the cap alone; over it with what was spent
        fresh = gradio_client.Client(url, verbose=False)
        with pytest.raises(AppError, match="PLAYGROUND_MAX_USD_PER_SESSION"):
            fresh.predict(prompt="a fox", frames=1, arms=arms, size="256x256", confirm=True, api_name="/compare")
    with pytest.raises(AppError, match="PLAYGROUND_MAX_USD_PER_SESSION"):
        gradio_client.Client(url, verbose=False).predict(
            prompt="a fox", beats=BEATS, provider="byteplus", size="256x256", api_name="/run"
        )
    assert len(emulator.requests_for("byteplus", "POST")) == sent


def test_runs_and_comparisons_at_once_stay_within_eight_in_flight(space_on_emulator, emulator) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from playground.core.spend import MAX_RUNS_IN_FLIGHT
    from support.faults import peak_overlap

    url = space_on_emulator(PLAYGROUND_CONFIRM_USD="inf", PLAYGROUND_MAX_USD_PER_SESSION="inf")
    emulator.latency_s = 0.6

    def call_one(i: int) -> list[str]:
        c = gradio_client.Client(url, verbose=False)
        if i % 4 == 0:
            result, _ = c.predict(
                prompt="a fox", frames=1, arms=ARMS, size="256x256", confirm=True, api_name="/compare"
            )
            return [r["status"] for r in result["runs"]]
        run, _ = c.predict(prompt="a fox", frames=1, provider="byteplus", size="256x256", api_name="/run")
        return [run["status"]]

    with ThreadPoolExecutor(8) as pool:
        outputs = [s for statuses in pool.map(call_one, range(8)) for s in statuses]
    assert outputs == ["ok"] * 18, outputs
    jobs = list(emulator.jobs.values())
    assert len(jobs) == 18
    peak = peak_overlap([(job.created, job.created + job.latency) for job in jobs])
    assert 2 <= peak <= MAX_RUNS_IN_FLIGHT, f"{peak} runs at once"


@pytest.mark.parametrize("label", ["\\ud800", "a\\rb", "`[x](//e.co)`", "<b>x</b>", "a|b\\nc"])
def test_a_variant_label_is_a_label_not_markup(space_app: str, data_dir: Path, label: str) -> None:
    """Variant labels come from the caller on /compare: a lone surrogate, CR, Markdown or HTML in one
    would reach runs.csv, the answer stream and the Arena's reveal; they are refused as labels."""
    data = ["a fox", BEATS, 1, None, {"LABEL": "a fox {style}", "B": "a cat"}, None, "", True]
    answer = call(space_app, "compare", data, raw_json=json.dumps(data).replace("LABEL", label))
    assert not answer.success and "variant label" in answer.error, answer
    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    assert all(r.status == "error" for r in find_runs(pg, RunFilter(include_refused=True)))  # nothing was sent


def test_a_lone_surrogate_in_a_prompt_never_breaks_later_answers(space_app: str) -> None:
    data = ["PROMPT", ["BEAT", "two"], None, "local", "", "sequence", None, ""]
    raw = json.dumps(data).replace("PROMPT", "a fox \\ud800").replace("BEAT", "one \\udfff\\r")
    answer = call(space_app, "run", data, raw_json=raw)
    assert answer.success, answer.error
    listed = call(space_app, "runs", ["", "", "", "", "", "", True, 500, 0, ""])
    assert listed.success, listed.error
    assert listed.output[0][0]["runs"][0]["prompt"].startswith("a fox ")
    arms = ["PROMPT", ["BEAT", "two"], None, None, None, None, "", True]
    compared = call(
        space_app,
        "compare",
        arms,
        raw_json=json.dumps(arms).replace("PROMPT", "a fox \\ud800").replace("BEAT", "one \\udfff\\r"),
    )
    assert compared.success, compared.error
    assert call(space_app, "report", ["", "overall"]).success


def test_runs_reads_only_the_page_it_answers(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/runs has no queue bound (concurrency_limit None): a call with limit=1 must not turn the
    whole log into records (0.85 s of the event loop per call on a 20,000-row log, 0.01 s after)."""
    from playground.base.ids import utc_now
    from playground.base.types import RunRecord
    from playground.present import api, history
    from playground.store import codec

    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    for i in range(60):
        pg.log.append(
            RunRecord(
                run_id=f"r{i:03d}",
                created_at=utc_now(),
                provider="local",
                model="m",
                mode="sequence",
                prompt="p",
                frames_requested=1,
                frames_returned=1,
                status="ok",
                api_calls=1,
            )
        )
    made: list[str] = []

    def counted(row: dict) -> RunRecord:
        made.append(str(row.get("run_id")))
        return codec.record_from_row(row)

    for module in (api, history):
        monkeypatch.setattr(module, "record_from_row", counted)
    answer, _ = api.api_runs(pg, "", "", "", "", "", "", False, 2, 10)
    assert answer["total"] == 60 and len(answer["runs"]) == 2
    assert len(made) <= 2, f"{len(made)} rows turned into records for a page of 2"


def test_no_key_in_any_typed_answer(emulator, data_dir: Path) -> None:
    """Known fake keys for every provider; runs that fail at the provider in several ways; every
    answer of /run, /compare, /runs, /report and the errors searched for the keys."""
    from gradio_client.exceptions import AppError

    from playground.providers import provider_class
    from support.app import launch_app
    from support.faults import find_secrets

    keys = {
        provider_class(p).key_env: f"SECRET-{p}-{i}0123456789abcdef"
        for i, p in enumerate(("byteplus", "openai", "fal", "wavespeed"))
    }
    app, url = launch_app(Settings.from_env(env={**emulator.env(), **keys, **SPACE}, data_dir=data_dir))
    try:
        client = gradio_client.Client(url, verbose=False)
        answers: dict[str, str] = {}
        for fault in ("auth", "forbidden", "server", "malformed", "content", None):
            emulator.clear_faults()
            if fault:
                for provider in ("byteplus", "openai"):
                    emulator.set_fault(provider, fault, retry_after=0.01, n=1)
            for provider, size in (("byteplus", "256x256"), ("openai", "")):
                try:
                    answers[f"run {provider} {fault}"] = json.dumps(
                        client.predict(prompt="a fox", beats=BEATS, provider=provider, size=size, api_name="/run")
                    )
                except AppError as exc:
                    answers[f"run {provider} {fault}"] = str(exc)
        answers["runs"] = json.dumps(client.predict(include_refused=True, limit=500, api_name="/runs"))
        answers["report"] = json.dumps(client.predict(api_name="/report"))
        assert find_secrets(list(keys.values()), answers) == []
        assert any('"status": "error"' in a for a in answers.values())  # the faults did reach the answers
    finally:
        app.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "fields, words",
    [
        (
            dict(provider="openai", model="gpt-image-2", frames=1, mode="baseline", size="3840x2160"),
            "PLAYGROUND_MAX_USD_PER_RUN",
        ),  # the worst case (high quality), not the typical estimate
        (
            dict(provider="openai", model="gpt-image-2", frames=15, mode="chain-previous", size="1024x1024"),
            "PLAYGROUND_MAX_USD_PER_RUN",
        ),
        (dict(provider="fal", model="fal-ai/veo3", frames=1), "PLAYGROUND_ALLOWED_MODELS"),  # not listed
        (dict(provider="wavespeed", model="../../../openai/v1/images/generations", frames=1), "model id"),
    ],
)
def test_run_is_held_to_the_worst_case_and_the_listed_models(
    space_on_emulator, emulator, fields: dict, words: str
) -> None:
    from gradio_client.exceptions import AppError

    url = space_on_emulator()
    with pytest.raises(AppError, match=words):
        gradio_client.Client(url, verbose=False).predict(prompt="a fox", beats=BEATS * 7, api_name="/run", **fields)
    assert emulator.requests == []
