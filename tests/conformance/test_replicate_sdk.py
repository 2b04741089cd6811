"""Replicate's official `replicate` client against the emulator over real HTTP: run() with
`Prefer: wait` (answered at once, or polled when the wait runs out), predictions create / get /
reload / wait / cancel, each model's inputs (Seedream's max_images, sequential generation and
image_input, nano-banana's image_input, Kontext's input_image), references as data URIs (the
client's base64 file encoding), failed predictions, the answer shapes, the problem-details
errors and the client's retries; then the adapter's requests and the client's for the same run
(create, polls, cancel), compared field by field.

Pointing it here: `replicate.Client(api_token=..., base_url="http://HOST:PORT/replicate")` takes
plain http as it is (no adaptation); REPLICATE_POLL_INTERVAL (read when a client is made) is
set low so polling tests are quick, and REPLICATE_API_TOKEN / REPLICATE_BASE_URL are cleared."""

from __future__ import annotations

import base64
import io
import re

import httpx
import pydantic.v1 as pydantic_v1
import pytest

from support.sdk import body_differences, fetched_image, png_bytes, reference_image, sdk
from support.sinks import generate

replicate = sdk("replicate")
from replicate.exceptions import ModelError, ReplicateError  # noqa: E402  (after the skip)

SEEDREAM, NANO, KONTEXT, FLUX = (
    "bytedance/seedream-4",
    "google/nano-banana",
    "black-forest-labs/flux-kontext-pro",
    "black-forest-labs/flux-1.1-pro",
)
TOKEN = "r8_sdk-token-0123456789"
SERIES = {
    "prompt": "Generate a series of 3 images: a fox's day",
    "size": "custom",
    "width": 1024,
    "height": 1024,
    "sequential_image_generation": "auto",
    "max_images": 3,
}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, emulator):
    for name in ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
    emulator.image_size = (64, 48)


def client(emulator, token: str = TOKEN) -> replicate.Client:
    return replicate.Client(api_token=token, base_url=f"{emulator.url}/replicate")


def creates(emulator):
    return [r for r in emulator.requests_for("replicate", "POST") if r.path.endswith("/predictions")]


# -- the calls -------------------------------------------------------------------------------


def test_run_answers_a_seedream_series_in_the_wait(emulator):
    ref = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    out = client(emulator).run(SEEDREAM, input={**SERIES, "image_input": [ref]})
    assert isinstance(out, list) and len(out) == 3 and all(isinstance(u, str) for u in out)  # http: plain str [sdk]
    assert all(fetched_image(u).size == (64, 48) for u in out)
    (create,) = emulator.requests_for("replicate")
    assert (create.method, create.path) == ("POST", f"/v1/models/{SEEDREAM}/predictions")
    assert create.headers["prefer"] == "wait" and create.headers["authorization"] == "Bearer <redacted>"
    assert create.json == {"input": {**SERIES, "image_input": [ref]}}


def test_run_polls_when_the_wait_runs_out(emulator):
    emulator.latency_s, emulator.sync_wait_s = 0.3, 0.02
    out = client(emulator).run(NANO, input={"prompt": "a fox", "aspect_ratio": "16:9"})
    assert isinstance(out, str) and fetched_image(out).size == (64, 48)
    paths = {r.path for r in emulator.requests_for("replicate", "GET")}
    assert len(paths) == 1 and re.fullmatch(r"/v1/predictions/rep-\w+", paths.pop())  # the client polls by id [sdk]


def test_a_prediction_parses_into_the_sdk_type_and_reloads_until_done(emulator):
    emulator.latency_s, emulator.sync_wait_s = 0.3, 0.02
    held = client(emulator)
    prediction = held.models.predictions.create(
        model=KONTEXT, input={"prompt": "a fox", "seed": 3, "input_image": reference_image().data_url()}, wait=1
    )
    assert isinstance(prediction, replicate.prediction.Prediction)
    assert prediction.status == "starting" and prediction.output is None and prediction.model == KONTEXT
    assert set(prediction.urls) >= {"get", "cancel"} and prediction.created_at
    assert creates(emulator)[0].headers["prefer"] == "wait=1"
    prediction.wait()
    assert prediction.status == "succeeded" and isinstance(prediction.output, str) and prediction.completed_at
    again = held.predictions.get(prediction.id)
    assert again.status == "succeeded" and again.output == prediction.output and again.metrics["predict_time"] >= 0


def test_cancel_answers_the_canceled_prediction(emulator):
    emulator.set_fault("replicate", "stuck")
    held = client(emulator)
    prediction = held.models.predictions.create(model=FLUX, input={"prompt": "a fox"}, wait=1)
    canceled = held.predictions.cancel(prediction.id)
    assert canceled.status == "canceled" and emulator.cancelled == [prediction.id]
    assert emulator.requests_for("replicate", "POST")[-1].path == f"/v1/predictions/{prediction.id}/cancel"


def test_the_base64_file_encoding_sends_a_data_uri_as_the_adapter_does(emulator):
    ref = reference_image()
    image = io.BytesIO(ref.data)
    image.name = "frame-1.png"
    client(emulator).run(NANO, input={"prompt": "a fox", "image_input": [image]}, file_encoding_strategy="base64")
    assert creates(emulator)[0].json["input"]["image_input"] == [ref.data_url()]


def test_a_flagged_prediction_fails_with_e005(emulator):
    emulator.set_fault("replicate", "refused")
    with pytest.raises(ModelError, match="E005") as err:
        client(emulator).run(SEEDREAM, input=SERIES)
    assert err.value.prediction.status == "failed" and "sensitive" in err.value.prediction.error


def test_the_client_cannot_parse_an_aborted_prediction(emulator):
    """`aborted` is documented [doc lifecycle] but not in the 1.0.7 client's status type: the
    adapter reads it (tests/providers/test_replicate.py), the client raises."""
    emulator.set_fault("replicate", "job_ended", state="aborted")
    held = client(emulator)
    answer = httpx.post(
        f"{emulator.url}/replicate/v1/models/{FLUX}/predictions",
        json={"input": {"prompt": "x"}},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 201
    emulator.jobs[answer.json()["id"]].created -= 10  # its deadline has passed
    with pytest.raises(pydantic_v1.ValidationError, match="status"):
        held.predictions.get(answer.json()["id"])


@pytest.mark.parametrize(
    "shape,status", [("replicate_output_processing", "processing"), ("replicate_wait_processing", "processing")]
)
def test_each_blocking_answer_shape_parses(emulator, shape, status):
    emulator.shapes = {shape}
    if shape == "replicate_wait_processing":
        emulator.latency_s, emulator.sync_wait_s = 5.0, 0.02
    prediction = client(emulator).models.predictions.create(model=NANO, input={"prompt": "a fox"}, wait=True)
    assert prediction.status == status
    assert (prediction.output is not None) == (shape == "replicate_output_processing")


# -- errors and retries ------------------------------------------------------------------------


def test_a_rejected_token_is_a_problem_details_401(emulator):
    with pytest.raises(ReplicateError) as err:
        client(emulator, token="invalid-token").run(FLUX, input={"prompt": "a fox"})
    assert err.value.status == 401 and err.value.title == "Unauthenticated" and err.value.detail


def test_an_input_out_of_range_is_a_422(emulator):
    with pytest.raises(ReplicateError) as err:
        client(emulator).run(SEEDREAM, input={**SERIES, "max_images": 16})
    assert err.value.status == 422 and "max_images" in err.value.detail


def test_an_unknown_model_is_a_404(emulator):
    with pytest.raises(ReplicateError) as err:
        client(emulator).run("someone/something", input={"prompt": "a fox"})
    assert err.value.status == 404


def test_the_client_never_resends_a_create_but_retries_a_poll(emulator):
    emulator.set_fault("replicate", "rate_limit", count=1, retry_after=0.01)
    with pytest.raises(ReplicateError) as err:
        client(emulator).run(FLUX, input={"prompt": "a fox"})
    assert err.value.status == 429 and "throttled" in err.value.detail and len(creates(emulator)) == 1
    emulator.latency_s, emulator.sync_wait_s = 0.2, 0.02
    emulator.set_fault("replicate", "rate_limit", count=2, on="poll", retry_after=0.01)
    assert client(emulator).run(FLUX, input={"prompt": "a fox"})
    assert len(emulator.requests_for("replicate", "GET")) >= 3  # two 429s, then the polls that succeed


# -- the same run, from the adapter and from the client -----------------------------------------

# Each remaining difference, with its reason (docs/providers.md): the adapter's `Cancel-After`
# (so a prediction it could not cancel still ends; the client sends none) and the user-agent.
KNOWN_HEADER_DIFFERENCES = {"user-agent", "cancel-after"}


def adapter_run(make_provider, make_call, sink, *, call_fields, **options):
    provider = make_provider("replicate", **options)
    return generate(provider, make_call(provider, **call_fields), sink)


def test_the_adapter_sends_what_the_client_sends(emulator, make_provider, make_call, sink):
    emulator.latency_s, emulator.sync_wait_s = 0.3, 0.02  # both poll
    ref = reference_image()
    outcome = adapter_run(
        make_provider,
        make_call,
        sink,
        call_fields=dict(model=SEEDREAM, prompt=SERIES["prompt"], frames=3, size="1024x1024", references=(ref,)),
    )
    ours = emulator.requests_for("replicate")
    emulator.requests.clear()
    out = client(emulator).run(SEEDREAM, input={**SERIES, "image_input": [ref.data_url()]})
    theirs = emulator.requests_for("replicate")
    assert (
        (ours[0].method, ours[0].path)
        == (theirs[0].method, theirs[0].path)
        == ("POST", f"/v1/models/{SEEDREAM}/predictions")
    )
    assert ours[0].headers["authorization"] == theirs[0].headers["authorization"] == "Bearer <redacted>"
    assert ours[0].headers["prefer"] == theirs[0].headers["prefer"] == "wait"
    assert ours[0].content_type == theirs[0].content_type == "application/json"
    assert body_differences(ours[0].json, theirs[0].json) == {}
    assert ours[0].headers["cancel-after"] == "1m"
    differing = {
        h
        for h in set(ours[0].headers) | set(theirs[0].headers)
        if h not in ("content-length", "host") and ours[0].headers.get(h) != theirs[0].headers.get(h)
    }
    assert differing == KNOWN_HEADER_DIFFERENCES

    def polls(requests, pred_id):
        return {(r.method, r.path.replace(pred_id, "ID"), r.headers["authorization"]) for r in requests[1:]}

    their_id = theirs[1].path.rsplit("/", 1)[1]
    assert (
        polls(ours, outcome.request_id)
        == polls(theirs, their_id)
        == {("GET", "/v1/predictions/ID", "Bearer <redacted>")}
    )
    assert len(sink.urls) == len(out) == 3


def test_the_adapter_cancels_where_the_client_cancels(emulator, make_provider, make_call, sink):
    emulator.sync_wait_s = 0.02
    emulator.set_fault("replicate", "stuck")
    with pytest.raises(Exception, match="cancel requested"):
        adapter_run(make_provider, make_call, sink, call_fields=dict(model=FLUX, prompt="a fox"), deadline_s=0.2)
    held = client(emulator)
    prediction = held.models.predictions.create(model=FLUX, input={"prompt": "a fox"}, wait=1)
    held.predictions.cancel(prediction.id)
    cancels = [r for r in emulator.requests_for("replicate", "POST") if r.path.endswith("/cancel")]
    assert [re.sub(r"rep-\w+", "ID", r.path) for r in cancels] == ["/v1/predictions/ID/cancel"] * 2
    assert all(r.headers["authorization"] == "Bearer <redacted>" and r.body_size == 0 for r in cancels)
    assert len(emulator.cancelled) == 2
