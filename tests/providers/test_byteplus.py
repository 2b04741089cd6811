"""BytePlus ModelArk contract tests against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json

import httpx
import pytest
from PIL import Image

from playground.base.errors import ProviderError
from playground.base.types import CallOutcome, ReferenceImage


def run(coro):
    return asyncio.run(coro)


def reference(colour=(200, 30, 30)) -> ReferenceImage:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="PNG")
    data = buf.getvalue()
    return ReferenceImage(data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=32, height=32)


async def generate(provider, call, sink, timeout=10.0):
    async with httpx.AsyncClient(timeout=timeout) as client:
        outcome = await provider.generate(call, client, sink)
        images = await sink.download(client)
    return outcome, images


STREAM_SHAPES = [(), ("created_at", "sse_event_lines"), ("sse_type_in_event_only",)]


@pytest.mark.parametrize("shapes", STREAM_SHAPES)
def test_sequence_sends_exactly_the_documented_fields(emulator, make_provider, make_call, sink, shapes):
    emulator.shapes = set(shapes)  # documented variants of the answer: the same frames and billing
    p = make_provider("byteplus")
    call = make_call(p, frames=4, size="320x256", references=(reference(), reference((0, 0, 200))))
    outcome, images = run(generate(p, call, sink))
    sent = emulator.requests_for("byteplus")[-1]
    assert sent.method == "POST" and sent.path == "/images/generations"
    assert sent.headers["authorization"] == "Bearer <redacted>"
    body = sent.json
    assert set(body) == {
        "model",
        "prompt",
        "size",
        "image",
        "sequential_image_generation",
        "sequential_image_generation_options",
        "response_format",
        "watermark",
        "stream",
    }
    assert body["model"] == "seedream-5-0-260128" and body["size"] == "320x256"
    assert body["sequential_image_generation"] == "auto"
    assert body["sequential_image_generation_options"] == {"max_images": 4}
    assert body["watermark"] is False and body["stream"] is True and body["response_format"] == "url"
    assert len(body["image"]) == 2 and all(u.startswith("data:image/png;base64,") for u in body["image"])
    assert "seed" not in body
    assert outcome.seed_sent is None and outcome.images_billed == 4
    assert sorted(images) == [0, 1, 2, 3] and all(im.size == (320, 256) for im in images.values())
    assert outcome.request_id.startswith("byt-")
    assert "AAAA" not in json.dumps(outcome.sent_fields) and outcome.sent_fields["image"][0].startswith("<data:")


def test_single_frame_is_disabled_mode_with_one_reference_as_string(emulator, make_provider, make_call, sink):
    p = make_provider("byteplus")
    call = make_call(p, frames=1, seed=42, references=(reference(),))
    outcome, _ = run(generate(p, call, sink))
    body = emulator.requests_for("byteplus")[-1].json
    assert body["sequential_image_generation"] == "disabled"
    assert "sequential_image_generation_options" not in body and "seed" not in body
    assert isinstance(body["image"], str)
    assert outcome.seed_sent is None  # Seedream documents no seed: none sent, none recorded


def test_stream_delivers_frames_one_by_one_in_order(emulator, make_provider, make_call, sink):
    emulator.latency_s = 1.2  # the emulator streams one frame every 0.3 s
    p = make_provider("byteplus")
    outcome, _ = run(generate(p, make_call(p, frames=4), sink))
    frames = [e for e in sink.events if e[0] == "url"]
    assert [e[1] for e in frames] == [0, 1, 2, 3]
    spread = frames[-1][3] - frames[0][3]
    assert spread > 0.45, spread  # each frame handed on as it was streamed, not all at the end
    assert [f for f, _ in sink.progress_notes] == [0.25, 0.5, 0.75, 1.0]
    assert len(sink.frame_indices) == 4  # the partial_image preview was not taken for a frame


def test_refused_frame_fails_and_the_rest_continue(emulator, make_provider, make_call, sink):
    emulator.set_fault("byteplus", "refused")
    p = make_provider("byteplus")
    call = make_call(p, frames=4)
    outcome, images = run(generate(p, call, sink))
    assert sorted(images) == [0, 2, 3]
    assert "OutputImageSensitiveContentDetected" in sink.failures[1]
    assert outcome.images_billed == 3
    assert p.billed_images(call, outcome, 3) == 3


def test_fewer_frames_than_asked(emulator, make_provider, make_call, sink):
    emulator.set_fault("byteplus", "fewer", n=2)
    p = make_provider("byteplus")
    call = make_call(p, frames=5)
    outcome, images = run(generate(p, call, sink))
    assert sorted(images) == [0, 1] and outcome.images_billed == 2 and not sink.failures


def test_internal_error_stops_the_remaining_frames(emulator, make_provider, make_call, sink):
    emulator.set_fault("byteplus", "job_failed")
    p = make_provider("byteplus")
    outcome, images = run(generate(p, make_call(p, frames=4), sink))
    assert sorted(images) == [0] and "InternalServiceError" in sink.failures[1]
    assert outcome.images_billed == 1


def test_an_internal_error_frame_ends_the_reading_at_once(emulator, make_provider, make_call, sink):
    """No frame follows an internal service error [doc]: reading stops at that event (as the docs'
    own sample does), so a server that then leaves the connection open (5 s here) does not hold
    the call until a 2 s read timeout. The frame before it is kept and billed; the call is not an
    error (the run is partial), unlike a bare `error` event."""
    emulator.set_fault("byteplus", "job_failed", hold=True)
    p = make_provider("byteplus")
    p.read_timeout_s = None
    outcome, images = run(generate(p, make_call(p, frames=4), sink, timeout=2.0))
    assert sorted(images) == [0] and "InternalServiceError" in sink.failures[1]
    assert outcome.images_billed == 1


@pytest.mark.parametrize("stream", [True, False])
def test_b64_json_frames_over_http(emulator, make_provider, make_call, sink, stream):
    """response_format b64_json [doc]: the frames come as base64 in the events / the data items."""
    p = make_provider("byteplus", stream=stream, response_format="b64_json")
    outcome, images = run(generate(p, make_call(p, frames=3, size="64x96"), sink))
    assert emulator.requests_for("byteplus")[-1].json["response_format"] == "b64_json"
    assert sorted(sink.images) == [0, 1, 2] and not sink.urls and images[2].size == (64, 96)
    assert outcome.images_billed == 3


def test_the_read_timeout_is_raised_for_one_json_answer(emulator, make_provider, make_call, sink):
    """A JSON answer comes only once every frame is drawn (15 large frames: minutes): the
    provider raises the client's read timeout to its own (the SDK's 600 s; 5 s here), so a
    0.8 s silence passes a 0.3 s client timeout."""
    emulator.latency_s = 0.8
    p = make_provider("byteplus", stream=False)
    p.read_timeout_s = 5.0
    outcome, images = run(generate(p, make_call(p, frames=2), sink, timeout=0.3))
    assert sorted(images) == [0, 1] and outcome.images_billed == 2


def test_requests_carry_the_sdk_read_timeout_and_a_client_request_id(make_provider, make_call, sink):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"data": [{"url": "https://x.invalid/0.png"}], "usage": {"generated_images": 1}}
        )

    async def go():
        p = make_provider("byteplus", stream=False)
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), timeout=httpx.Timeout(connect=10, read=180, write=60, pool=60)
        ) as client:
            return await p.generate(make_call(p), client, sink)

    outcome = run(go())
    assert seen[0].extensions["timeout"]["read"] == 600.0 and seen[0].extensions["timeout"]["connect"] == 10
    client_id = seen[0].headers["x-client-request-id"]
    assert len(client_id) == 34 and client_id[:14].isdigit() and client_id[14:].isalnum()
    assert outcome.request_id == client_id  # no x-request-id in this answer: the row logs the client's id


@pytest.mark.parametrize("created_at", [False, True])
@pytest.mark.parametrize("fault", [None, "refused"])
def test_non_stream_answer(emulator, make_provider, make_call, sink, fault, created_at):
    emulator.shapes = {"created_at"} if created_at else set()
    if fault:
        emulator.set_fault("byteplus", fault)
    p = make_provider("byteplus", stream=False)
    outcome, images = run(generate(p, make_call(p, frames=3), sink))
    assert emulator.requests_for("byteplus")[-1].json["stream"] is False
    expected = [0, 2] if fault else [0, 1, 2]
    assert sorted(images) == expected and outcome.images_billed == len(expected)


@pytest.mark.parametrize("shapes", STREAM_SHAPES)
def test_top_level_stream_error_event_ends_the_call_keeping_earlier_frames(
    emulator, make_provider, make_call, sink, shapes
):
    emulator.shapes = set(shapes)
    emulator.set_fault("byteplus", "stream_error", after=2)
    p = make_provider("byteplus")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=4), sink))
    assert err.value.kind == "job_failed" and err.value.may_be_billed
    assert "InternalServiceError" in str(err.value) and "after 2 frame(s)" in str(err.value)
    assert sorted(sink.urls) == [0, 1]  # handed on before the error


def test_reading_stops_at_completed_when_done_never_comes(emulator, make_provider, make_call, sink):
    """A gateway that drops [DONE] and keeps the connection open (for 5 s here): the call ends at
    `completed`, well inside a 1 s read timeout, instead of failing as a stalled stream."""
    emulator.shapes = {"completed_then_hold"}
    p = make_provider("byteplus")
    p.read_timeout_s = None  # the client's 1 s read timeout as it is
    outcome, images = run(generate(p, make_call(p, frames=3), sink, timeout=1.0))
    assert sorted(images) == [0, 1, 2] and outcome.images_billed == 3


def test_null_image_index_means_the_next_frame(make_provider, make_call, sink):
    events = [
        {"type": "image_generation.partial_succeeded", "image_index": None, "url": "https://x.invalid/0.png"},
        {"type": "image_generation.partial_failed", "image_index": None, "error": {"code": "Output", "message": "m"}},
        {"type": "image_generation.partial_succeeded", "url": "https://x.invalid/2.png"},
        {"type": "image_generation.completed", "usage": {"generated_images": 2}},
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"

    async def go():
        p = make_provider("byteplus")
        transport = httpx.MockTransport(
            lambda r: httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
        )
        async with httpx.AsyncClient(transport=transport) as client:
            return await p.generate(make_call(p, frames=3), client, sink)

    outcome = run(go())
    assert sink.urls == {0: "https://x.invalid/0.png", 2: "https://x.invalid/2.png"} and list(sink.failures) == [1]
    assert outcome.images_billed == 2


def test_auth_error_names_the_variable_and_hides_the_key(emulator, make_provider, make_call, sink):
    p = make_provider("byteplus")
    call = make_call(p, api_key="invalid-key-abcdef123456")
    with pytest.raises(ProviderError) as err:
        run(generate(p, call, sink))
    message = str(err.value)
    assert err.value.kind == "auth" and err.value.status == 401
    assert "key rejected" in message and "ARK_API_KEY" in message
    assert "invalid-key-abcdef123456" not in message and "[redacted]" in message  # the emulator echoes the key


@pytest.mark.parametrize(
    "fault,kind,status",
    [
        ("content", "content", 400),
        ("quota", "quota", 403),
        ("forbidden", "auth", 403),
        ("server", "server", 500),
    ],
)
def test_error_kinds(emulator, make_provider, make_call, sink, fault, kind, status):
    emulator.set_fault("byteplus", fault)
    p = make_provider("byteplus")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink))
    assert (err.value.kind, err.value.status) == (kind, status)
    assert err.value.may_be_billed == (status >= 500)
    assert len(emulator.requests_for("byteplus")) == 1  # never re-sent


def test_rate_limit_is_retried_with_retry_after(emulator, make_provider, make_call, sink):
    emulator.set_fault("byteplus", "rate_limit", count=2, retry_after=3)
    p = make_provider("byteplus")
    outcome, images = run(generate(p, make_call(p, frames=2), sink))
    assert p.sleeps == [3, 3] and len(images) == 2


def test_invalid_request_is_invalid(emulator, make_provider, make_call, sink):
    p = make_provider("byteplus")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, size="huge"), sink))
    assert err.value.kind == "invalid" and "size" in str(err.value)


def test_stuck_call_times_out_as_possibly_billed(emulator, make_provider, make_call, sink):
    emulator.set_fault("byteplus", "stuck")
    p = make_provider("byteplus")
    p.read_timeout_s = None  # the client's 0.5 s read timeout as it is
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, frames=2), sink, timeout=0.5))
    assert err.value.kind == "timeout" and err.value.may_be_billed
    assert len(emulator.requests_for("byteplus")) == 1


def test_malformed_answer(emulator, make_provider, make_call, sink):
    emulator.set_fault("byteplus", "malformed")
    p = make_provider("byteplus", stream=False)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == "malformed" and err.value.may_be_billed


def test_documented_examples_via_mock_transport(make_provider, make_call, sink):
    """The response example of providers.md / the BytePlus docs, verbatim shapes: `created`
    (the SDK says `created_at`), b64 frames, a failed item, the SSE events."""
    png = base64.b64encode(_png()).decode()
    doc_json = {
        "model": "seedream-4-5-251128",
        "created_at": 1757323224,
        "data": [
            {"url": "https://example.invalid/a.jpeg", "size": "1760x2368"},
            {"b64_json": png, "size": "64x64"},
            {"error": {"code": "OutputImageSensitiveContentDetected", "message": "sensitive"}},
        ],
        "usage": {"generated_images": 2, "output_tokens": 16280, "total_tokens": 16280},
    }
    events = [
        {"type": "image_generation.partial_image", "image_index": 0, "b64_json": png},
        {
            "type": "image_generation.partial_succeeded",
            "image_index": 0,
            "url": "https://x.invalid/0.png",
            "size": "1x1",
        },
        {
            "type": "image_generation.partial_failed",
            "model": "doubao-seedream-4-0-250828",
            "created": 1589478378,
            "image_index": 1,
            "error": {"code": "OutputImageSensitiveContentDetected", "message": "sensitive"},
        },
        {"type": "image_generation.partial_succeeded", "image_index": 2, "b64_json": png, "size": "64x64"},
        {"type": "image_generation.completed", "usage": {"generated_images": 2}},
    ]
    sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["stream"]:
            return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=doc_json)

    async def go(stream: bool, s):
        p = make_provider("byteplus", stream=stream)
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await p.generate(make_call(p, frames=3), client, s)

    out = run(go(False, sink))
    assert sink.urls == {0: "https://example.invalid/a.jpeg"} and list(sink.images) == [1] and 2 in sink.failures
    assert out.images_billed == 2
    from support.sinks import CollectingSink

    s2 = CollectingSink()
    out = run(go(True, s2))
    assert s2.urls == {0: "https://x.invalid/0.png"} and list(s2.images) == [2] and 1 in s2.failures
    assert out.images_billed == 2


def test_billing_rule_falls_back_to_frames_returned(make_provider, make_call):
    p = make_provider("byteplus")
    call = make_call(p, frames=4)
    assert p.billed_images(call, CallOutcome(images_billed=3), 4) == 3
    assert p.billed_images(call, CallOutcome(), 4) == 4


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 200, 10)).save(buf, format="PNG")
    return buf.getvalue()
