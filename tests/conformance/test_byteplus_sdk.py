"""BytePlus ModelArk's official SDK (byteplus-python-sdk-v2[ark], module byteplussdkarkruntime)
against the emulator over real HTTP: every call the playground makes, in the SDK's default
shape and with the playground's options, parsed into the SDK's own types; then the adapter's
request and the SDK's for one logical run, compared field by field.

Pointing it here: `Ark(base_url=ARK_BASE_URL of the emulator, api_key=..., max_retries=0)`;
plain http works as it is (no adaptation)."""

from __future__ import annotations

import asyncio
import base64
import io
import re

import httpx
import pytest
from PIL import Image

from playground.base.types import ReferenceImage
from playground.providers.adapters.byteplus import BytePlusProvider
from support.sdk import body_differences, fetched_image, png_bytes, sdk

ark = sdk("byteplussdkarkruntime")
from byteplussdkarkruntime._constants import DEFAULT_TIMEOUT_SECONDS  # noqa: E402
from byteplussdkarkruntime._exceptions import (  # noqa: E402
    ArkAPIError,
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkNotFoundError,
    ArkPermissionDeniedError,
    ArkRateLimitError,
)
from byteplussdkarkruntime.types.images import ImagesResponse  # noqa: E402
from byteplussdkarkruntime.types.images.image_gen_generating_event import ImageGenGeneratingEvent  # noqa: E402
from byteplussdkarkruntime.types.images.images import SequentialImageGenerationOptions  # noqa: E402

MODEL = "seedream-5-0-260128"
CLIENT_ID = re.compile(r"^\d{14}[A-Za-z0-9]{20}$")  # the SDK's X-Client-Request-Id [sdk _utils/_utils.py]
# Fields the SDK sends as null when the caller leaves them unset (3.0.63): the API reads null as
# absent [sdk: the vendor's own client sends them on every call].
SDK_NULLS = {
    "seed",
    "guidance_scale",
    "optimize_prompt",
    "optimize_prompt_options",
    "tools",
    "output_format",
    "layer_decomposition",
}


def client(emulator, **kw) -> ark.Ark:
    return ark.Ark(
        base_url=emulator.base_urls()["ARK_BASE_URL"],
        api_key="sdk-key-0123456789",
        max_retries=kw.pop("max_retries", 0),
        **kw,
    )


def data_url(colour=(200, 40, 40)) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(colour)).decode()


# -- the calls, in the SDK's default shape and the playground's ----------------------------------


def test_default_call_is_accepted_and_parsed(emulator):
    """The SDK's default call sends every parameter, null when unset: accepted (null = absent),
    with the emulator still strict about fields it does not know."""
    resp = client(emulator).images.generate(model=MODEL, prompt="a lighthouse at dusk", size="256x256")
    assert isinstance(resp, ImagesResponse) and resp.model == MODEL
    assert len(resp.data) == 1 and resp.data[0].size == "256x256" and resp.data[0].b64_json is None
    assert fetched_image(resp.data[0].url).size == (256, 256)
    assert resp.usage.generated_images == 1 and resp.usage.output_tokens and resp.usage.total_tokens
    sent = emulator.requests_for("byteplus")[-1]
    assert {k for k, v in sent.json.items() if v is None} >= SDK_NULLS | {"image", "watermark"}
    assert sent.unknown_fields == [] and emulator.strict_fields


@pytest.mark.parametrize("shape", ["created", "created_at"])
def test_timestamp_under_either_name(emulator, shape):
    """The docs' examples say `created`, the SDK's type `created_at`: with the docs' shape the
    typed field stays empty and the value is an extra attribute; with the SDK's it is filled."""
    emulator.shapes = {"created_at"} if shape == "created_at" else set()
    resp = client(emulator).images.generate(model=MODEL, prompt="p", size="64x64")
    if shape == "created_at":
        assert isinstance(resp.created_at, int) and resp.created_at > 1_700_000_000
    else:
        assert resp.created_at is None and resp.model_extra["created"] > 1_700_000_000


def test_sequence_with_references_as_the_playground_asks(emulator):
    resp = client(emulator).images.generate(
        model=MODEL,
        prompt="Generate a series of 4 images: a fox's day",
        size="128x96",
        image=[data_url(), data_url((0, 0, 200))],
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=4),
        response_format="url",
        watermark=False,
    )
    assert [d.size for d in resp.data] == ["128x96"] * 4 and resp.usage.generated_images == 4
    assert all(fetched_image(d.url).size == (128, 96) for d in resp.data)
    body = emulator.requests_for("byteplus")[-1].json
    assert body["sequential_image_generation_options"] == {"max_images": 4} and len(body["image"]) == 2


def test_b64_json_answer(emulator):
    resp = client(emulator).images.generate(model=MODEL, prompt="p", size="64x48", response_format="b64_json")
    assert resp.data[0].url is None
    assert Image.open(io.BytesIO(base64.b64decode(resp.data[0].b64_json))).size == (64, 48)


def test_refused_item_in_a_json_answer(emulator):
    emulator.set_fault("byteplus", "refused")
    resp = client(emulator).images.generate(
        model=MODEL,
        prompt="p",
        size="64x64",
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=3),
    )
    assert (
        resp.data[1].url is None and resp.data[1].model_extra["error"]["code"] == "OutputImageSensitiveContentDetected"
    )
    assert resp.data[2].url and resp.usage.generated_images == 2


@pytest.mark.parametrize("shapes", [set(), {"sse_event_lines", "created_at"}])
def test_stream_events_parse(emulator, shapes):
    """stream=True: one event per frame. The SDK types every event as ImageGenGeneratingEvent: its
    union's discriminator `type` is a plain str in both classes, so the completed event is not told
    apart either and carries `usage` as a plain dict [sdk types/images/image_gen_stream_event.py]."""
    emulator.shapes = shapes
    events = list(
        client(emulator).images.generate(
            model=MODEL,
            prompt="p",
            size="96x64",
            stream=True,
            sequential_image_generation="auto",
            sequential_image_generation_options=SequentialImageGenerationOptions(max_images=3),
            response_format="url",
            watermark=False,
        )
    )
    assert all(isinstance(e, ImageGenGeneratingEvent) for e in events)
    frames = [e for e in events if e.type == "image_generation.partial_succeeded"]
    assert [e.image_index for e in frames] == [0, 1, 2] and all(e.size == "96x64" for e in frames)
    assert all(fetched_image(e.url).size == (96, 64) for e in frames)
    assert events[0].type == "image_generation.partial_image" and events[-1].type == "image_generation.completed"
    assert events[-1].usage["generated_images"] == 3
    if "created_at" in shapes:
        assert all(isinstance(e.created_at, int) for e in frames)


def test_sdk_stream_stops_at_a_refused_frame_where_the_docs_go_on(emulator, make_provider, make_call, sink):
    """The SDK raises on any event that carries `error`, a content-filtered frame included, and
    loses the frames after it; the docs say those are still generated (and their own sample
    reads on) [doc https://docs.byteplus.com/en/docs/ModelArk/1666945]. The adapter follows the
    docs: same stream, frames 0, 2 and 3."""
    emulator.set_fault("byteplus", "refused", count=2)
    stream = client(emulator).images.generate(
        model=MODEL,
        prompt="p",
        size="64x64",
        stream=True,
        sequential_image_generation="auto",
        sequential_image_generation_options=SequentialImageGenerationOptions(max_images=4),
    )
    got = []
    with pytest.raises(ArkAPIError) as err:
        for event in stream:
            got.append(event.type)
    assert err.value.code == "OutputImageSensitiveContentDetected" and CLIENT_ID.match(err.value.request_id)
    assert got.count("image_generation.partial_succeeded") == 1
    p = make_provider("byteplus")
    outcome = asyncio.run(_generate(p, make_call(p, frames=4, size="64x64"), sink))
    assert sorted(sink.urls) == [0, 2, 3] and list(sink.failures) == [1] and outcome.images_billed == 3


@pytest.mark.parametrize(
    "fault,exc,code",
    [
        ("auth", ArkAuthenticationError, "AuthenticationError"),
        ("content", ArkBadRequestError, "InputTextSensitiveContentDetected"),
        ("quota", ArkPermissionDeniedError, "AccountOverdueError"),
        ("rate_limit", ArkRateLimitError, "RateLimitExceeded.EndpointRPMExceeded"),
    ],
)
def test_error_bodies_parse_into_the_sdk_exceptions(emulator, fault, exc, code):
    emulator.set_fault("byteplus", fault)
    with pytest.raises(exc) as err:
        client(emulator).images.generate(model=MODEL, prompt="p", size="64x64")
    assert err.value.code == code and err.value.message and CLIENT_ID.match(err.value.request_id)


def test_unknown_model_is_not_found(emulator):
    with pytest.raises(ArkNotFoundError) as err:
        client(emulator).images.generate(model="seedream-nope", prompt="p")
    assert "does not exist" in err.value.body["message"]


def test_server_error_is_retried_by_the_sdk(emulator):
    """The SDK re-sends a generation after a 5xx (2 retries by default); the adapter does not (a
    5xx may have been billed): a difference listed in docs/providers.md."""
    emulator.set_fault("byteplus", "server", count=1)
    resp = client(emulator, max_retries=1).images.generate(model=MODEL, prompt="p", size="64x64")
    assert resp.usage.generated_images == 1 and len(emulator.requests_for("byteplus", "POST")) == 2


@pytest.mark.parametrize("strict", [True, False])
def test_an_unknown_optional_field(emulator, strict):
    """A newer optional field (extra_body): refused by the strict emulator that judges adapters,
    accepted and recorded by the tolerant one, as the service is assumed to [guess]."""
    emulator.strict_fields = strict

    def call():
        return client(emulator).images.generate(
            model=MODEL, prompt="p", size="64x64", extra_body={"future_option": True}
        )

    if strict:
        with pytest.raises(ArkBadRequestError) as err:
            call()
        assert err.value.param == "future_option"
    else:
        assert call().usage.generated_images == 1
    assert emulator.requests_for("byteplus")[-1].unknown_fields == ["future_option"]


def test_the_adapter_reads_as_long_as_the_sdk():
    assert BytePlusProvider.read_timeout_s == DEFAULT_TIMEOUT_SECONDS == 600.0


# -- same request: the adapter's and the SDK's, field by field -----------------------------------

# Every remaining difference, with its reason (docs/providers.md lists the same).
KNOWN_BODY_DIFFERENCES = {
    name: "the SDK sends unset parameters as null; the adapter leaves them out" for name in SDK_NULLS
}
KNOWN_HEADER_DIFFERENCES = {
    "accept": "the adapter asks for text/event-stream when it streams; the SDK always says application/json",
    "user-agent": "each client names itself",
}


async def _generate(provider, call, sink):
    async with httpx.AsyncClient(timeout=10) as http:
        return await provider.generate(call, http, sink)


def test_same_request_as_the_sdk(emulator, make_provider, make_call, sink):
    refs = tuple(_reference(png_bytes(c)) for c in ((200, 40, 40), (0, 0, 200)))
    p = make_provider("byteplus")
    call = make_call(
        p, model=MODEL, prompt="Generate a series of 4 images: a fox's day", frames=4, size="128x96", references=refs
    )
    asyncio.run(_generate(p, call, sink))
    ours = emulator.requests_for("byteplus")[-1]
    list(
        client(emulator).images.generate(
            model=MODEL,
            prompt=call.prompt,
            size=call.size,
            image=[r.data_url() for r in refs],
            sequential_image_generation="auto",
            sequential_image_generation_options=SequentialImageGenerationOptions(max_images=4),
            response_format="url",
            watermark=False,
            stream=True,
        )
    )
    theirs = emulator.requests_for("byteplus")[-1]
    assert (ours.method, ours.path) == (theirs.method, theirs.path) == ("POST", "/images/generations")
    assert ours.headers["authorization"] == theirs.headers["authorization"] == "Bearer <redacted>"
    assert ours.content_type == theirs.content_type == "application/json"
    assert CLIENT_ID.match(ours.headers["x-client-request-id"]) and CLIENT_ID.match(
        theirs.headers["x-client-request-id"]
    )
    assert body_differences(ours.json, theirs.json) == {name: ("<absent>", None) for name in KNOWN_BODY_DIFFERENCES}
    assert ours.json["image"][0].startswith("data:image/png;base64,")  # the same value format
    differing = {
        h
        for h in set(ours.headers) | set(theirs.headers)
        if h not in ("content-length", "x-client-request-id", "host") and ours.headers.get(h) != theirs.headers.get(h)
    }
    assert differing == set(KNOWN_HEADER_DIFFERENCES)


def _reference(data: bytes) -> ReferenceImage:
    import hashlib

    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return ReferenceImage(
        data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=width, height=height
    )
