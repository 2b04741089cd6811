"""The official `openai` SDK against the emulator, over real HTTP on 127.0.0.1.

Pointing it there needs no adaptation: `OpenAI(base_url=..., api_key=..., max_retries=0)`
(the SDK takes plain http). Every call parses into the SDK's own typed objects, and the same
run made by the adapter and by the SDK is compared request for request (what remains
different is listed in docs/providers.md, "openai").
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io

import httpx
import pytest
from PIL import Image

from playground.base.types import ReferenceImage
from playground.providers.adapters.openai import token_cost
from support.sdk import sdk

PROMPT = "a red fox in a blue scarf, watercolour"


@pytest.fixture
def client(emulator):
    openai = sdk("openai")
    return openai.OpenAI(
        base_url=emulator.base_urls()["OPENAI_BASE_URL"], api_key=emulator.env()["OPENAI_API_KEY"], max_retries=0
    )


def picture(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def png(size=(48, 32), colour=(10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_generate_parses_into_the_sdk_types_with_every_field_filled(client):
    types = sdk("openai.types")
    answer = client.images.generate(model="gpt-image-1.5", prompt=PROMPT, size="1536x1024")
    assert isinstance(answer, types.ImagesResponse) and isinstance(answer.data[0], types.Image)
    assert answer.created > 0 and answer._request_id.startswith("req_")
    assert (answer.background, answer.output_format, answer.quality, answer.size) == (
        "opaque",
        "png",
        "medium",
        "1536x1024",
    )
    assert picture(answer.data[0].b64_json).size == (1536, 1024) and answer.data[0].url is None
    usage = answer.usage
    assert usage.input_tokens == usage.input_tokens_details.text_tokens + usage.input_tokens_details.image_tokens
    details = usage.output_tokens_details  # split into image and text output tokens
    assert details.image_tokens > 0 and details.text_tokens > 0
    assert usage.output_tokens == details.image_tokens + details.text_tokens
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_the_adapters_cost_reads_the_fields_the_sdk_types_define(client):
    """The adapter's token_cost on the SDK-parsed usage: each typed count at its own rate."""
    usage = client.images.generate(model="gpt-image-1.5", prompt=PROMPT, size="1024x1024").usage
    expected = (
        usage.input_tokens_details.text_tokens * 5.0
        + usage.input_tokens_details.image_tokens * 8.0
        + usage.output_tokens_details.text_tokens * 10.0
        + usage.output_tokens_details.image_tokens * 32.0
    )
    assert token_cost("gpt-image-1.5", usage.model_dump()) == pytest.approx(expected / 1e6)
    assert token_cost("gpt-image-1.5", usage.model_dump()) < usage.output_tokens * 32.0 / 1e6  # text out is cheaper


@pytest.mark.parametrize("fmt,pil", [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format_is_honoured(client, fmt, pil):
    extra = {} if fmt == "png" else {"output_compression": 60}
    answer = client.images.generate(model="gpt-image-2", prompt=PROMPT, size="1280x720", output_format=fmt, **extra)
    image = picture(answer.data[0].b64_json)
    assert answer.output_format == fmt and image.format == pil and image.size == (1280, 720)


def test_every_sdk_field_is_accepted_and_null_means_the_default(client, emulator):
    nulls = dict(
        background=None,
        complexity=None,
        moderation=None,
        n=None,
        output_compression=None,
        output_format=None,
        partial_images=None,
        quality=None,
        response_format=None,
        safety_identifier=None,
        size=None,
        style=None,
        frame_count=None,
        frame_duration_ms=None,
        svg=None,
    )
    answer = client.images.generate(model="gpt-image-1.5", prompt=PROMPT, **nulls)
    sent = emulator.requests_for("openai")[-1].json
    assert all(sent[k] is None for k in nulls)  # the SDK sends them as null
    assert len(answer.data) == 1 and answer.output_format == "png" and answer.size == "1024x1024"
    answer = client.images.generate(
        model="gpt-image-2",
        prompt=PROMPT,
        n=2,
        size="auto",
        quality="high",
        background="opaque",
        moderation="low",
        complexity="high",
        output_format="jpeg",
        output_compression=70,
        safety_identifier="user-7f3a",
        user="legacy-user",
    )
    assert len(answer.data) == 2 and answer.quality == "high" and answer.output_format == "jpeg"


@pytest.mark.parametrize(
    "kwargs,param",
    [
        (dict(extra_body={"seed": 3}), "seed"),  # not an OpenAI Images field: still refused
        (dict(n=11), "n"),
        (dict(extra_body={"n": "2"}), "n"),  # a string where an integer belongs
        (dict(quality="hd"), "quality"),  # DALL-E's quality on a GPT model
        (dict(response_format="url"), "response_format"),
        (dict(size="1000x700"), "size"),
        (dict(output_format="png", output_compression=50), "output_compression"),
    ],
)
def test_unknown_fields_and_wrong_values_are_refused(client, kwargs, param):
    openai = sdk("openai")
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="gpt-image-1.5", prompt=PROMPT, **kwargs)
    assert err.value.status_code == 400 and err.value.param == param and err.value.type == "invalid_request_error"
    assert err.value.request_id


def test_streaming_yields_partial_images_then_the_final_image(client, emulator):
    types = sdk("openai.types")
    stream = client.images.generate(
        model="gpt-image-1.5", prompt=PROMPT, size="1024x1536", stream=True, partial_images=2, output_format="webp"
    )
    events = list(stream)
    assert [type(e) for e in events] == [types.ImageGenPartialImageEvent] * 2 + [types.ImageGenCompletedEvent]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    final = events[-1]
    assert final.type == "image_generation.completed" and final.output_format == "webp" and final.created_at > 0
    assert picture(final.b64_json).size == (1024, 1536) and picture(final.b64_json).format == "WEBP"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens_details.text_tokens > 0
    assert emulator.requests_for("openai")[-1].json["stream"] is True


def test_streaming_without_partials_sends_the_final_image_alone(client):
    types = sdk("openai.types")
    events = list(client.images.generate(model="gpt-image-1.5", prompt=PROMPT, stream=True, partial_images=0))
    assert [type(e) for e in events] == [types.ImageGenCompletedEvent]


def test_a_failure_mid_stream_is_raised_by_the_sdk(client, emulator):
    openai = sdk("openai")
    emulator.set_fault("openai", "job_failed")
    stream = client.images.generate(model="gpt-image-1.5", prompt=PROMPT, stream=True, partial_images=1)
    with pytest.raises(openai.APIError, match="server had an error"):
        list(stream)


def test_edit_takes_several_images_as_image_array_parts(client, emulator):
    types = sdk("openai.types")
    images = [("first.png", png(colour=(200, 0, 0)), "image/png"), ("second.png", png(colour=(0, 200, 0)), "image/png")]
    answer = client.images.edit(
        model="gpt-image-1.5", prompt=PROMPT, image=images, input_fidelity="high", size="1024x1024"
    )
    assert isinstance(answer, types.ImagesResponse) and picture(answer.data[0].b64_json).size == (1024, 1024)
    assert answer.usage.input_tokens_details.image_tokens > 0  # the input images are billed as image tokens
    sent = emulator.requests_for("openai")[-1]
    assert sent.path == "/images/edits" and sent.content_type.startswith("multipart/form-data")
    assert [name for name, _ in sent.parts] == ["image[]", "image[]"]
    assert sent.form == {"model": "gpt-image-1.5", "prompt": PROMPT, "input_fidelity": "high", "size": "1024x1024"}


def test_edit_streams_edit_events(client):
    types = sdk("openai.types")
    stream = client.images.edit(
        model="gpt-image-1.5", prompt=PROMPT, image=("one.png", png(), "image/png"), stream=True, partial_images=1
    )
    assert [type(e) for e in stream] == [types.ImageEditPartialImageEvent, types.ImageEditCompletedEvent]


def test_edit_refuses_what_the_sdk_docs_refuse(client):
    openai = sdk("openai")
    with pytest.raises(openai.BadRequestError) as err:  # "For gpt-image-2, omit this parameter"
        client.images.edit(
            model="gpt-image-2", prompt=PROMPT, image=("one.png", png(), "image/png"), input_fidelity="high"
        )
    assert err.value.param == "input_fidelity"
    with pytest.raises(openai.BadRequestError) as err:
        client.images.edit(model="gpt-image-1.5", prompt=PROMPT, image=("notes.png", b"not an image", "image/png"))
    assert err.value.param == "image"


@pytest.mark.parametrize(
    "fault,error,status,code",
    [
        ("auth", "AuthenticationError", 401, "invalid_api_key"),
        ("refused", "BadRequestError", 400, "moderation_blocked"),
        ("rate_limit", "RateLimitError", 429, "rate_limit_exceeded"),
        ("quota", "RateLimitError", 429, "insufficient_quota"),
        ("server", "InternalServerError", 500, "server_error"),
    ],
)
def test_error_bodies_parse_into_the_sdk_errors(client, emulator, fault, error, status, code):
    openai = sdk("openai")
    emulator.set_fault("openai", fault)
    with pytest.raises(getattr(openai, error)) as err:
        client.images.generate(model="gpt-image-1.5", prompt=PROMPT)
    assert (err.value.status_code, err.value.code) == (status, code)
    assert err.value.message and err.value.type and err.value.request_id.startswith("req_")


def test_an_unknown_model_is_not_found(client):
    openai = sdk("openai")
    with pytest.raises(openai.NotFoundError) as err:
        client.images.generate(model="gpt-image-9", prompt=PROMPT)
    assert err.value.code == "model_not_found" and err.value.param == "model"


# -- answer shapes: b64_json and url -------------------------------------------------------------


@pytest.mark.parametrize("response_format", [None, "url", "b64_json"])
def test_dalle_answers_a_url_or_base64_as_asked(client, response_format):
    kwargs = {"response_format": response_format} if response_format else {}
    answer = client.images.generate(model="dall-e-3", prompt=PROMPT, size="1792x1024", **kwargs)
    item = answer.data[0]
    assert item.revised_prompt == PROMPT and answer.usage is None
    if response_format == "b64_json":
        assert item.url is None and picture(item.b64_json).size == (1792, 1024)
    else:  # url is the default
        assert item.b64_json is None and httpx.get(item.url).status_code == 200


# -- the same run, from the adapter and from the SDK ---------------------------------------------


def adapter_run(make_provider, make_call, sink, **fields):
    provider = make_provider("openai")

    async def go():
        async with httpx.AsyncClient(timeout=10) as http:
            return await provider.generate(make_call(provider, **fields), http, sink)

    return asyncio.run(go())


# headers only the SDK sends: its telemetry, none of which the API documents as required
SDK_ONLY_HEADERS = {
    "x-stainless-lang",
    "x-stainless-package-version",
    "x-stainless-os",
    "x-stainless-arch",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-async",
    "x-stainless-retry-count",
    "x-stainless-read-timeout",
}


def test_the_adapter_sends_what_the_sdk_sends_for_one_image(client, emulator, make_provider, make_call, sink):
    adapter_run(make_provider, make_call, sink, prompt=PROMPT, size="1024x1024")
    client.images.generate(model="gpt-image-1.5", prompt=PROMPT, n=1, size="1024x1024")
    ours, theirs = emulator.requests_for("openai")
    assert (ours.method, ours.path) == (theirs.method, theirs.path) == ("POST", "/images/generations")
    assert ours.headers["authorization"] == theirs.headers["authorization"] == "Bearer <redacted>"
    assert ours.content_type == theirs.content_type == "application/json"
    assert ours.json == theirs.json == {"model": "gpt-image-1.5", "prompt": PROMPT, "n": 1, "size": "1024x1024"}
    assert set(theirs.headers) - set(ours.headers) == SDK_ONLY_HEADERS  # listed in docs/providers.md
    assert theirs.headers["accept"] == "application/json" and ours.headers["accept"] == "*/*"


def test_the_adapter_sends_references_as_the_sdk_sends_an_image_list(client, emulator, make_provider, make_call, sink):
    data = [png(colour=(200, 0, 0)), png(colour=(0, 0, 200))]
    refs = tuple(
        ReferenceImage(data=d, mime="image/png", sha256=hashlib.sha256(d).hexdigest(), width=48, height=32)
        for d in data
    )
    outcome = adapter_run(make_provider, make_call, sink, prompt=PROMPT, size="1024x1024", references=refs)
    client.images.edit(
        model="gpt-image-1.5",
        prompt=PROMPT,
        n=1,
        size="1024x1024",
        image=[(f"reference-{i + 1}.png", d, "image/png") for i, d in enumerate(data)],
    )
    ours, theirs = emulator.requests_for("openai")
    assert (ours.method, ours.path) == (theirs.method, theirs.path) == ("POST", "/images/edits")
    assert ours.content_type.startswith("multipart/form-data") and theirs.content_type.startswith("multipart/form-data")
    assert ours.form == theirs.form == {"model": "gpt-image-1.5", "prompt": PROMPT, "n": "1", "size": "1024x1024"}
    assert ours.parts == theirs.parts and [name for name, _ in ours.parts] == ["image[]", "image[]"]
    assert 0 in sink.images and outcome.cost_usd > 0 and "image in" in outcome.cost_rule
