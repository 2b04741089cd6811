"""OpenAI Images, Stability SD3 and fal (single-image providers) against the emulator."""

from __future__ import annotations

import asyncio
import hashlib
import io

import httpx
import pytest
from PIL import Image

from playground.base import pricing
from playground.base.errors import InputError, ProviderError
from playground.base.types import CallOutcome, ReferenceImage
from playground.providers.adapters.fal import FalProvider
from playground.providers.adapters.openai import OpenAIImagesProvider, cost_from_usage, token_cost
from playground.providers.adapters.stability import aspect_ratio


def run(coro):
    return asyncio.run(coro)


async def generate(provider, call, sink, timeout=10.0):
    async with httpx.AsyncClient(timeout=timeout) as client:
        outcome = await provider.generate(call, client, sink)
        images = await sink.download(client)
    return outcome, images


def png(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (1, 2, 3)).save(buf, format="PNG")
    return buf.getvalue()


def reference(size=(40, 30)) -> ReferenceImage:
    data = png(size)
    return ReferenceImage(
        data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=size[0], height=size[1]
    )


# -- OpenAI ----------------------------------------------------------------------------------


def test_openai_contract_and_token_cost(emulator, make_provider, make_call, sink):
    p = make_provider("openai")
    call = make_call(p, size="1024x1024", seed=5)
    outcome, images = run(generate(p, call, sink))
    sent = emulator.requests_for("openai")[-1]
    assert sent.path == "/images/generations" and sent.json == {
        "model": "gpt-image-1.5",
        "prompt": call.prompt,
        "n": 1,
        "size": "1024x1024",
    }
    assert list(images) == [0] and images[0].size == (1024, 1024) and 0 in sink.images  # b64, not a URL
    text = max(1, len(call.prompt) // 4)
    # 1056 image output tokens at $32/M and 96 text output tokens at $10/M (output_tokens_details)
    assert outcome.cost_usd == pytest.approx((text * 5.0 + 1056 * 32.0 + 96 * 10.0) / 1e6)
    assert outcome.cost_rule == "usage tokens x token rates (text in, image in, image out, text out)"
    assert outcome.images_billed == 1 and outcome.request_id.startswith("req_") and outcome.seed_sent is None


def test_openai_token_cost_uses_input_details():
    usage = {
        "input_tokens": 300,
        "input_tokens_details": {"text_tokens": 100, "image_tokens": 200},
        "output_tokens": 4160,
        "total_tokens": 4460,
    }
    assert token_cost("gpt-image-1-mini", usage) == pytest.approx((100 * 2.0 + 200 * 2.5 + 4160 * 8.0) / 1e6)
    assert token_cost("dall-e-3", usage) is None and token_cost("gpt-image-1.5", None) is None


def test_openai_null_token_details_do_not_crash():
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"text_tokens": None, "image_tokens": None},
        "output_tokens": 1056,
        "total_tokens": 1106,
    }
    assert token_cost("gpt-image-1.5", usage) == pytest.approx((50 * 5.0 + 1056 * 32.0) / 1e6)
    assert token_cost(
        "gpt-image-1.5", {"input_tokens": None, "input_tokens_details": None, "output_tokens": 1056}
    ) == pytest.approx(1056 * 32.0 / 1e6)


def test_openai_dated_snapshot_is_billed_with_its_base_models_token_rates(emulator, make_provider, make_call, sink):
    p = make_provider("openai")
    call = make_call(p, model="gpt-image-1.5-2025-12-16", size="1024x1024")
    outcome, images = run(generate(p, call, sink))
    assert emulator.requests_for("openai")[-1].json["model"] == "gpt-image-1.5-2025-12-16" and len(images) == 1
    text = max(1, len(call.prompt) // 4)
    assert outcome.cost_usd == pytest.approx((text * 5.0 + 1056 * 32.0 + 96 * 10.0) / 1e6)
    assert "usage tokens" in outcome.cost_rule and "gpt-image-1.5's rates" in outcome.cost_rule
    price = OpenAIImagesProvider.price("gpt-image-1.5-2025-12-16")
    assert price.usd == 0.034 and not price.estimated and "snapshot of gpt-image-1.5" in price.source


def test_openai_cost_rule_says_why_the_price_table_applies():
    assert cost_from_usage("dall-e-3", None) == (None, "images x price per image (no usage reported)")
    cost, rule = cost_from_usage("gpt-image-9", {"input_tokens": 10, "output_tokens": 100})
    assert cost is None and "usage reported, but no token rates known for gpt-image-9" in rule


@pytest.mark.parametrize(
    "model,size,per_image,most",
    [
        ("gpt-image-1.5", "1024x1024", 0.034, 0.133),
        ("gpt-image-1.5", "1536x1024", 0.05, 0.20),
        ("gpt-image-1.5", "auto", 0.05, 0.20),  # the model picks the size: the dearest listed one
        ("gpt-image-1-mini", "1024x1536", 0.015, 0.052),
        ("gpt-image-2", "2048x2048", 0.212, 0.844),
        ("gpt-image-2", "512x512", 0.01325, 0.211),  # the worst case never shrinks below the 1024x1024 figure
        ("gpt-image-2", "auto", 0.053, 0.211 * 3840 * 2160 / 1024**2),  # auto: bounded at the largest size
        ("dall-e-3", "1792x1024", 0.08, 0.08),
    ],
)
def test_openai_prices_by_size_typical_and_worst(make_provider, model, size, per_image, most):
    price = OpenAIImagesProvider.price(model)
    assert price.per_image(size) == pytest.approx(per_image)
    assert price.most_per_image(size) == pytest.approx(most, abs=1e-6)


def test_openai_dalle3_url_answer_and_table_price(emulator, make_provider, make_call, sink):
    p = make_provider("openai")
    outcome, images = run(generate(p, make_call(p, model="dall-e-3", size="1792x1024"), sink))
    assert 0 in sink.urls and images[0].size == (1792, 1024)
    assert outcome.cost_usd is None and outcome.images_billed == 1


def test_openai_models_sizes_and_retired_labels(make_provider, make_call):
    p = make_provider("openai")
    assert p.default_model() == "gpt-image-1.5"
    labels = {m.id: m.label for m in p.models}
    assert "(retired 2026-05-12)" in labels["dall-e-3"] and "(retired 2026-10-23)" in labels["gpt-image-1"]
    assert all(not m.native_sequence and m.max_frames == 1 for m in p.models)
    with pytest.raises(InputError):
        p.validate(make_call(p, size="512x512"))
    p.validate(make_call(p, model="gpt-image-2", size="1280x720"))
    with pytest.raises(InputError, match="16"):
        p.validate(make_call(p, model="gpt-image-2", size="1000x700"))
    with pytest.raises(InputError):
        p.validate(make_call(p, frames=2, size="1024x1024"))


@pytest.mark.parametrize(
    "fault,kind", [("refused", "content"), ("quota", "quota"), ("auth", "auth"), ("job_failed", "server")]
)
def test_openai_errors(emulator, make_provider, make_call, sink, fault, kind):
    emulator.set_fault("openai", fault)
    p = make_provider("openai")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, size="1024x1024"), sink))
    assert err.value.kind == kind
    if kind == "auth":
        assert "key rejected" in str(err.value) and "OPENAI_API_KEY" in str(err.value)


def test_openai_reset_after_send_is_not_resent(emulator, make_provider, make_call, sink):
    emulator.set_fault("openai", "reset")
    p = make_provider("openai")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, size="1024x1024"), sink))
    assert err.value.kind == "network" and err.value.may_be_billed
    assert len(emulator.requests_for("openai")) == 1


# -- Stability -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size,ratio",
    [
        ("1024x1024", "1:1"),
        ("1920x1080", "16:9"),
        ("1080x1920", "9:16"),
        ("1536x1024", "3:2"),
        ("1024x1280", "4:5"),
        ("2560x1080", "21:9"),
        ("2K", "1:1"),
        ("auto", "1:1"),
    ],
)
def test_stability_aspect_ratio_mapping(size, ratio):
    assert aspect_ratio(size) == ratio


def test_stability_contract_multipart(emulator, make_provider, make_call, sink):
    p = make_provider("stability")
    call = make_call(p, size="1920x1080", seed=1234)
    outcome, images = run(generate(p, call, sink))
    sent = emulator.requests_for("stability")[-1]
    assert sent.content_type.startswith("multipart/form-data") and sent.path == "/stable-image/generate/sd3"
    assert sent.form == {
        "prompt": call.prompt,
        "model": "sd3.5-large",
        "mode": "text-to-image",
        "aspect_ratio": "16:9",
        "seed": "1234",
        "output_format": "png",
    }
    assert sent.headers["accept"] == "application/json" and sent.headers["authorization"] == "Bearer <redacted>"
    assert list(images) == [0] and images[0].size == (1344, 768)
    assert outcome.seed_sent == 1234 and outcome.images_billed == 1
    assert p.billed_images(call, outcome, 1) == 1


def test_stability_no_seed_when_none(emulator, make_provider, make_call, sink):
    p = make_provider("stability")
    outcome, _ = run(generate(p, make_call(p, seed=None), sink))
    assert "seed" not in emulator.requests_for("stability")[-1].form and outcome.seed_sent is None


def test_stability_reference_is_image_to_image(emulator, make_provider, make_call, sink):
    data = png()
    ref = ReferenceImage(data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=40, height=30)
    p = make_provider("stability")
    outcome, _ = run(generate(p, make_call(p, references=(ref,)), sink))
    sent = emulator.requests_for("stability")[-1]
    assert sent.form["mode"] == "image-to-image" and "aspect_ratio" not in sent.form and sent.form["strength"] == "0.6"
    assert sent.files["image"]["size"] == len(data) and sent.files["image"]["content_type"] == "image/png"
    assert "bytes" in outcome.sent_fields["image"]


def test_stability_content_filtered_is_a_failed_frame_still_billed(emulator, make_provider, make_call, sink):
    emulator.set_fault("stability", "refused")
    p = make_provider("stability")
    call = make_call(p)
    outcome, images = run(generate(p, call, sink))
    assert images == {} and "CONTENT_FILTERED" in sink.failures[0]
    assert p.billed_images(call, outcome, 0) == 1


@pytest.mark.parametrize(
    "fault,kind,status",
    [("content", "content", 403), ("quota", "quota", 402), ("auth", "auth", 401), ("invalid_key", "auth", 401)],
)
def test_stability_errors(emulator, make_provider, make_call, sink, fault, kind, status):
    p = make_provider("stability")
    call = make_call(p)
    if fault == "invalid_key":
        call = make_call(p, api_key="invalid-stability-0000000")
    else:
        emulator.set_fault("stability", fault)
    with pytest.raises(ProviderError) as err:
        run(generate(p, call, sink))
    assert (err.value.kind, err.value.status) == (kind, status)
    assert "invalid-stability-0000000" not in str(err.value)


def test_stability_image_bytes_answer_via_mock_transport(make_provider, make_call, sink):
    data = png((64, 48))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=data, headers={"content-type": "image/png", "finish-reason": "SUCCESS", "seed": "99"}
        )

    async def go():
        p = make_provider("stability")
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await p.generate(make_call(p), client, sink)

    run(go())
    assert sink.images[0] == data


# -- fal -------------------------------------------------------------------------------------


def test_fal_contract_queue_flow(emulator, make_provider, make_call, sink):
    emulator.latency_s = (
        1.5  # queued for 0.45 s: the first poll (at once after the submit) sees IN_QUEUE even under load
    )
    p = make_provider("fal")
    call = make_call(p, size="512x384", seed=77)
    outcome, images = run(generate(p, call, sink))
    create = emulator.requests_for("fal", "POST")[-1]
    assert create.path == "/fal-ai/flux-pro/v1.1" and create.headers["authorization"] == "Key <redacted>"
    assert create.json == {
        "prompt": call.prompt,
        "num_images": 1,
        "image_size": {"width": 512, "height": 384},
        "seed": 77,
    }
    gets = [r.path for r in emulator.requests_for("fal", "GET")]
    rid = outcome.request_id
    assert gets[-1] == f"/fal-ai/flux-pro/requests/{rid}" and gets.count(f"/fal-ai/flux-pro/requests/{rid}/status") >= 2
    assert images[0].size == (512, 384) and outcome.seed_sent == 77 and outcome.images_billed == 1
    assert any("queued" in note for _, note in sink.progress_notes)


def test_fal_presets_and_k_sizes(make_provider, make_call):
    p = make_provider("fal")
    assert p.body(make_call(p, size="square_hd"))["image_size"] == "square_hd"
    assert p.body(make_call(p, size="2K"))["image_size"] == {"width": 2048, "height": 2048}
    assert "seed" not in p.body(make_call(p, seed=None))


def test_fal_stuck_request_is_cancelled_at_the_deadline(emulator, make_provider, make_call, sink):
    emulator.set_fault("fal", "stuck")
    emulator.latency_s = 5.0  # stays IN_QUEUE long enough
    p = make_provider("fal", deadline_s=0.3)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == "timeout" and "cancel requested" in str(err.value)
    puts = emulator.requests_for("fal", "PUT")
    assert len(puts) == 1 and puts[0].path.endswith("/cancel")
    assert emulator.cancelled == [puts[0].path.split("/")[-2]]


def test_fal_refused_cancel_is_not_reported_as_requested(emulator, make_provider, make_call, sink):
    emulator.set_fault("fal", "stuck")
    emulator.set_fault("fal", "invalid", on="cancel")  # the queue refuses the PUT
    emulator.latency_s = 5.0
    p = make_provider("fal", deadline_s=0.3)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == "timeout" and "could not cancel it" in str(err.value)
    assert "cancel requested" not in str(err.value) and emulator.cancelled == []
    assert len(emulator.requests_for("fal", "PUT")) == 1  # a 4xx is not retried


def test_fal_nsfw_flag_is_a_failed_frame(emulator, make_provider, make_call, sink):
    emulator.set_fault("fal", "refused")
    p = make_provider("fal")
    call = make_call(p)
    outcome, images = run(generate(p, call, sink))
    assert images == {} and "has_nsfw_concepts" in sink.failures[0]
    assert p.billed_images(call, outcome, 0) == 1


def test_fal_completed_with_error_is_job_failed(emulator, make_provider, make_call, sink):
    emulator.set_fault("fal", "job_failed")
    p = make_provider("fal")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == "job_failed" and "Internal server error" in str(err.value)
    assert "failed (runner_server_error)" in str(err.value) and not err.value.may_be_billed  # the error_type named


def test_fal_result_get_is_retried(emulator, make_provider, make_call, sink):
    emulator.set_fault("fal", "rate_limit", count=1, on="result", retry_after=0.5)
    emulator.set_fault("fal", "server", count=1, on="poll")
    p = make_provider("fal")
    outcome, images = run(generate(p, make_call(p), sink))
    assert len(images) == 1 and 0.5 in p.sleeps


def test_fal_auth_and_validation_errors(emulator, make_provider, make_call, sink):
    p = make_provider("fal")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, api_key="invalid-fal-1234567890"), sink))
    assert err.value.kind == "auth" and "FAL_KEY" in str(err.value) and "invalid-fal-1234567890" not in str(err.value)
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, size="nonsense"), sink))
    assert err.value.kind == "invalid" and err.value.status == 422 and "image_size" in str(err.value)


def test_fal_ignores_foreign_urls_via_mock_transport(make_provider, make_call, sink):
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        if request.method == "POST":
            return httpx.Response(
                200,
                json={
                    "request_id": "r1",
                    "status_url": "https://evil.example/s",
                    "response_url": "https://evil.example/r",
                    "cancel_url": "https://evil.example/c",
                },
            )
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED"})
        return httpx.Response(
            200,
            json={
                "images": [{"url": "https://cdn.example/x.jpg", "width": 1, "height": 1}],
                "seed": 3,
                "has_nsfw_concepts": [False],
            },
        )

    async def go():
        p = make_provider("fal")
        p.base_url = "https://queue.test"
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await p.generate(make_call(p), client, sink)

    run(go())
    assert sink.urls == {0: "https://cdn.example/x.jpg"}
    assert seen[1:] == [
        "GET https://queue.test/fal-ai/flux-pro/requests/r1/status?logs=false",
        "GET https://queue.test/fal-ai/flux-pro/requests/r1",
    ]


def test_fal_price_is_per_megapixel():
    price = FalProvider.price("fal-ai/flux-pro/v1.1")
    assert price.unit == "megapixel"
    assert price.per_image("1024x1024") == pytest.approx(0.04 * 1.048576, rel=1e-4)
    assert pricing.run_cost(price, "2048x2048", 2) == pytest.approx(2 * 0.04 * 4.194304, rel=1e-4)


@pytest.mark.parametrize(
    "size,dims",
    [
        ("2K", (2048, 2048)),
        ("4K", (4096, 4096)),
        ("square_hd", (1024, 1024)),
        ("landscape_16_9", (1024, 576)),
        ("640x480", (640, 480)),
    ],
)
def test_fal_estimate_prices_the_pixels_the_adapter_sends(make_provider, make_call, size, dims):
    p = make_provider("fal")
    sent = p.body(make_call(p, size=size))["image_size"]
    sent_dims = FalProvider.size_presets[sent] if isinstance(sent, str) else (sent["width"], sent["height"])
    priced = FalProvider.priced_size(size)  # a named size as its pixels
    assert sent_dims == dims and pricing.dimensions(priced) == dims
    assert pricing.megapixels(priced) == pytest.approx(dims[0] * dims[1] / 1e6)
    price = FalProvider.price("fal-ai/flux-pro/v1.1")
    assert price.per_image(priced) == pytest.approx(0.04 * dims[0] * dims[1] / 1e6, rel=1e-4)
    assert pricing.megapixels("auto") == 1.0  # unknown pixels: about one megapixel


def test_fal_4k_estimate_is_about_67_cents():
    price = FalProvider.price("fal-ai/flux-pro/v1.1")
    assert price.per_image("4K") == pytest.approx(0.671, abs=0.001)


def test_fal_cost_is_reported_from_the_output_dimensions(emulator, make_provider, make_call, sink):
    emulator.image_size = (1536, 1024)  # the provider answers a bigger image than asked
    p = make_provider("fal")
    outcome, images = run(generate(p, make_call(p, size="1024x1024"), sink))
    assert images[0].size == (1536, 1024)
    assert outcome.cost_usd == pytest.approx(1.572864 * 0.04, abs=1e-6)
    assert "width x height" in outcome.cost_rule and "1.573 MP" in outcome.cost_rule


def test_fal_cost_honours_a_price_override(emulator, make_provider, make_call, sink):
    p = make_provider("fal")
    p.price_overrides = pricing.load_overrides('{"fal/fal-ai/flux-pro/v1.1": {"usd": 0.1, "unit": "megapixel"}}')
    outcome, _ = run(generate(p, make_call(p, size="1000x500"), sink))
    assert outcome.cost_usd == pytest.approx(0.5 * 0.1)


def test_single_image_billing_defaults(make_provider, make_call):
    p = make_provider("fal")
    assert p.billed_images(make_call(p), CallOutcome(images_billed=1), 1) == 1


def test_openai_out_of_quota_429_is_not_retried(emulator, make_provider, make_call, sink):
    """insufficient_quota arrives as a 429, but waiting cannot help: one request, no sleeps."""
    emulator.set_fault("openai", "quota")
    p = make_provider("openai")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p, size="1024x1024"), sink))
    assert err.value.kind == "quota"
    assert len(emulator.requests_for("openai", "POST")) == 1 and p.sleeps == []


# -- answer shapes: every documented shape of an answer is accepted, over HTTP -----------------------


def test_openai_references_go_through_the_edits_endpoint(emulator, make_provider, make_call, sink):
    """The edit path (user references, and a chain's frame 1): the GPT image models take up to 16
    references [sdk]; dall-e-3 none."""
    ref = reference()
    p = make_provider("openai")
    p.validate(make_call(p, size="1024x1024", references=(ref,) * 16))
    with pytest.raises(InputError, match="at most 16 reference image"):
        p.validate(make_call(p, size="1024x1024", references=(ref,) * 17))
    with pytest.raises(InputError, match="takes no reference images"):
        p.validate(make_call(p, model="dall-e-3", size="1024x1024", references=(ref,)))
    outcome, images = run(generate(p, make_call(p, size="1024x1024", references=(ref, ref)), sink))
    sent = emulator.requests_for("openai")[-1]
    assert sent.path == "/images/edits" and [name for name, _ in sent.parts] == ["image[]", "image[]"]
    assert sent.form == {"model": "gpt-image-1.5", "prompt": make_call(p).prompt, "n": "1", "size": "1024x1024"}
    assert images[0].size == (1024, 1024) and outcome.sent_fields["image[]"][0].startswith("<image/png, ")
    # the input images are billed as image input tokens ($8/M for gpt-image-1.5)
    text = max(1, len(make_call(p).prompt) // 4)
    assert outcome.cost_usd == pytest.approx((text * 5.0 + 2 * 323 * 8.0 + 1056 * 32.0 + 96 * 10.0) / 1e6)


@pytest.mark.parametrize(
    "size,ok",
    [
        ("3840x2160", True),
        ("2160x3840", True),
        ("1536x512", True),
        ("1600x512", False),
        ("3840x2176", False),
        ("1000x704", False),
    ],
)
def test_openai_gpt_image_2_sizes_follow_the_sdk_docs(make_provider, make_call, size, ok):
    p = make_provider("openai")
    call = make_call(p, model="gpt-image-2", size=size)
    if ok:
        p.validate(call)
    else:
        with pytest.raises(InputError, match="openai/gpt-image-2 takes|too large for openai/gpt-image-2"):
            p.validate(call)


def test_openai_usage_without_output_details_prices_all_output_as_image(emulator, make_provider, make_call, sink):
    emulator.shapes = {"openai_usage_without_output_details"}
    p = make_provider("openai")
    call = make_call(p, size="1024x1024")
    outcome, images = run(generate(p, call, sink))
    text = max(1, len(call.prompt) // 4)
    assert len(images) == 1 and outcome.cost_usd == pytest.approx((text * 5.0 + (1056 + 96) * 32.0) / 1e6)
    assert "no output_tokens_details, all output tokens at the image rate" in outcome.cost_rule


def test_openai_text_output_without_a_known_price_is_charged_at_the_image_rate():
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
        "output_tokens": 1100,
        "output_tokens_details": {"image_tokens": 1000, "text_tokens": 100},
    }
    cost, rule = cost_from_usage("gpt-image-1-mini", usage)
    assert cost == pytest.approx((10 * 2.0 + 1100 * 8.0) / 1e6) and "no text output price known" in rule
    assert token_cost("gpt-image-2", usage) == pytest.approx((10 * 5.0 + 1000 * 30.0 + 100 * 10.0) / 1e6)


@pytest.mark.parametrize("model,shape", [("gpt-image-1.5", "b64_json"), ("dall-e-3", "url")])
def test_openai_b64_json_and_url_answers(emulator, make_provider, make_call, sink, model, shape):
    p = make_provider("openai")
    size = "1024x1024"
    outcome, images = run(generate(p, make_call(p, model=model, size=size), sink))
    assert images[0].size == (1024, 1024) and outcome.images_billed == 1
    assert (0 in sink.images, 0 in sink.urls) == (shape == "b64_json", shape == "url")


@pytest.mark.parametrize("accept", ["application/json", "image/*"])
@pytest.mark.parametrize("filtered", [False, True])
def test_stability_json_and_image_bytes_answers(emulator, make_provider, make_call, sink, accept, filtered):
    if filtered:
        emulator.set_fault("stability", "refused")
    p = make_provider("stability")
    p.accept = accept
    call = make_call(p, size="1024x1024")
    outcome, images = run(generate(p, call, sink))
    assert emulator.requests_for("stability")[-1].headers["accept"] == accept
    if filtered:
        assert images == {} and "CONTENT_FILTERED" in sink.failures[0]
    else:
        assert images[0].size == (1024, 1024) and images[0].format == "PNG" and sink.failures == {}
    assert outcome.images_billed == 1 and p.billed_images(call, outcome, len(images)) == 1


def test_fal_legacy_completed_without_metrics(emulator, make_provider, make_call, sink):
    emulator.shapes = {"fal_legacy_completed"}
    p = make_provider("fal")
    outcome, images = run(generate(p, make_call(p, size="512x384"), sink))
    assert images[0].size == (512, 384) and outcome.images_billed == 1


def test_fal_sync_mode_data_uri_result_is_decoded(emulator, make_provider, make_call, sink):
    emulator.shapes = {"fal_sync_data_uri"}
    p = make_provider("fal")
    outcome, images = run(generate(p, make_call(p, size="512x384"), sink))
    assert sink.urls == {} and images[0].size == (512, 384)
    assert outcome.cost_usd == pytest.approx(512 * 384 / 1e6 * 0.04, abs=1e-6)


@pytest.mark.parametrize("shapes", [set(), {"fal_error_type_header_only"}])
def test_fal_request_error_type_from_body_or_header(emulator, make_provider, make_call, sink, shapes):
    emulator.shapes = shapes
    emulator.set_fault("fal", "server", count=1)  # the submit: never re-sent after a 5xx
    p = make_provider("fal")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert (err.value.kind, err.value.status) == ("server", 500) and err.value.may_be_billed
    assert "HTTP 500, runner_server_error" in str(err.value)


def test_fal_request_cancelled_elsewhere_is_a_failed_job(emulator, make_provider, make_call, sink):
    """Someone cancels the request while it is queued (the sink's first progress note does it):
    the status is COMPLETED with error_type client_cancelled, as fal-client parses it."""
    emulator.latency_s = 30.0

    async def cancel_on_first_note(fraction: float, note: str = "") -> None:
        for job in emulator.jobs.values():
            job.cancelled = True

    sink.progress = cancel_on_first_note
    p = make_provider("fal")
    with pytest.raises(ProviderError) as err:
        run(generate(p, make_call(p), sink))
    assert err.value.kind == "job_failed" and "(client_cancelled)" in str(err.value)
    assert len(emulator.requests_for("fal", "GET")) == 2  # two status polls, no result fetch


def test_fal_unknown_status_is_raised_as_the_sdk_raises_it(make_provider, make_call, sink):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"request_id": "r1"})
        return httpx.Response(200, json={"status": "PAUSED"})

    async def go():
        p = make_provider("fal")
        p.base_url = "https://queue.test"
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await p.generate(make_call(p), client, sink)

    with pytest.raises(ProviderError) as err:
        run(go())
    assert err.value.kind == "malformed" and "unknown queue status 'PAUSED'" in str(err.value)
    assert err.value.may_be_billed
