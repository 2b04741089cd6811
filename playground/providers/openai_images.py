"""`openai`: OpenAI Images, single-image baselines (GPT image models bill tokens).

Wire protocol ([sdk] openai-python 3.57.0 types, [3p] pricing pages, [guess] unconfirmed):
- POST {OPENAI_BASE_URL}/images/generations, `Authorization: Bearer OPENAI_API_KEY` [sdk].
- Body: model, prompt, n (= frames = 1: one image per call, the core runs N calls), size
  [sdk]. Nothing else: quality stays "auto", GPT image models always answer b64_json and take
  no response_format [sdk]; dall-e-3 answers a URL by default (the core downloads it).
- Answer: {"created", "data": [{"b64_json"} | {"url"}], "usage": {"input_tokens",
  "input_tokens_details": {"text_tokens", "image_tokens"}, "output_tokens", "total_tokens"}}
  [sdk]. The cost is computed from usage with the token rates below [3p]; dall-e-3 reports no
  usage, so the price table applies.
- Sizes: 1024x1024, 1536x1024, 1024x1536, auto; gpt-image-2 any WxH in multiples of 16, ratio
  1:3 to 3:1, at most 3840x2160 [sdk];
  dall-e-3 1024x1024, 1792x1024, 1024x1792 [sdk].
- dall-e-3 was retired 2026-05-12 and gpt-image-1 shuts down 2026-10-23 [sdk]: listed for
  gateways that still serve them (OPENAI_BASE_URL), never the default.
- Errors {"error": {"message", "type", "param", "code"}}; moderation refusals are 400 [sdk].
- Request id: the `x-request-id` response header [sdk].
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import httpx

from playground import pricing
from playground.errors import InputError
from playground.pricing import Price
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, parse_wh, scrub
from playground.types import CallOutcome, ModelInfo, ProviderCall

GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")

# USD per 1M tokens: (text input, image input, image output)
TOKEN_RATES: dict[str, tuple[float, float, float]] = {
    "gpt-image-1.5": (5.0, 8.0, 32.0),  # [3p] llmreference.com, OpenAI price page mirrors
    "gpt-image-2": (5.0, 8.0, 30.0),  # [3p] providers.md
    "gpt-image-1-mini": (2.0, 2.5, 8.0),  # [3p]
    "gpt-image-1": (5.0, 10.0, 40.0),  # [3p]
}

# Prices per image, by size and quality [3p: the per-image tables OpenAI's pricing page shows,
# mirrored by fal's gpt-image-1 page and docs.apiyi.com]. The typical estimate is medium quality;
# the worst case is high quality, because the adapter sends no `quality` and `auto` may pick
# high. A size not in a table ("auto") costs its dearest entry. dall-e-3 is sent without
# `quality`, so standard: its table is both. The actual cost comes from the usage tokens.
# gpt-image-2 takes any WxH (multiples of 16, up to 3840x2160, ratio 1:3 to 3:1 [sdk 3.57.0
# image_generate_params.py]) and no per-size table is published: its typical price is the
# medium 1024x1024 figure ($0.053 [3p]) scaled by area, its worst case the high one ($0.211,
# about 7024 output tokens at $30/M [3p]) scaled up by area and never down. The calculator
# figures seen (7024 tokens at 1024x1024, 5488 at 1536x1024, 12329 at 3584x2048 [3p]) grow
# less than the area, so this bound is safe for them and about 4x high at the largest size
# [guess: no formula is published]; "auto" is bounded at the largest size.
_PORTRAIT, _LANDSCAPE = "1024x1536", "1536x1024"


def _table(square: float, other: float) -> tuple[tuple[str, float], ...]:
    return (("1024x1024", square), (_PORTRAIT, other), (_LANDSCAPE, other))


_GPT_SOURCE = "(actual cost from usage tokens) [3p]"
pricing.register_prices({
    ("openai", "gpt-image-1.5"): Price(0.034, f"gpt-image-1.5 medium: $0.034 at 1024x1024, $0.05 other sizes {_GPT_SOURCE}",
                                       by_size=_table(0.034, 0.05), most_by_size=_table(0.133, 0.20),
                                       most_source="high quality: $0.133 / $0.20 [3p]", text_in_per_mtok=5.0),
    ("openai", "gpt-image-2"): Price(0.053, f"gpt-image-2 medium 1024x1024 $0.053, scaled by area {_GPT_SOURCE}",
                                     quoted_for=(1024, 1024), most=0.211, most_for_unknown=(3840, 2160),
                                     most_source="high quality 1024x1024 $0.211, scaled up by area [3p, bound guessed]",
                                     text_in_per_mtok=5.0),
    ("openai", "gpt-image-1-mini"): Price(0.011, f"gpt-image-1-mini medium: $0.011 / $0.015 {_GPT_SOURCE}",
                                          by_size=_table(0.011, 0.015), most_by_size=_table(0.036, 0.052),
                                          most_source="high quality: $0.036 / $0.052 [3p]", text_in_per_mtok=2.0),
    ("openai", "gpt-image-1"): Price(0.042, f"gpt-image-1 medium: $0.042 / $0.063 (retired 2026-10-23) {_GPT_SOURCE}",
                                     by_size=_table(0.042, 0.063), most_by_size=_table(0.167, 0.25),
                                     most_source="high quality: $0.167 / $0.25 [3p]", text_in_per_mtok=5.0),
    ("openai", "dall-e-3"): Price(0.04, "DALL-E 3 standard: $0.04 at 1024x1024, $0.08 at 1792x1024 / 1024x1792 "
                                  "(retired 2026-05-12) [seed figure, 3p]",
                                  by_size=(("1024x1024", 0.04), ("1792x1024", 0.08), ("1024x1792", 0.08))),
    ("openai", "*"): Price(0.053, "OpenAI fallback: the gpt-image-2 figures [guess]", quoted_for=(1024, 1024),
                           most=0.211, most_for_unknown=(3840, 2160), text_in_per_mtok=5.0),
})


def token_rates(model: str) -> tuple[float, float, float] | None:
    """The model's token rates; a dated snapshot (gpt-image-1.5-2025-12-16) has its base model's."""
    base = pricing.snapshot_base(model)
    return TOKEN_RATES.get(model) or (TOKEN_RATES.get(base) if base else None)


def _count(value: Any) -> float:
    """A token count from `usage`: a missing or null field counts 0."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def token_cost(model: str, usage: Any) -> float | None:
    """USD from a GPT image `usage` block; None when the model's rates or the usage are unknown."""
    rates = token_rates(model)
    if rates is None or not isinstance(usage, dict):
        return None
    text_rate, image_in_rate, out_rate = rates
    inp = _count(usage.get("input_tokens"))
    details = usage.get("input_tokens_details")
    details = details if isinstance(details, dict) else {}
    image_in = _count(details.get("image_tokens"))
    text = details.get("text_tokens")  # null or absent: the input tokens that are not image tokens
    text_in = _count(text) if isinstance(text, (int, float)) else max(0.0, inp - image_in)
    out = _count(usage.get("output_tokens"))
    cost = (text_in * text_rate + image_in * image_in_rate + out * out_rate) / 1_000_000
    return round(cost, 6)


def cost_from_usage(model: str, usage: Any) -> tuple[float | None, str]:
    """(cost, cost_rule): from the tokens when it can be, else why the price table applies."""
    cost = token_cost(model, usage)
    if cost is not None:
        base = pricing.snapshot_base(model) if model not in TOKEN_RATES else None
        rates = f" ({base}'s rates: {model} is a dated snapshot)" if base else ""
        return cost, f"usage tokens x token rates (text in, image in, image out){rates}"
    if not isinstance(usage, dict):
        return None, "images x price per image (no usage reported)"
    return None, f"images x price per image (usage reported, but no token rates known for {model})"


class OpenAIImagesProvider(HttpProvider):
    name = "openai"
    label = "OpenAI Images"
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    models = (
        ModelInfo(id="gpt-image-1.5", label="GPT Image 1.5", sizes=GPT_SIZES),
        ModelInfo(id="gpt-image-2", label="GPT Image 2 (WxH in multiples of 16)", max_side=3840,
                  max_pixels=3840 * 2160, max_aspect=3.0),  # [sdk 3.57.0 image_generate_params.py]
        ModelInfo(id="gpt-image-1-mini", label="GPT Image 1 mini", sizes=GPT_SIZES),
        ModelInfo(id="dall-e-3", label="DALL-E 3 (retired 2026-05-12)", sizes=DALLE3_SIZES, retired=True),
        ModelInfo(id="gpt-image-1", label="GPT Image 1 (retired 2026-10-23)", sizes=GPT_SIZES, retired=True),
    )
    max_concurrency = 4
    protocol = "POST /images/generations (JSON), one image per call, b64_json back"
    billing_rule = "tokens from the response's usage (dall-e-3: per image) [sdk]"

    def validate(self, call: ProviderCall) -> None:
        super().validate(call)
        if call.model == "gpt-image-2" and call.size != "auto":
            wh = parse_wh(call.size)
            if not wh or wh[0] % 16 or wh[1] % 16:
                raise InputError(f"openai/gpt-image-2 takes WxH in multiples of 16 or 'auto', not {call.size!r}")

    def refine(self, status: int, code: str, message: str) -> str | None:
        if code in ("moderation_blocked", "content_policy_violation"):
            return "content"
        if code in ("insufficient_quota", "billing_hard_limit_reached"):
            return "quota"
        return None

    def body(self, call: ProviderCall) -> dict[str, Any]:
        return {"model": call.model, "prompt": call.prompt, "n": call.frames, "size": call.size}

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = self.body(call)
        outcome = CallOutcome(sent_fields=scrub(body))
        data, resp = await self.create(client, f"{self.base_url}/images/generations", call, body)
        outcome.request_id = resp.headers.get("x-request-id", "")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self.ctx(call).error("malformed", "answer has no data list", may_be_billed=True)
        returned = 0
        for i, item in enumerate(items):
            item = item if isinstance(item, dict) else {}
            if item.get("b64_json"):
                try:
                    await sink.image(i, base64.b64decode(item["b64_json"], validate=True))
                    returned += 1
                except (binascii.Error, ValueError):
                    await sink.failed(i, "provider sent an unreadable base64 image")
            elif item.get("url"):
                await sink.url(i, item["url"])
                returned += 1
            else:
                await sink.failed(i, "no image in the answer")
        outcome.images_billed = len(items)
        outcome.usage = data.get("usage")  # the core checks every count in it before the cost is trusted
        outcome.cost_usd, outcome.cost_rule = cost_from_usage(call.model, data.get("usage"))
        return outcome
