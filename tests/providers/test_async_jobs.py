"""EvoLink, WaveSpeed and AtlasCloud (async jobs) contract tests against the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import io

import httpx
import pytest
from PIL import Image

from playground.base.errors import InputError, ProviderError
from playground.base.types import CallOutcome, ReferenceImage

ASYNC = ("evolink", "wavespeed", "atlascloud")
EDIT_MODEL = {
    "wavespeed": "bytedance/seedream-v4.5/edit-sequential",
    "atlascloud": "bytedance/seedream-v4.5/edit-sequential",
}
KEY_ENV = {"evolink": "EVOLINK_API_KEY", "wavespeed": "WAVESPEED_API_KEY", "atlascloud": "ATLASCLOUD_API_KEY"}


def run(coro):
    return asyncio.run(coro)


def reference() -> ReferenceImage:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (0, 120, 200)).save(buf, format="PNG")
    data = buf.getvalue()
    return ReferenceImage(data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=24, height=24)


async def generate(provider, call, sink, timeout=10.0):
    async with httpx.AsyncClient(timeout=timeout) as client:
        outcome = await provider.generate(call, client, sink)
        images = await sink.download(client)
    return outcome, images


# -- contracts -------------------------------------------------------------------------------


def test_evolink_contract(emulator, make_provider, make_call, sink):
    p = make_provider("evolink")
    outcome, images = run(generate(p, make_call(p, frames=4, size="288x224", references=(reference(),)), sink))
    create = emulator.requests_for("evolink", "POST")[-1]
    assert create.path == "/images/generations" and create.headers["authorization"] == "Bearer <redacted>"
    assert create.json.keys() == {"model", "prompt", "n", "size", "image_urls"}
    assert (
        create.json["n"] == 4
        and create.json["size"] == "288x224"
        and create.json["model"] == "doubao-seedream-5.0-lite"
    )
    assert create.json["image_urls"][0].startswith("data:image/png;base64,")
    polls = emulator.requests_for("evolink", "GET")
    assert polls and all(r.path == f"/tasks/{outcome.request_id}" for r in polls)
    assert sorted(images) == [0, 1, 2, 3] and all(im.size == (288, 224) for im in images.values())
    assert outcome.images_billed == 4


def test_evolink_k_size_goes_as_ratio_and_quality(emulator, make_provider, make_call, sink):
    emulator.image_size = (64, 64)
    p = make_provider("evolink")
    run(generate(p, make_call(p, frames=2, size="2K"), sink))
    body = emulator.requests_for("evolink", "POST")[-1].json
    assert body["size"] == "1:1" and body["quality"] == "2K" and "image_urls" not in body


@pytest.mark.parametrize("bare", [False, True])
@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_prediction_contract(emulator, make_provider, make_call, sink, name, bare):
    emulator.shapes = {"bare_prediction"} if bare else set()  # with and without the `data` envelope [doc]
    p = make_provider(name)
    outcome, images = run(generate(p, make_call(p, frames=3, size="320x192"), sink))
    create = emulator.requests_for(name, "POST")[-1]
    expected = {"prompt", "size", "max_images"} | ({"model"} if name == "atlascloud" else set())
    assert set(create.json) == expected
    assert create.json["size"] == "320*192" and create.json["max_images"] == 3
    if name == "wavespeed":
        assert create.path == "/bytedance/seedream-v5.0-lite/sequential"
        assert all(r.path == f"/predictions/{outcome.request_id}/result" for r in emulator.requests_for(name, "GET"))
    else:
        assert create.path == "/model/generateImage" and create.json["model"] == "bytedance/seedream-v4.5/sequential"
        assert all(r.path == f"/model/prediction/{outcome.request_id}" for r in emulator.requests_for(name, "GET"))
    assert sorted(images) == [0, 1, 2] and images[0].size == (320, 192)
    assert outcome.images_billed == 3 and outcome.seed_sent is None


def test_wavespeed_uploads_references_then_sends_their_urls(emulator, make_provider, make_call, sink):
    """The current upload flow [sdk wavespeed 2.0.5]: a JSON ticket, then the bytes PUT to the
    storage URL it gives with only its headers (no API key), then download_url as the input."""
    p = make_provider("wavespeed")
    ref = reference()
    call = make_call(p, model=EDIT_MODEL["wavespeed"], frames=2, references=(ref, ref))
    outcome, images = run(generate(p, call, sink))
    posts = emulator.requests_for("wavespeed", "POST")
    assert [r.path for r in posts] == ["/media/uploads", "/media/uploads", "/bytedance/seedream-v4.5/edit-sequential"]
    assert posts[0].json == {"filename": "reference_1.png", "size": len(ref.data), "content_type": "image/png"}
    puts = emulator.requests_for("storage", "PUT")
    assert len(puts) == 2 and all("authorization" not in r.headers for r in puts)
    assert puts[0].content_type == "image/png" and puts[0].body_size == len(ref.data)
    urls = posts[-1].json["images"]
    assert len(urls) == 2 and all(u.startswith(emulator.url + "/files/upload/") for u in urls)
    assert httpx.get(urls[0]).content == ref.data  # the bytes PUT, served at download_url
    assert outcome.sent_fields["images"] == urls and len(images) == 2


@pytest.mark.parametrize(
    "served,expected",
    [
        ("/media/upload/binary", ["/media/uploads", "/media/upload/binary", "/media/upload/binary"]),
        ("/upload", ["/media/uploads", "/media/upload/binary", "/upload", "/upload"]),
    ],
)
def test_wavespeed_upload_falls_back_to_the_older_documented_paths(
    emulator, make_provider, make_call, sink, served, expected
):
    """A host without the ticket flow: the older multipart paths [sdk wavespeed 1.0.10, doc], each
    tried after a 404, the one that worked kept for the other reference."""
    emulator.wavespeed_upload_path = served
    p = make_provider("wavespeed")
    ref = reference()
    outcome, images = run(
        generate(p, make_call(p, model=EDIT_MODEL["wavespeed"], frames=2, references=(ref, ref)), sink)
    )
    posts = emulator.requests_for("wavespeed", "POST")
    assert [r.path for r in posts] == [*expected, "/bytedance/seedream-v4.5/edit-sequential"]
    assert posts[-2].files["file"]["size"] == len(ref.data) and posts[-2].content_type.startswith("multipart/")
    urls = posts[-1].json["images"]
    assert len(urls) == 2 and httpx.get(urls[1]).content == ref.data and len(images) == 2
    assert not emulator.requests_for("storage")


def test_wavespeed_upload_error_in_the_body_is_reported(emulator, make_provider, make_call, sink):
    emulator.set_fault("wavespeed", "body_error", on="upload", code=400, message="unsupported file type")
    p = make_provider("wavespeed")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, model=EDIT_MODEL["wavespeed"], references=(reference(),)), sink))
    assert err.value.kind == "invalid" and "unsupported file type" in str(err.value)
    assert [r.path for r in emulator.requests_for("wavespeed", "POST")] == ["/media/uploads"]  # nothing submitted


@pytest.mark.parametrize("stage", ["upload", "storage"])
def test_wavespeed_upload_is_retried_but_submit_is_not(emulator, make_provider, make_call, sink, stage):
    emulator.set_fault(stage if stage == "storage" else "wavespeed", "server", count=1, on=stage)
    p = make_provider("wavespeed")
    run(generate(p, make_call(p, model=EDIT_MODEL["wavespeed"], references=(reference(),)), sink))
    paths = [r.path for r in emulator.requests_for("wavespeed", "POST")]
    assert paths.count("/media/uploads") == (2 if stage == "upload" else 1)
    assert len(emulator.requests_for("storage", "PUT")) == (1 if stage == "upload" else 2)
    assert paths.count("/bytedance/seedream-v4.5/edit-sequential") == 1


def test_wavespeed_storage_refusal_is_reported(emulator, make_provider, make_call, sink):
    """The storage host refuses the bytes (a ticket whose signed type does not match): a clear
    error, nothing submitted."""
    p = make_provider("wavespeed")
    ref = reference()
    ref = ReferenceImage(data=ref.data, mime="image/webp", sha256=ref.sha256, width=24, height=24)
    emulator.set_fault("storage", "forbidden", count=1, on="storage")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, model=EDIT_MODEL["wavespeed"], references=(ref,)), sink))
    assert err.value.kind == "invalid" and "upload URL failed (HTTP 403)" in str(err.value)
    assert "WAVESPEED_API_KEY" not in str(err.value)  # a storage refusal is not a key problem
    assert [r.path for r in emulator.requests_for("wavespeed", "POST")] == ["/media/uploads"]


def test_wavespeed_ticket_asking_for_authorization_is_refused(make_provider, make_call, sink):
    """A ticket whose headers name Authorization would make us hand our key to a storage host."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST", "nothing may be PUT"
        return httpx.Response(
            200,
            json={
                "code": 200,
                "message": "success",
                "data": {
                    "upload": {
                        "method": "PUT",
                        "url": "https://storage.example/x",
                        "headers": {"Authorization": "Bearer x"},
                    },
                    "download_url": "https://cdn.example/x.png",
                },
            },
        )

    async def go():
        p = make_provider("wavespeed")
        p.base_url = "https://wavespeed.test/api/v3"
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await p.generate(
                make_call(p, model=EDIT_MODEL["wavespeed"], references=(reference(),)), client, sink
            )

    with pytest.raises(ProviderError) as err:
        run(go())
    assert err.value.kind == "malformed" and "Authorization" in str(err.value)


def test_atlascloud_edit_sequential_sends_data_urls(emulator, make_provider, make_call, sink):
    p = make_provider("atlascloud")
    call = make_call(p, model=EDIT_MODEL["atlascloud"], frames=2, references=(reference(), reference()))
    run(generate(p, call, sink))
    body = emulator.requests_for("atlascloud", "POST")[-1].json
    assert len(body["images"]) == 2 and body["images"][0].startswith("data:image/png;base64,")


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_reference_rules(make_provider, make_call, name):
    p = make_provider(name)
    with pytest.raises(InputError, match="reference"):
        p.validate(make_call(p, model=EDIT_MODEL[name], frames=2))
    with pytest.raises(InputError, match="edit-sequential"):
        p.validate(make_call(p, frames=2, references=(reference(),)))
    with pytest.raises(InputError):
        p.validate(make_call(p, model=EDIT_MODEL[name], frames=14, references=(reference(),) * 2))


# -- polling, billing ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ASYNC)
def test_polls_until_done_with_progress(emulator, make_provider, make_call, sink, name):
    emulator.latency_s = 0.5
    p = make_provider(name)
    outcome, images = run(generate(p, make_call(p, frames=2), sink))
    polls = emulator.poll_counts[outcome.request_id]
    assert 2 <= polls <= 15, polls  # 0.02 s growing to 0.1 s over 0.5 s: not a busy loop
    assert sink.progress_notes and len(images) == 2


@pytest.mark.parametrize("name,billed", [("evolink", 2), ("wavespeed", 4), ("atlascloud", 4)])
def test_fewer_frames_billing_rules(emulator, make_provider, make_call, sink, name, billed):
    emulator.set_fault(name, "fewer", n=2)
    p = make_provider(name)
    call = make_call(p, frames=4)
    outcome, images = run(generate(p, call, sink))
    assert len(images) == 2
    assert p.billed_images(call, outcome, len(images)) == billed  # settled on results vs max_images requested


@pytest.mark.parametrize("name", ASYNC)
def test_failed_job_is_job_failed(emulator, make_provider, make_call, sink, name):
    emulator.set_fault(name, "job_failed")
    p = make_provider(name)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind in ("job_failed", "server") and "failed" in str(err.value)
    assert not err.value.may_be_billed


@pytest.mark.parametrize("name", ASYNC)
def test_stuck_job_hits_the_deadline(emulator, make_provider, make_call, sink, name):
    emulator.set_fault(name, "stuck")
    p = make_provider(name, deadline_s=0.4)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == "timeout" and err.value.may_be_billed
    assert "no cancel" in str(err.value)  # none of these documents a cancel endpoint
    assert len(emulator.requests_for(name, "POST")) == 1


@pytest.mark.parametrize("name", ASYNC)
def test_poll_get_is_retried_but_create_is_not(emulator, make_provider, make_call, sink, name):
    emulator.set_fault(name, "server", count=2, on="poll")
    p = make_provider(name)
    outcome, images = run(generate(p, make_call(p, frames=2), sink))
    assert len(images) == 2 and len(emulator.requests_for(name, "POST")) == 1
    assert len(p.sleeps) >= 2


@pytest.mark.parametrize("name", ASYNC)
def test_create_500_is_not_retried(emulator, make_provider, make_call, sink, name):
    emulator.set_fault(name, "server", count=1)
    p = make_provider(name)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == "server" and err.value.may_be_billed
    assert len(emulator.requests_for(name)) == 1


@pytest.mark.parametrize("name", ASYNC)
def test_auth_error(emulator, make_provider, make_call, sink, name):
    p = make_provider(name)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, api_key="invalid-0123456789abc"), sink))
    assert err.value.kind == "auth" and "key rejected" in str(err.value) and KEY_ENV[name] in str(err.value)
    assert "invalid-0123456789abc" not in str(err.value)


@pytest.mark.parametrize(
    "name,fault,kind",
    [
        ("evolink", "quota", "quota"),
        ("evolink", "content", "content"),
        ("wavespeed", "quota", "quota"),
        ("atlascloud", "content", "content"),
        ("wavespeed", "rate_limit", "rate_limit"),
    ],
)
def test_error_kinds(emulator, make_provider, make_call, sink, name, fault, kind):
    emulator.set_fault(name, fault)
    p = make_provider(name)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == kind


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_error_code_in_a_200_poll_answer_ends_the_job(emulator, make_provider, make_call, sink, name):
    """{"code": 500, "message": "...expired", "data": null} with HTTP 200: raised at once with the
    provider's message, not polled until the deadline."""
    emulator.latency_s = 0.3
    emulator.set_fault(name, "body_error", on="poll", code=500, message="prediction abc has expired")
    p = make_provider(name, deadline_s=3.0)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == "server" and "prediction abc has expired" in str(err.value)
    assert "error code 500" in str(err.value) and err.value.may_be_billed
    assert len(emulator.requests_for(name, "GET")) == 1


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
@pytest.mark.parametrize(
    "code,message,kind",
    [
        (400, "size must be between 1024*1024 and 4096*4096", "invalid"),
        (401, "invalid api key", "auth"),
        (400, "the prompt contains sensitive content", "content"),
    ],
)
def test_error_code_in_a_200_submit_answer_keeps_the_message(
    emulator, make_provider, make_call, sink, name, code, message, kind
):
    emulator.set_fault(name, "body_error", code=code, message=message)
    p = make_provider(name)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == kind and message in str(err.value)
    assert "no prediction id" not in str(err.value) and not err.value.may_be_billed
    if kind == "auth":
        assert KEY_ENV[name] in str(err.value)
    assert len(emulator.requests_for(name)) == 1


def test_malformed_poll_answer(emulator, make_provider, make_call, sink):
    emulator.set_fault("evolink", "malformed", on="poll")
    p = make_provider("evolink")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == "malformed" and err.value.may_be_billed


def test_evolink_task_error_codes_map_to_kinds(make_provider, make_call):
    p = make_provider("evolink")
    call = make_call(p)
    for code, kind in [
        ("content_policy_violation", "content"),
        ("quota_exceeded", "quota"),
        ("generation_timeout", "timeout"),
        ("whatever_new", "job_failed"),
    ]:
        with pytest.raises(ProviderError) as err:
            p._raise_failed({"status": "failed", "error": {"code": code, "message": "m"}}, call)
        assert err.value.kind == kind


def test_documented_answers_via_mock_transport(make_provider, make_call, sink):
    """Shapes from the docs: WaveSpeed with and without the `data` envelope, a foreign
    urls.get (not followed: the key stays on the configured host), AtlasCloud `succeeded`."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        path = request.url.path
        if request.method == "POST" and "wavespeed" in str(request.url):
            return httpx.Response(
                200,
                json={
                    "code": 200,
                    "message": "success",
                    "data": {
                        "id": "pred_abc123",
                        "model": "m",
                        "status": "created",
                        "outputs": [],
                        "urls": {"get": "https://elsewhere.example/api/v3/predictions/pred_abc123/result"},
                        "has_nsfw_contents": [],
                        "error": "",
                        "timings": {},
                    },
                },
            )
        if path.endswith("/predictions/pred_abc123/result"):
            return httpx.Response(
                200,
                json={
                    "id": "pred_abc123",
                    "status": "completed",  # bare, no envelope
                    "outputs": ["https://cdn.example/1.png", "https://cdn.example/2.png"],
                },
            )
        if request.method == "POST":
            return httpx.Response(200, json={"id": "atl-1", "status": "processing"})
        return httpx.Response(
            200,
            json={
                "code": 200,
                "data": {"id": "atl-1", "status": "succeeded", "outputs": ["https://cdn.example/a.png"]},
            },
        )

    async def go(name, s):
        p = make_provider(name)
        p.base_url = f"https://{name}.test/api"
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            out = await p.generate(make_call(p, frames=2), client, s)
        return p, out

    p, out = run(go("wavespeed", sink))
    assert out.request_id == "pred_abc123" and list(sink.urls.values()) == [
        "https://cdn.example/1.png",
        "https://cdn.example/2.png",
    ]
    assert not any("elsewhere.example" in u for u in seen)
    from support.sinks import CollectingSink

    s2 = CollectingSink()
    p, out = run(go("atlascloud", s2))
    assert out.request_id == "atl-1" and list(s2.urls.values()) == ["https://cdn.example/a.png"]


@pytest.mark.parametrize("name,billed", [("wavespeed", 5), ("atlascloud", 5), ("evolink", 2)])
def test_billing_rule_tells_requested_from_returned(emulator, make_provider, make_call, sink, name, billed):
    """max_images requested (5) differs from frames returned (2): WaveSpeed/AtlasCloud bill the 5
    requested, EvoLink settles on the 2 generated."""
    emulator.set_fault(name, "fewer", n=2)
    p = make_provider(name)
    call = make_call(p, frames=5)
    outcome, images = run(generate(p, call, sink))
    sent = emulator.requests_for(name, "POST")[-1].json
    assert len(images) == 2 and sent.get("max_images", sent.get("n")) == 5
    assert p.billed_images(call, outcome, len(images)) == billed
    # the rule, not the outcome's count, decides: a reported 2 is still 5 for max_images billing
    assert p.billed_images(call, CallOutcome(images_billed=2), 2) == billed


def test_evolink_prompt_limit(make_provider, make_call):
    p = make_provider("evolink")
    p.validate(make_call(p, prompt="x" * 2000))
    with pytest.raises(InputError, match="2000"):
        p.validate(make_call(p, prompt="x" * 2001))


# -- terminal states, sync mode, base64 outputs (WaveSpeed, AtlasCloud) ----------------------


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
@pytest.mark.parametrize("state", ["cancelled", "timeout", "deleted"])
def test_other_terminal_states_end_the_job_at_once(emulator, make_provider, make_call, sink, name, state):
    """failed, cancelled, timeout and deleted are terminal [sdk wavespeed 2.0.5]: ended at the
    first poll that says so, not polled until the deadline; possibly billed (only `failed` is
    taken as not billed)."""
    emulator.set_fault(name, "job_ended", state=state)
    p = make_provider(name, deadline_s=30.0)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == "job_failed" and f"ended {state}" in str(err.value) and err.value.may_be_billed
    assert len(emulator.requests_for(name, "GET")) <= 3 and "did not finish" not in str(err.value)


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_sync_mode_answers_the_frames_in_the_post(emulator, make_provider, make_call, sink, name):
    """enable_sync_mode [doc]: the POST answers `completed` with the outputs; nothing is polled."""
    emulator.latency_s = 0.3
    p = make_provider(name, sync_mode=True)
    outcome, images = run(generate(p, make_call(p, frames=3), sink))
    assert emulator.requests_for(name, "POST")[-1].json["enable_sync_mode"] is True
    assert sorted(images) == [0, 1, 2] and not emulator.requests_for(name, "GET")
    assert outcome.images_billed == 3


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_sync_mode_that_runs_out_is_polled(emulator, make_provider, make_call, sink, name):
    """A sync wait that ran out answers "processing" ("Sync mode timed out" [sdk]) with the id:
    the prediction is polled like any other (the SDK gives up there)."""
    emulator.latency_s, emulator.sync_wait_s = 2.0, 0.1  # the job outlasts the sync wait by far
    p = make_provider(name, sync_mode=True)
    outcome, images = run(generate(p, make_call(p, frames=2), sink))
    assert sorted(images) == [0, 1] and emulator.requests_for(name, "GET")


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_sync_mode_failure_in_the_post_is_reported(emulator, make_provider, make_call, sink, name):
    emulator.set_fault(name, "job_failed")
    p = make_provider(name, sync_mode=True)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == "job_failed" and not err.value.may_be_billed and not emulator.requests_for(name, "GET")


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
@pytest.mark.parametrize("sync", [False, True])
def test_base64_outputs_are_decoded(emulator, make_provider, make_call, sink, name, sync):
    """enable_base64_output: outputs are naked base64 [doc wavespeed.ai/docs/base64-output], in
    the polled answer and in the sync answer alike."""
    p = make_provider(name, base64_output=True, sync_mode=sync)
    outcome, images = run(generate(p, make_call(p, frames=2, size="96x64"), sink))
    assert emulator.requests_for(name, "POST")[-1].json["enable_base64_output"] is True
    assert sorted(sink.images) == [0, 1] and not sink.urls and images[1].size == (96, 64)


def test_unreadable_output_is_a_failed_frame(make_provider, make_call, sink):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "code": 200,
                "message": "success",
                "data": {
                    "id": "p1",
                    "status": "completed",
                    "outputs": ["https://cdn.example/0.png", "not base64 !!", "data:image/png;base64,iVBORw0KGgo="],
                },
            },
        )

    async def go():
        p = make_provider("wavespeed", sync_mode=True)
        p.base_url = "https://wavespeed.test/api/v3"
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await p.generate(make_call(p, frames=3), client, sink)

    run(go())
    assert sink.urls == {0: "https://cdn.example/0.png"} and list(sink.failures) == [1] and list(sink.images) == [2]


# -- EvoLink: the frames at once (the seed guide's shape) as well as the task ------------------


@pytest.mark.parametrize("shape", ["evolink_immediate", "evolink_immediate_b64"])
def test_evolink_immediate_answer(emulator, make_provider, make_call, sink, shape):
    emulator.shapes = {shape}
    p = make_provider("evolink")
    outcome, images = run(generate(p, make_call(p, frames=4, size="128x96"), sink))
    assert sorted(images) == [0, 1, 2, 3] and images[3].size == (128, 96)
    assert (sorted(sink.images) if shape.endswith("b64") else sorted(sink.urls)) == [0, 1, 2, 3]
    assert not emulator.requests_for("evolink", "GET")  # nothing to poll
    assert outcome.images_billed == 4 and "immediate answer" in outcome.cost_rule


def test_evolink_task_answer_says_so(emulator, make_provider, make_call, sink):
    p = make_provider("evolink")
    outcome, _ = run(generate(p, make_call(p, frames=2), sink))
    assert "task" in outcome.cost_rule and emulator.requests_for("evolink", "GET")


@pytest.mark.parametrize("shape", ["evolink_immediate", "evolink_immediate_b64"])
def test_evolink_immediate_refused_item_is_a_failed_frame(emulator, make_provider, make_call, sink, shape):
    emulator.shapes = {shape}
    emulator.set_fault("evolink", "refused")
    p = make_provider("evolink")
    outcome, images = run(generate(p, make_call(p, frames=4), sink))
    assert sorted(images) == [0, 2, 3] and "content_policy_violation" in sink.failures[1]
    assert outcome.images_billed == 3  # settles on images generated


@pytest.mark.parametrize(
    "fault,kind,billed",
    [
        ("job_failed", "server", True),
        ("content", "content", False),
        ("quota", "quota", False),
        ("malformed", "malformed", True),
    ],
)
def test_evolink_immediate_faults(emulator, make_provider, make_call, sink, fault, kind, billed):
    emulator.shapes = {"evolink_immediate"}
    emulator.set_fault("evolink", fault)
    p = make_provider("evolink")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == kind and err.value.may_be_billed == billed
    assert len(emulator.requests_for("evolink")) == 1


def test_evolink_immediate_fewer_frames(emulator, make_provider, make_call, sink):
    emulator.shapes = {"evolink_immediate"}
    emulator.set_fault("evolink", "fewer", n=3)
    p = make_provider("evolink")
    outcome, _ = run(generate(p, make_call(p, frames=4), sink))
    assert sorted(sink.urls) == [0, 1, 2] and outcome.images_billed == 3


def test_evolink_immediate_rate_limit_is_retried(emulator, make_provider, make_call, sink):
    emulator.shapes = {"evolink_immediate"}
    emulator.set_fault("evolink", "rate_limit", count=1, retry_after=2)
    p = make_provider("evolink")
    outcome, images = run(generate(p, make_call(p, frames=2), sink))
    assert p.sleeps == [2] and len(images) == 2 and len(emulator.requests_for("evolink", "POST")) == 2


def test_evolink_stuck_immediate_answer_times_out_as_possibly_billed(emulator, make_provider, make_call, sink):
    emulator.shapes = {"evolink_immediate"}
    emulator.set_fault("evolink", "stuck")
    p = make_provider("evolink")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink, timeout=0.5))
    assert err.value.kind == "timeout" and err.value.may_be_billed


def test_evolink_timeout_state_is_a_failed_task_with_its_code(emulator, make_provider, make_call, sink):
    emulator.set_fault("evolink", "job_ended", state="timeout")
    p = make_provider("evolink")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert err.value.kind == "timeout" and "generation_timeout" in str(err.value)


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_sync_mode_is_the_default_and_a_job_is_noticed_as_it_ends(emulator, data_dir, name):
    """Issue 16: poll-free where the provider offers it. A Playground run on WaveSpeed/AtlasCloud
    asks for sync mode; the POST answers when the job is done, so nothing is polled and the run
    ends with the job (a polled 2 s job was noticed up to 0.5 s late)."""
    from playground.base.types import GenerationRequest
    from support.faults import make_playground

    emulator.latency_s = 1.0
    pg = make_playground(emulator.env(), data_dir)
    assert pg.provider(name).sync_mode is True
    record = asyncio.run(pg.run(GenerationRequest(prompt="a fox", provider=name, frames=2, size="256x256"))).record
    assert record.status == "ok" and emulator.requests_for(name, "POST")[-1].json["enable_sync_mode"] is True
    assert emulator.polls(name) == 0 and emulator.requests_for(name, "GET") == []


@pytest.mark.parametrize("name", ["wavespeed", "atlascloud"])
def test_by_default_a_sync_wait_that_runs_out_falls_back_to_polling(emulator, data_dir, name):
    from playground.base.types import GenerationRequest
    from support.faults import make_playground

    emulator.latency_s, emulator.sync_wait_s = 1.5, 0.1
    pg = make_playground(emulator.env(), data_dir)
    record = asyncio.run(pg.run(GenerationRequest(prompt="a fox", provider=name, frames=1, size="256x256"))).record
    assert record.status == "ok" and emulator.polls(name) >= 1
