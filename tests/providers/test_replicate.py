"""The `replicate` adapter over HTTP against the emulator: each model's input schema, `Prefer:
wait` answered at once or polled when the wait runs out (both documented blocking shapes), the
terminal statuses (aborted included), cancel at the deadline and when the run is stopped, outputs
downloaded without the token, a short series billed per output image, and the errors."""

from __future__ import annotations

import asyncio

import pytest

from playground.base.errors import InputError, ProviderError
from playground.base.types import GenerationRequest
from playground.providers.adapters.replicate import ReplicateProvider
from support.faults import make_playground, run
from support.sdk import reference_image
from support.sinks import generate

SEEDREAM4, SEEDREAM45 = "bytedance/seedream-4", "bytedance/seedream-4.5"
NANO, KONTEXT, FLUX = "google/nano-banana", "black-forest-labs/flux-kontext-pro", "black-forest-labs/flux-1.1-pro"


def created(emulator):
    return [r for r in emulator.requests_for("replicate", "POST") if r.path.endswith("/predictions")]


# -- each model's inputs -------------------------------------------------------------------------

REF = reference_image()


@pytest.mark.parametrize(
    "model,fields,inputs",
    [
        (
            SEEDREAM4,
            dict(frames=4, size="2K"),
            {"size": "2K", "aspect_ratio": "1:1", "sequential_image_generation": "auto", "max_images": 4},
        ),
        (
            SEEDREAM4,
            dict(frames=1, size="1024x1536"),
            {"size": "custom", "width": 1024, "height": 1536, "sequential_image_generation": "disabled"},
        ),
        (
            SEEDREAM45,
            dict(frames=3, size="4K", references=(REF,)),  # the references set the shape
            {"size": "4K", "image_input": [REF.data_url()], "sequential_image_generation": "auto", "max_images": 3},
        ),
        (
            NANO,
            dict(size="1344x768", references=(REF, REF)),
            {"image_input": [REF.data_url()] * 2, "aspect_ratio": "16:9"},
        ),
        (
            NANO,
            dict(size="2K", references=(REF,)),
            {"image_input": [REF.data_url()], "aspect_ratio": "match_input_image"},
        ),
        (NANO, dict(size="2K"), {"aspect_ratio": "1:1"}),
        (
            KONTEXT,
            dict(size="1024x1024", seed=4, references=(REF,)),
            {"input_image": REF.data_url(), "aspect_ratio": "1:1", "seed": 4},
        ),
        (FLUX, dict(size="1024x768", seed=4), {"aspect_ratio": "custom", "width": 1024, "height": 768, "seed": 4}),
        (FLUX, dict(size="2048x1152"), {"aspect_ratio": "16:9"}),  # past 1440 a side: the nearest ratio
    ],
)
def test_each_model_gets_its_own_input_schema(small_frames, make_provider, make_call, sink, model, fields, inputs):
    p = make_provider("replicate")
    call = make_call(p, model=model, prompt="a fox", **fields)
    p.validate(call)
    outcome = generate(p, call, sink)
    (req,) = created(small_frames)
    assert req.path == f"/v1/models/{model}/predictions" and req.json == {"input": {"prompt": "a fox", **inputs}}
    assert req.headers["authorization"] == "Bearer <redacted>" and req.headers["prefer"] == "wait"
    assert req.headers["cancel-after"] == "1m" and req.unknown_fields == []
    assert len(sink.urls) == fields.get("frames", 1) and outcome.images_billed == fields.get("frames", 1)
    assert outcome.seed_sent == fields.get("seed")


@pytest.mark.parametrize(
    "model,fields,message",
    [
        (SEEDREAM45, dict(size="1K"), "not 1K"),
        (SEEDREAM4, dict(size="512x512"), "1024 to 4096"),
        (FLUX, dict(references=(REF,)), "takes no reference images"),
        (KONTEXT, dict(references=(REF, REF)), "at most 1 reference"),
        (SEEDREAM4, dict(frames=8, references=(REF,) * 10), "<= 15"),
    ],
)
def test_limits_are_checked_before_sending(make_provider, make_call, model, fields, message):
    p = make_provider("replicate")
    with pytest.raises(InputError, match=message):
        p.validate(make_call(p, model=model, **fields))


def test_an_unlisted_id_gets_its_family_schema_or_the_prompt_alone(make_provider, make_call):
    p = make_provider("replicate")
    assert ReplicateProvider.model("bytedance/seedream-5-lite").native_sequence
    assert "max_images" in p.inputs(make_call(p, model="bytedance/seedream-5-lite", frames=3, size="2K"))
    assert p.inputs(make_call(p, model="someone/new-image-model", size="2K", seed=3)) == {
        "prompt": "a red fox in a blue scarf"
    }
    unknown = ReplicateProvider.model("someone/new-image-model")
    assert (unknown.max_frames, unknown.max_references, unknown.native_sequence) == (1, 0, False)
    price = ReplicateProvider.price("someone/new-image-model")
    assert price.estimated and price.most_per_image("1024x1024") == 0.30  # the caps hold for any model


# -- waiting, polling, statuses ------------------------------------------------------------------


def test_a_wait_that_runs_out_is_followed_by_polls_of_urls_get(small_frames, make_provider, make_call, sink):
    small_frames.latency_s, small_frames.sync_wait_s = 0.3, 0.02
    p = make_provider("replicate")
    outcome = generate(p, make_call(p, model=NANO), sink)
    polls = small_frames.requests_for("replicate", "GET")
    assert polls and {r.path for r in polls} == {f"/v1/predictions/{outcome.request_id}"} and sink.urls


def test_a_processing_answer_with_its_output_is_final_and_one_without_is_polled(
    small_frames, make_provider, make_call, sink
):
    p = make_provider("replicate")
    small_frames.shapes = {"replicate_output_processing"}
    generate(p, make_call(p, model=NANO), sink)
    assert not small_frames.requests_for("replicate", "GET") and sink.urls  # "status may still be processing" [doc]
    small_frames.shapes, small_frames.latency_s, small_frames.sync_wait_s = {"replicate_wait_processing"}, 0.3, 0.02
    generate(p, make_call(p, model=NANO), sink)
    assert small_frames.requests_for("replicate", "GET")  # processing without output: not done


@pytest.mark.parametrize(
    "fault,params,kind,billed,words",
    [
        ("refused", {}, "content", False, "E005"),
        ("job_failed", {}, "job_failed", False, "Prediction failed"),
        ("job_ended", {"state": "cancelled"}, "job_failed", True, "canceled"),
        ("job_ended", {"state": "aborted"}, "job_failed", False, "aborted"),
    ],
)
def test_terminal_statuses(small_frames, make_provider, make_call, sink, fault, params, kind, billed, words):
    small_frames.set_fault("replicate", fault, **params)
    p = make_provider("replicate")
    with pytest.raises(ProviderError, match=words) as err:
        generate(p, make_call(p, model=FLUX), sink)
    assert err.value.kind == kind and err.value.may_be_billed == billed


def test_an_unknown_status_is_malformed_and_may_be_billed(make_provider, make_call):
    p = make_provider("replicate")
    with pytest.raises(ProviderError) as err:
        p.finished({"id": "x", "status": "paused"}, make_call(p), blocking=False)
    assert err.value.kind == "malformed" and err.value.may_be_billed


def test_the_deadline_cancels_the_prediction(small_frames, make_provider, make_call, sink):
    small_frames.sync_wait_s = 0.02
    small_frames.set_fault("replicate", "stuck")
    p = make_provider("replicate", deadline_s=0.2)
    with pytest.raises(ProviderError, match="cancel requested") as err:
        generate(p, make_call(p, model=FLUX), sink)
    assert err.value.kind == "timeout" and err.value.may_be_billed and len(small_frames.cancelled) == 1


def test_stopping_the_run_cancels_the_prediction(small_frames, data_dir):
    small_frames.sync_wait_s = 0.02
    small_frames.set_fault("replicate", "stuck")
    pg = make_playground(small_frames.env(), data_dir)

    async def go():
        request = GenerationRequest(prompt="a fox", provider="replicate", model=FLUX, mode="baseline", frames=1)
        task = asyncio.create_task(pg.run(request))
        while not small_frames.requests_for("replicate", "GET"):  # the prediction exists and is being polled
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert len(small_frames.cancelled) == 1
    assert pg.log.read().iloc[-1]["status"] == "cancelled"


def test_cancel_after_follows_the_poll_deadline(make_provider):
    assert make_provider("replicate", deadline_s=300).cancel_after() == "5m"
    assert make_provider("replicate", deadline_s=301).cancel_after() == "6m"
    assert make_provider("replicate", deadline_s=0.2).cancel_after() == "1m"


# -- through the core ----------------------------------------------------------------------------


def test_outputs_are_downloaded_without_the_token(small_frames, data_dir):
    record = run(
        make_playground(small_frames.env(), data_dir),
        provider="replicate",
        model=SEEDREAM4,
        mode="sequence",
        frames=3,
        size="1024x1024",
    ).record
    assert record.status == "ok" and record.frames_returned == 3, record.error
    downloads = small_frames.requests_for("replicate-delivery")
    assert len(downloads) == 3 and all("authorization" not in r.headers for r in downloads)


def test_a_short_series_is_partial_and_billed_per_output_image(small_frames, data_dir):
    small_frames.set_fault("replicate", "fewer", n=2)
    record = run(
        make_playground(small_frames.env(), data_dir),
        provider="replicate",
        model=SEEDREAM45,
        mode="sequence",
        frames=4,
        size="2K",
    ).record
    assert record.status == "partial" and record.frames_returned == 2 and record.images_billed == 2
    assert record.cost_usd == pytest.approx(2 * 0.04) and record.max_cost_usd == pytest.approx(4 * 0.045)
    assert "returned 2 of 4" in record.frame_errors[3]


def test_a_lost_output_is_a_failed_frame_still_billed(small_frames, data_dir):
    small_frames.set_fault("replicate", "lost_frame", index=1)
    record = run(
        make_playground(small_frames.env(), data_dir),
        provider="replicate",
        model=SEEDREAM4,
        mode="sequence",
        frames=3,
        size="1024x1024",
    ).record
    assert record.status == "partial" and record.frames_returned == 2 and record.images_billed == 3


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault,kind", [("auth", "auth"), ("quota", "quota"), ("invalid", "invalid"), ("server", "server")]
)
def test_problem_details_errors(small_frames, make_provider, make_call, sink, fault, kind):
    small_frames.set_fault("replicate", fault)
    p = make_provider("replicate")
    with pytest.raises(ProviderError) as err:
        generate(p, make_call(p, model=FLUX), sink)
    assert err.value.kind == kind and err.value.may_be_billed == (fault == "server")
    if kind == "auth":
        assert "REPLICATE_API_TOKEN" in str(err.value) and "Unauthenticated" in str(err.value)


def test_an_unknown_model_is_a_clear_not_found(small_frames, make_provider, make_call, sink):
    p = make_provider("replicate")
    with pytest.raises(ProviderError, match="HTTP 404, Not found") as err:
        generate(p, make_call(p, model="someone/nothing-here"), sink)
    assert err.value.kind == "invalid"


def test_a_typed_id_runs_on_a_space_only_where_the_owner_allows_it(small_frames, data_dir):
    space = {**small_frames.env(), "SPACE_ID": "someone/playground"}
    with pytest.raises(InputError, match="PLAYGROUND_ALLOWED_MODELS"):
        run(
            make_playground(space, data_dir),
            provider="replicate",
            model="bytedance/seedream-5-lite",
            mode="sequence",
            frames=2,
            size="2K",
        )
    allowed = make_playground(space, data_dir, PLAYGROUND_ALLOWED_MODELS="replicate:bytedance/seedream-5-lite")
    record = run(
        allowed, provider="replicate", model="bytedance/seedream-5-lite", mode="sequence", frames=2, size="2K"
    ).record
    # sent (the emulator does not serve that model: a clear not-found row), priced as an estimate
    assert record.status == "error" and "HTTP 404" in record.error and "estimate" in record.price_source
    assert len(created(small_frames)) == 1
