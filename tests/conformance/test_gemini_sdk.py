"""Google's official `google-genai` client against the emulator over real HTTP: generate_content
for both image models (a series, references, image size and aspect ratio, seed), the thought
parts, a blocked prompt, an IMAGE_SAFETY stop, the answer shapes, the error bodies; the base URL
from GOOGLE_GEMINI_BASE_URL and the client's default API version; then the adapter's request
and the client's for the same call, compared field by field.

Pointing it here: `genai.Client(api_key=..., vertexai=False, http_options=HttpOptions(base_url=
"http://HOST:PORT/gemini", api_version=...))` takes plain http as it is (no adaptation). The
variables the client reads at construction are cleared first (GEMINI_API_KEY, GOOGLE_API_KEY,
GOOGLE_GEMINI_BASE_URL, GOOGLE_GENAI_API_VERSION, GOOGLE_GENAI_USE_VERTEXAI, ...), so the
machine's own settings cannot point it elsewhere."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from support.sdk import body_differences, png_bytes, reference_image, sdk
from support.sinks import generate as generate_with_adapter

genai = sdk("google.genai")
from google.genai import errors, types  # noqa: E402  (after the skip)

FLASH, PRO = "gemini-2.5-flash-image", "gemini-3-pro-image-preview"
KEY = "sdk-gemini-key-0123456789"
CLIENT_ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_USE_ENTERPRISE",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_GENAI_HTTP_CLIENT",
)
SERIES = "Generate a series of 3 images with the same character: a fox's day"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, emulator):
    for name in CLIENT_ENV:
        monkeypatch.delenv(name, raising=False)
    emulator.image_size = (64, 48)  # small frames: the answer carries them inline


def client(emulator, api_version: str | None = "v1beta", key: str = KEY) -> genai.Client:
    options = types.HttpOptions(base_url=f"{emulator.url}/gemini", api_version=api_version)
    return genai.Client(api_key=key, vertexai=False, http_options=options)


def generate(emulator, model: str = FLASH, contents="a fox", config=None, **options) -> types.GenerateContentResponse:
    """One generate_content call; the client is held while it runs (a client that is garbage
    collected closes its HTTP client)."""
    held = client(emulator, **options)
    return held.models.generate_content(model=model, contents=contents, config=config)


def config(**image: str) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(**image) if image else None
    )


def frames(response: types.GenerateContentResponse) -> list[bytes]:
    """The image parts that are not thoughts: what the adapter takes as frames."""
    return [p.inline_data.data for p in response.candidates[0].content.parts if p.inline_data and not p.thought]


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- the calls -------------------------------------------------------------------------------


def test_a_series_with_a_reference_parses_into_the_sdk_types(emulator):
    reference = types.Part.from_bytes(data=png_bytes(), mime_type="image/png")
    response = generate(
        emulator,
        FLASH,
        [SERIES, reference],
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"], seed=7, image_config=types.ImageConfig(aspect_ratio="16:9")
        ),
    )
    assert isinstance(response, types.GenerateContentResponse) and response.response_id
    candidate = response.candidates[0]
    assert candidate.finish_reason == types.FinishReason.STOP and candidate.content.role == "model"
    images = frames(response)
    assert len(images) == 3 and all(decoded(d).size == (64, 48) for d in images)
    usage = response.usage_metadata
    details = {d.modality: d.token_count for d in usage.candidates_tokens_details}
    assert details[types.MediaModality.IMAGE] == 3 * 1290 and usage.prompt_token_count > 258
    assert usage.total_token_count == usage.prompt_token_count + usage.candidates_token_count
    sent = emulator.requests_for("gemini")[-1]
    assert sent.path == f"/v1beta/models/{FLASH}:generateContent" and sent.headers["x-goog-api-key"] == "<redacted>"
    assert sent.json["generationConfig"] == {
        "seed": 7,
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "16:9"},
    }


def test_the_pro_model_answers_thought_parts_that_are_not_frames(emulator):
    response = generate(emulator, PRO, SERIES, config(aspect_ratio="1:1", image_size="2K"))
    parts = response.candidates[0].content.parts
    thoughts = [p for p in parts if p.thought]
    assert thoughts and any(p.inline_data for p in thoughts)  # an interim image while thinking
    assert len(frames(response)) == 3 and response.usage_metadata.thoughts_token_count > 0
    details = {d.modality: d.token_count for d in response.usage_metadata.candidates_tokens_details}
    assert details[types.MediaModality.IMAGE] == 3 * 1120


def test_image_size_is_refused_where_the_model_draws_1k_only(emulator):
    with pytest.raises(errors.ClientError) as err:
        generate(emulator, FLASH, "a fox", config(image_size="2K"))
    assert err.value.code == 400 and err.value.status == "INVALID_ARGUMENT" and "imageSize" in err.value.message


def test_the_client_default_version_and_the_base_url_variable_reach_the_same_server(emulator, monkeypatch):
    """GOOGLE_GEMINI_BASE_URL is the host root: the client appends the version (v1 by default)."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"{emulator.url}/gemini/")  # a trailing slash is harmless
    held = genai.Client(api_key=KEY, vertexai=False)
    response = held.models.generate_content(model=FLASH, contents="a fox", config=config())
    assert len(frames(response)) == 1
    assert emulator.requests_for("gemini")[-1].path == f"/v1/models/{FLASH}:generateContent"


def test_a_blocked_prompt_has_a_block_reason_and_no_candidates(emulator):
    emulator.set_fault("gemini", "content")
    response = generate(emulator, FLASH, "a fox", config())
    assert response.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert not response.candidates and response.usage_metadata.prompt_token_count > 0


def test_an_image_safety_stop_keeps_the_images_before_it(emulator):
    emulator.set_fault("gemini", "refused")
    response = generate(emulator, FLASH, SERIES, config())
    assert response.candidates[0].finish_reason == types.FinishReason.IMAGE_SAFETY and len(frames(response)) == 1


def test_a_text_only_answer_parses_with_stop_and_no_image(emulator):
    emulator.shapes = {"gemini_text_only"}
    response = generate(emulator, FLASH, "a fox", config())
    assert response.candidates[0].finish_reason == types.FinishReason.STOP and not frames(response)
    assert response.text


@pytest.mark.parametrize("shape", ["gemini_snake_case", "gemini_urlsafe_base64", "gemini_no_token_details"])
def test_each_answer_shape_parses(emulator, shape):
    emulator.shapes = {shape}
    response = generate(emulator, FLASH, SERIES, config())
    assert len(frames(response)) == 3 and all(decoded(d).size == (64, 48) for d in frames(response))
    assert (response.usage_metadata.candidates_tokens_details is None) == (shape == "gemini_no_token_details")


def test_url_safe_base64_from_the_client_is_accepted(emulator):
    """The client sends inline bytes in the URL-safe alphabet with `mime_type` [sdk]."""
    data = png_bytes() + b"\xfb\xff\xfe"  # bytes whose base64 holds '-' and '_' in that alphabet
    generate(emulator, FLASH, ["a fox", types.Part.from_bytes(data=data, mime_type="image/png")], config())
    blob = emulator.requests_for("gemini")[-1].json["contents"][0]["parts"][1]["inlineData"]
    assert set(blob) == {"data", "mime_type"} and ("-" in blob["data"] or "_" in blob["data"])
    assert base64.urlsafe_b64decode(blob["data"]) == data


# -- errors ----------------------------------------------------------------------------------


def test_a_rejected_key_is_a_client_error_with_api_key_invalid(emulator):
    with pytest.raises(errors.ClientError) as err:
        generate(emulator, key="invalid-gemini-key")
    assert err.value.code == 400 and err.value.status == "INVALID_ARGUMENT"
    assert err.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_a_rate_limit_is_resource_exhausted_with_a_retry_delay(emulator):
    emulator.set_fault("gemini", "rate_limit", retry_after=7)
    with pytest.raises(errors.ClientError) as err:
        generate(emulator)
    assert err.value.code == 429 and err.value.status == "RESOURCE_EXHAUSTED"
    assert err.value.details["error"]["details"][0]["retryDelay"] == "7s"
    assert len(emulator.requests_for("gemini")) == 1  # the client retries nothing by default [sdk]


def test_a_server_error_is_a_server_error(emulator):
    emulator.set_fault("gemini", "server")
    with pytest.raises(errors.ServerError) as err:
        generate(emulator)
    assert err.value.code == 500 and err.value.status == "INTERNAL"


def test_several_candidates_are_refused_as_the_api_refuses_them(emulator):
    with pytest.raises(errors.ClientError, match="Multiple candidates is not enabled"):
        generate(emulator, config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"], candidate_count=2))


def test_an_unknown_model_is_not_found(emulator):
    with pytest.raises(errors.ClientError) as err:
        generate(emulator, "gemini-0-image")
    assert err.value.code == 404 and err.value.status == "NOT_FOUND"


# -- the same call, from the adapter and from the client ---------------------------------------

# Each remaining difference, with its reason (docs/providers.md):
#  - the inline image: `mimeType` (the adapter: the REST reference's field name, the one the
#    answer uses too) vs `mime_type` (the client dumps its Blob without aliases); the data in the
#    standard base64 alphabet (the REST docs' `base64`) vs the URL-safe one: the same bytes;
#  - headers: the client's `x-goog-api-client` and `user-agent` name it.
KNOWN_HEADER_DIFFERENCES = {"user-agent", "x-goog-api-client"}


def test_the_adapter_sends_what_the_client_sends(emulator, make_provider, make_call, sink):
    ref = reference_image(colour=(10, 200, 30))
    provider = make_provider("gemini")
    call = make_call(provider, model=PRO, prompt=SERIES, frames=3, size="2752x1536", seed=5, references=(ref,))

    outcome = generate_with_adapter(provider, call, sink)
    ours = emulator.requests_for("gemini")[-1]
    response = generate(
        emulator,
        PRO,
        [SERIES, types.Part.from_bytes(data=ref.data, mime_type=ref.mime)],
        types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            seed=5,
            image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K"),
        ),
    )
    theirs = emulator.requests_for("gemini")[-1]
    assert (ours.method, ours.path) == (theirs.method, theirs.path) == ("POST", f"/v1beta/models/{PRO}:generateContent")
    assert ours.headers["x-goog-api-key"] == theirs.headers["x-goog-api-key"] == "<redacted>"
    assert ours.content_type == theirs.content_type == "application/json" and not ours.query and not theirs.query
    assert body_differences(ours.json, theirs.json) == {"contents": (ours.json["contents"], theirs.json["contents"])}
    assert ours.json["generationConfig"] == theirs.json["generationConfig"]
    (our_turn,), (their_turn,) = ours.json["contents"], theirs.json["contents"]
    assert our_turn["role"] == their_turn["role"] == "user" and our_turn["parts"][0] == their_turn["parts"][0]
    ours_blob, theirs_blob = our_turn["parts"][1]["inlineData"], their_turn["parts"][1]["inlineData"]
    assert (ours_blob["mimeType"], theirs_blob["mime_type"]) == ("image/png", "image/png")
    assert base64.b64decode(ours_blob["data"]) == base64.urlsafe_b64decode(theirs_blob["data"]) == ref.data
    differing = {
        h
        for h in set(ours.headers) | set(theirs.headers)
        if h not in ("content-length", "host") and ours.headers.get(h) != theirs.headers.get(h)
    }
    assert differing == KNOWN_HEADER_DIFFERENCES
    # and both read the same frames from their answers
    assert len(sink.images) == len(frames(response)) == 3 and outcome.images_billed == 3
