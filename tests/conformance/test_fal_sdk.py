"""The official `fal-client` SDK against the emulator, over real HTTP on 127.0.0.1.

Adaptation: fal-client builds its queue URLs from `fal_client.client.QUEUE_URL_FORMAT`, made
at import from `FAL_QUEUE_RUN_HOST` and always behind `https://` [sdk fal-client 1.0.3
fal_client/client.py, fal_client/auth.py]. The tests set that module attribute to the
emulator's plain-http `FAL_QUEUE_URL` + "/" (monkeypatch, undone after each test); nothing
else is changed. The job's phase is set by moving its start time (`Job.created`), so each
state is seen on purpose, not by racing the clock.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from support.sdk import sdk

APP = "fal-ai/flux-pro/v1.1"
ARGS = {"prompt": "a red fox in a blue scarf", "num_images": 1, "image_size": {"width": 512, "height": 384}, "seed": 5}


@pytest.fixture
def fal(emulator, monkeypatch):
    fal_client = sdk("fal_client")
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", emulator.base_urls()["FAL_QUEUE_URL"] + "/")
    emulator.latency_s = 60.0  # jobs stay queued until a test moves them on
    return fal_client


@pytest.fixture
def client(fal, emulator):
    return fal.SyncClient(key=emulator.env()["FAL_KEY"])


def move(emulator, request_id: str, phase: str) -> None:
    """Put the job in `phase` (queued / processing / done) by moving its start time back."""
    job = emulator.jobs[request_id]
    job.created = time.monotonic() - {"queued": 0.0, "processing": 0.5, "done": 1.0}[phase] * job.latency


def test_submit_status_result_parse_into_the_sdk_types(fal, client, emulator):
    handle = client.submit(APP, ARGS)
    assert isinstance(handle, fal.SyncRequestHandle) and handle.request_id in emulator.jobs
    queued = handle.status(with_logs=True)
    assert isinstance(queued, fal.Queued) and queued.position == 0
    move(emulator, handle.request_id, "processing")
    running = handle.status(with_logs=True)
    assert (
        isinstance(running, fal.InProgress)
        and running.logs
        and all({"message", "level", "timestamp"} <= set(line) for line in running.logs)
    )
    move(emulator, handle.request_id, "done")
    done = handle.status(with_logs=True)
    assert isinstance(done, fal.Completed) and done.error is None and done.error_type is None
    assert done.metrics["inference_time"] == pytest.approx(60.0) and done.logs[-1]["message"] == "done"
    result = handle.get()
    image = result["images"][0]
    assert (image["width"], image["height"]) == (512, 384) and result["seed"] == 5
    assert result["has_nsfw_concepts"] == [False] and httpx.get(image["url"]).status_code == 200


def test_logs_come_only_when_asked(fal, client, emulator):
    handle = client.submit(APP, ARGS)
    move(emulator, handle.request_id, "processing")
    assert handle.status(with_logs=False).logs is None
    queries = [r.query for r in emulator.requests_for("fal", "GET")]
    assert queries == [{"logs": ["false"]}]  # the SDK always says which
    assert client.status(APP, handle.request_id, with_logs=True).logs  # by id: the URL the SDK builds itself


def test_a_cancelled_request_is_completed_with_client_cancelled(fal, client, emulator):
    handle = client.submit(APP, ARGS)
    handle.cancel()  # 202 CANCELLATION_REQUESTED: no exception
    assert emulator.cancelled == [handle.request_id]
    state = handle.status()
    assert isinstance(state, fal.Completed) and state.error_type == "client_cancelled" and state.error
    with pytest.raises(fal.client.FalClientHTTPError) as err:
        handle.get()
    assert err.value.status_code == 499 and err.value.error_type == "client_cancelled"


def test_a_cancel_after_completion_is_refused(fal, client, emulator):
    handle = client.submit(APP, ARGS)
    move(emulator, handle.request_id, "done")
    with pytest.raises(fal.client.FalClientHTTPError) as err:
        handle.cancel()
    assert err.value.status_code == 400 and err.value.response.json() == {"status": "ALREADY_COMPLETED"}


@pytest.mark.parametrize("shapes", [set(), {"fal_error_type_header_only"}])
def test_a_failed_request_names_its_error_type_in_the_body_or_the_header(fal, client, emulator, shapes):
    emulator.shapes = shapes
    emulator.set_fault("fal", "job_failed")
    handle = client.submit(APP, ARGS)
    move(emulator, handle.request_id, "done")
    state = handle.status()
    assert isinstance(state, fal.Completed) and state.error and state.error_type == "runner_server_error"
    with pytest.raises(fal.client.FalClientHTTPError) as err:
        handle.get()
    body = err.value.response.json()
    assert err.value.status_code == 500 and err.value.error_type == "runner_server_error"
    assert err.value.message == body["detail"] and ("error_type" in body) == (not shapes)
    assert err.value.response.headers["x-fal-error-type"] == "runner_server_error"


def test_a_validation_error_carries_the_detail_list(fal, client):
    with pytest.raises(fal.client.FalClientHTTPError) as err:
        client.submit(APP, {**ARGS, "image_size": "nonsense"})
    assert err.value.status_code == 422 and err.value.error_type is None
    assert err.value.message[0]["loc"] == ["body", "image_size"] and err.value.message[0]["msg"]


def test_a_rejected_key_is_401_with_a_detail(fal, emulator):
    client = fal.SyncClient(key="invalid-fal-key-0000")
    with pytest.raises(fal.client.FalClientHTTPError) as err:
        client.submit(APP, ARGS)
    assert err.value.status_code == 401 and isinstance(err.value.message, str)


def test_the_sdk_resubmits_after_a_429_as_the_adapter_does(fal, client, emulator):
    emulator.set_fault("fal", "rate_limit", count=1, retry_after=None)
    handle = client.submit(APP, ARGS)
    assert len(emulator.requests_for("fal", "POST")) == 2 and handle.request_id in emulator.jobs


def test_subscribe_reports_queue_updates_then_the_result(fal, client, emulator):
    emulator.latency_s = 0.2
    updates = []
    result = client.subscribe(APP, ARGS, with_logs=True, interval=0.02, on_queue_update=updates.append)
    assert updates and all(isinstance(u, (fal.Queued, fal.InProgress, fal.Completed)) for u in updates)
    assert isinstance(updates[-1], fal.Completed) and result["images"][0]["width"] == 512


def test_the_async_client_speaks_the_same_queue(fal, emulator):
    async def go():
        client = fal.AsyncClient(key=emulator.env()["FAL_KEY"])
        handle = await client.submit(APP, ARGS)
        first = await handle.status(with_logs=True)
        move(emulator, handle.request_id, "done")
        return first, await handle.status(), await handle.get()

    first, last, result = asyncio.run(go())
    assert isinstance(first, fal.Queued) and isinstance(last, fal.Completed) and result["images"]


# -- answer shapes -------------------------------------------------------------------------------


def test_a_legacy_app_completes_without_metrics(fal, client, emulator):
    emulator.shapes = {"fal_legacy_completed"}
    handle = client.submit(APP, ARGS)
    move(emulator, handle.request_id, "done")
    state = handle.status()
    assert isinstance(state, fal.Completed) and state.metrics == {}  # "legacy apps might not return metrics"


def test_a_sync_mode_result_carries_data_uris(fal, client, emulator):
    emulator.shapes = {"fal_sync_data_uri"}
    handle = client.submit(APP, ARGS)
    move(emulator, handle.request_id, "done")
    image = handle.get()["images"][0]
    assert image["url"].startswith("data:image/png;base64,") and image["width"] == 512


# -- the same run, from the adapter and from the SDK ---------------------------------------------


def adapter_run(make_provider, make_call, sink, **provider_options):
    provider = make_provider("fal", **provider_options)

    async def go():
        async with httpx.AsyncClient(timeout=10) as http:
            return await provider.generate(
                make_call(provider, prompt=ARGS["prompt"], size="512x384", seed=5), http, sink
            )

    return asyncio.run(go())


def test_the_adapter_sends_what_the_sdk_sends_for_one_image(fal, client, emulator, make_provider, make_call, sink):
    emulator.latency_s = 0.0
    outcome = adapter_run(make_provider, make_call, sink)
    ours = emulator.requests_for("fal")
    emulator.requests.clear()
    handle = client.submit(APP, ARGS)
    handle.get()  # polls the status until COMPLETED, then fetches the result
    theirs = emulator.requests_for("fal")
    # POST submit: path, auth, body
    assert (ours[0].method, ours[0].path) == (theirs[0].method, theirs[0].path) == ("POST", f"/{APP}")
    assert ours[0].headers["authorization"] == theirs[0].headers["authorization"] == "Key <redacted>"
    assert ours[0].content_type == theirs[0].content_type == "application/json" and ours[0].json == theirs[0].json

    # then status polls with logs=false on the returned status_url, and one GET of response_url
    def polls(requests, request_id):
        return [(r.method, r.path.replace(request_id, "ID"), r.query) for r in requests[1:]]

    status = ("GET", "/fal-ai/flux-pro/requests/ID/status", {"logs": ["false"]})
    assert polls(ours, outcome.request_id) == [status, ("GET", "/fal-ai/flux-pro/requests/ID", {})]
    assert polls(theirs, handle.request_id) == [status, ("GET", "/fal-ai/flux-pro/requests/ID", {})]
    assert ours[0].headers["user-agent"].startswith("python-httpx/")  # the one header that differs
    assert theirs[0].headers["user-agent"] == "fal-client/1.0.3 (python)"
    assert set(theirs[0].headers) == set(ours[0].headers)


def test_the_adapter_cancels_where_the_sdk_cancels(fal, client, emulator, make_provider, make_call, sink):
    emulator.set_fault("fal", "stuck")
    with pytest.raises(Exception, match="cancel requested"):
        adapter_run(make_provider, make_call, sink, deadline_s=0.2)
    ours = emulator.requests_for("fal", "PUT")
    handle = client.submit(APP, ARGS)
    handle.cancel()
    theirs = emulator.requests_for("fal", "PUT")[1:]
    assert [r.path.rsplit("/", 2)[0] + "/ID/cancel" for r in ours + theirs] == [
        "/fal-ai/flux-pro/requests/ID/cancel"
    ] * 2
    assert all(r.headers["authorization"] == "Key <redacted>" and not r.json for r in ours + theirs)
    assert len(emulator.cancelled) == 2


# -- Seedream 4 / 4.5 (issue 15) -----------------------------------------------------------------

SEEDREAM_EDIT = "fal-ai/bytedance/seedream/v4.5/edit"


def test_a_seedream_series_parses_with_the_documented_result(fal, client, emulator):
    emulator.latency_s = 0.0
    emulator.image_size = (64, 48)
    result = client.subscribe(
        "fal-ai/bytedance/seedream/v4/text-to-image",
        {
            "prompt": "Generate a series of 3 images: a fox's day",
            "num_images": 1,
            "max_images": 3,
            "image_size": {"width": 2048, "height": 2048},
            "seed": 4,
        },
        interval=0.02,
    )
    assert [set(image) >= {"url", "width", "height"} for image in result["images"]] == [True] * 3
    assert result["seed"] == 4 and "has_nsfw_concepts" not in result  # {"images", "seed"} [doc]
    assert all(httpx.get(image["url"]).status_code == 200 for image in result["images"])


def test_a_seedream_edit_takes_data_uris_and_refuses_a_missing_reference(fal, client, emulator):
    from support.sdk import reference_image

    emulator.latency_s = 0.0
    handle = client.submit(
        SEEDREAM_EDIT,
        {
            "prompt": "the same fox",
            "image_urls": [reference_image().data_url()],
            "num_images": 1,
            "max_images": 2,
            "image_size": "auto_2K",
        },
    )
    assert len(handle.get()["images"]) == 2
    with pytest.raises(fal.client.FalClientHTTPError) as err:
        client.submit(SEEDREAM_EDIT, {"prompt": "the same fox"})
    assert err.value.status_code == 422 and err.value.message[0]["loc"] == ["body", "image_urls"]


def test_the_adapter_sends_what_the_sdk_sends_for_a_seedream_edit(
    fal, client, emulator, make_provider, make_call, sink
):
    from support.sdk import reference_image

    emulator.latency_s = 0.0
    ref = reference_image()
    provider = make_provider("fal")
    call = make_call(
        provider,
        model="fal-ai/bytedance/seedream/v4.5/text-to-image",
        prompt="a fox's day",
        frames=3,
        size="2560x1440",
        seed=5,
        references=(ref,),
    )

    async def go():
        async with httpx.AsyncClient(timeout=10) as http:
            return await provider.generate(call, http, sink)

    asyncio.run(go())
    ours = emulator.requests_for("fal", "POST")[-1]
    client.submit(
        SEEDREAM_EDIT,
        {
            "prompt": "a fox's day",
            "num_images": 1,
            "max_images": 3,
            "seed": 5,
            "image_size": {"width": 2560, "height": 1440},
            "image_urls": [ref.data_url()],
        },
    )
    theirs = emulator.requests_for("fal", "POST")[-1]
    assert (ours.path, ours.json) == (theirs.path, theirs.json) and ours.path == f"/{SEEDREAM_EDIT}"
    assert ours.headers["authorization"] == theirs.headers["authorization"] == "Key <redacted>"
