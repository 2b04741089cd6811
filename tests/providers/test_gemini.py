"""The `gemini` adapter over HTTP against the emulator: the request (path, key header, parts,
image size and aspect ratio, seed), frames from the inline image parts (thoughts skipped), a
series that comes back short (a partial run with the reason), safety blocks, the answer shapes,
token billing from usageMetadata, and the errors."""

from __future__ import annotations

import base64

import pytest

from playground.base.errors import InputError, ProviderError
from playground.providers.adapters.gemini import GeminiProvider, token_cost, usage_counts
from support.faults import make_playground, run
from support.sdk import reference_image
from support.sinks import generate

FLASH, PRO = "gemini-2.5-flash-image", "gemini-3-pro-image-preview"
SERIES = "Generate a series of 4 images with the same character: a fox's day"


def sent(emulator):
    return emulator.requests_for("gemini", "POST")[-1]


# -- the request -----------------------------------------------------------------------------


def test_the_request_carries_the_key_in_its_header_and_the_references_as_inline_parts(
    small_frames, make_provider, make_call, sink
):
    p = make_provider("gemini")
    refs = (reference_image((10, 20, 200)), reference_image((200, 20, 10)))
    generate(p, make_call(p, model=PRO, prompt=SERIES, frames=4, size="1920x1080", seed=9, references=refs), sink)
    req = sent(small_frames)
    assert req.path == f"/v1beta/models/{PRO}:generateContent" and not req.query
    assert req.headers["x-goog-api-key"] == "<redacted>" and "authorization" not in req.headers
    (turn,) = req.json["contents"]
    assert turn["role"] == "user" and turn["parts"][0] == {"text": SERIES}
    assert [base64.b64decode(part["inlineData"]["data"]) for part in turn["parts"][1:]] == [r.data for r in refs]
    assert all(part["inlineData"]["mimeType"] == "image/png" for part in turn["parts"][1:])
    assert req.json["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "seed": 9,
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "2K"},
    }
    assert req.unknown_fields == []


@pytest.mark.parametrize(
    "model,size,config",
    [
        (PRO, "1024x1024", {"aspectRatio": "1:1", "imageSize": "1K"}),
        (PRO, "4K", {"imageSize": "4K"}),
        (PRO, "3000x4000", {"aspectRatio": "3:4", "imageSize": "4K"}),
        (PRO, "auto", None),
        (FLASH, "1344x768", {"aspectRatio": "16:9"}),  # 2.5 Flash Image draws 1K: no imageSize
        (FLASH, "2048x2048", {"aspectRatio": "1:1"}),
        (FLASH, "1K", None),
    ],
)
def test_sizes_become_an_aspect_ratio_and_a_size_class(
    small_frames, make_provider, make_call, sink, model, size, config
):
    p = make_provider("gemini")
    generate(p, make_call(p, model=model, size=size), sink)
    assert sent(small_frames).json["generationConfig"].get("imageConfig") == config


def test_a_size_class_the_model_does_not_draw_is_refused_before_sending(make_provider, make_call):
    p = make_provider("gemini")
    with pytest.raises(InputError, match="draws 1K images"):
        p.validate(make_call(p, model=FLASH, size="4K"))
    with pytest.raises(InputError, match="at most 3 reference"):
        p.validate(make_call(p, model=FLASH, references=(reference_image(),) * 4))
    p.validate(make_call(p, model=PRO, size="4K", references=(reference_image(),) * 14))


def test_an_unlisted_id_takes_its_family_limits():
    assert GeminiProvider.model("gemini-3.1-pro-image").max_references == 14
    assert GeminiProvider.model("gemini-3.1-flash-image-preview").max_references == 3
    assert GeminiProvider.price("gemini-3.1-flash-image-preview").estimated


# -- frames, shortfalls and refusals through the core ----------------------------------------


def test_a_series_gives_its_image_parts_as_frames_and_skips_the_thoughts(small_frames, data_dir):
    pg = make_playground(small_frames.env(), data_dir)
    record = run(pg, provider="gemini", model=PRO, mode="sequence", frames=4, size="1024x1024").record
    assert record.status == "ok" and record.frames_returned == 4 and record.images_billed == 4, record.error
    assert record.cost_source == "reported" and 0 < record.cost_usd <= record.max_cost_usd
    assert len(record.request_ids) == 1


def test_fewer_images_than_asked_is_a_partial_run_that_says_why(small_frames, data_dir):
    small_frames.set_fault("gemini", "fewer", n=2)
    record = run(
        make_playground(small_frames.env(), data_dir), provider="gemini", mode="sequence", frames=4, size="1024x1024"
    ).record
    assert record.status == "partial" and record.frames_returned == 2 and record.images_billed == 2
    errors = record.frame_errors
    assert set(errors) == {3, 4} and "returned 2 of 4 image(s)" in errors[3]
    assert "finishReason STOP" in errors[3] and "I made 2 images" in errors[3]  # the model's own words


def test_a_blocked_prompt_is_an_error_row_with_the_block_reason_and_its_input_tokens(small_frames, data_dir):
    small_frames.set_fault("gemini", "content")
    record = run(
        make_playground(small_frames.env(), data_dir), provider="gemini", mode="sequence", frames=3, size="1024x1024"
    ).record
    assert record.status == "error" and record.frames_returned == 0 and record.images_billed == 0
    assert "blockReason SAFETY" in record.error
    assert record.cost_source == "reported" and 0 < record.cost_usd < 0.0001  # the prompt's tokens only


def test_an_image_safety_stop_fails_the_frames_after_it_as_refused(small_frames, data_dir):
    small_frames.set_fault("gemini", "refused")
    record = run(
        make_playground(small_frames.env(), data_dir), provider="gemini", mode="sequence", frames=3, size="1024x1024"
    ).record
    assert record.status == "partial" and record.frames_returned == 1
    assert all("refused for content (finishReason IMAGE_SAFETY)" in e for e in record.frame_errors.values())


def test_a_baseline_call_without_an_image_is_a_failed_frame(small_frames, data_dir):
    small_frames.set_fault("gemini", "job_failed", count=1)
    record = run(
        make_playground(small_frames.env(), data_dir), provider="gemini", mode="baseline", frames=3, size="1024x1024"
    ).record
    assert record.status == "partial" and record.frames_returned == 2
    (reason,) = record.frame_errors.values()
    assert "no image (finishReason IMAGE_OTHER)" in reason


def test_a_text_only_answer_quotes_the_model(small_frames, make_provider, make_call, sink):
    small_frames.shapes = {"gemini_text_only"}
    p = make_provider("gemini")
    outcome = generate(p, make_call(p, frames=2, prompt="Generate a series of 2 images"), sink)
    assert not sink.images and outcome.images_billed == 0
    assert "the model said" in sink.failures[0] and "describe this scene" in sink.failures[1]


@pytest.mark.parametrize("shape", ["gemini_snake_case", "gemini_urlsafe_base64"])
def test_both_field_spellings_and_base64_alphabets_are_read(small_frames, make_provider, make_call, sink, shape):
    small_frames.shapes = {shape}
    p = make_provider("gemini")
    generate(p, make_call(p, frames=3, prompt="Generate a series of 3 images"), sink)
    assert sorted(sink.images) == [0, 1, 2] and all(data.startswith(b"\x89PNG") for data in sink.images.values())


# -- billing ------------------------------------------------------------------------------------


def test_the_cost_is_the_usage_tokens_at_the_model_rates(small_frames, make_provider, make_call, sink):
    p = make_provider("gemini")
    outcome = generate(p, make_call(p, model=PRO, frames=2, size="2K", prompt="Generate a series of 2 images"), sink)
    usage = outcome.usage
    image, text = usage["candidatesTokensDetails"]["IMAGE"], usage["candidatesTokensDetails"]["TEXT"]
    assert image == 2 * 1120 and usage["thoughtsTokenCount"] > 0
    expected = (usage["promptTokenCount"] * 2.0 + image * 120.0 + (text + usage["thoughtsTokenCount"]) * 12.0) / 1e6
    assert outcome.cost_usd == pytest.approx(expected, abs=1e-6) and outcome.cost_rule == p.billing_rule


def test_without_the_token_split_every_candidate_token_is_priced_as_image(small_frames, make_provider, make_call, sink):
    small_frames.shapes = {"gemini_no_token_details"}
    p = make_provider("gemini")
    outcome = generate(p, make_call(p, model=FLASH), sink)
    usage = outcome.usage
    assert "candidatesTokensDetails" not in usage
    expected = (usage["promptTokenCount"] * 0.30 + usage["candidatesTokenCount"] * 30.0) / 1e6
    assert outcome.cost_usd == pytest.approx(expected, abs=1e-6)


def test_usage_values_out_of_range_reach_the_core_as_they_came():
    counts = usage_counts(
        {
            "promptTokenCount": -5,
            "candidatesTokenCount": "many",
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1e300}, "junk"],
        }
    )
    assert counts == {
        "promptTokenCount": -5,
        "candidatesTokenCount": "many",
        "candidatesTokensDetails": {"IMAGE": 1e300},
    }  # the core's audit names each one
    assert token_cost(FLASH, counts) is not None  # reading them never raises
    assert usage_counts(None) is None and usage_counts("text") == {"usageMetadata": "text"}


def test_the_worst_case_covers_4k_with_14_references(small_frames, data_dir, tmp_path):
    from PIL import Image

    refs = []
    for i in range(14):
        refs.append(tmp_path / f"ref{i}.png")
        Image.new("RGB", (40, 30), (i * 15, 80, 200)).save(refs[-1])
    record = run(
        make_playground(small_frames.env(), data_dir),
        provider="gemini",
        model=PRO,
        mode="baseline",
        frames=2,
        size="4K",
        references=refs,
    ).record
    assert record.status == "ok", record.error
    assert record.estimate_usd == pytest.approx(2 * 0.24) and record.cost_usd <= record.max_cost_usd


# -- errors ----------------------------------------------------------------------------------


def test_a_rejected_key_names_the_variable(small_frames, make_provider, make_call, sink):
    p = make_provider("gemini")
    with pytest.raises(ProviderError) as err:
        generate(p, make_call(p, api_key="invalid-gemini-0123456789"), sink)
    assert err.value.kind == "auth" and "GEMINI_API_KEY" in str(err.value) and "API_KEY_INVALID" in str(err.value)


def test_a_rate_limit_is_retried_and_its_retry_delay_is_kept(small_frames, make_provider, make_call, sink):
    small_frames.set_fault("gemini", "rate_limit", count=1, retry_after=2)
    p = make_provider("gemini")
    generate(p, make_call(p), sink)
    assert len(small_frames.requests_for("gemini")) == 2 and sink.images  # refused, so re-sent once
    small_frames.set_fault("gemini", "rate_limit", retry_after=7)
    with pytest.raises(ProviderError) as err:
        generate(p, make_call(p), sink)
    assert err.value.kind == "rate_limit" and err.value.retry_after == 7 and "RESOURCE_EXHAUSTED" in str(err.value)


def test_a_server_error_may_have_been_billed(small_frames, make_provider, make_call, sink):
    small_frames.set_fault("gemini", "server")
    p = make_provider("gemini")
    with pytest.raises(ProviderError) as err:
        generate(p, make_call(p), sink)
    assert err.value.kind == "server" and err.value.may_be_billed and len(small_frames.requests_for("gemini")) == 1


def test_usage_out_of_range_is_counted_at_the_worst_case_and_named(small_frames, data_dir):
    small_frames.shapes = {"gemini_usage_out_of_range"}
    record = run(
        make_playground(small_frames.env(), data_dir), provider="gemini", mode="sequence", frames=2, size="1024x1024"
    ).record
    assert record.frames_returned == 2 and "usage.candidatesTokenCount" in record.error
    assert record.cost_usd == pytest.approx(record.max_cost_usd) and "worst case" in record.cost_source
