"""`openai`: OpenAI Images, single-image baselines (GPT image models bill tokens).

Wire protocol. Checked by the official SDK against the emulator (tests/conformance/
test_openai_sdk.py), marked [sdk openai 3.57.0 FILE]; otherwise [doc], [3p] or [guess]:
- POST {OPENAI_BASE_URL}/images/generations (JSON), `Authorization: Bearer OPENAI_API_KEY`
  [sdk openai 3.57.0 openai/resources/images.py]. Body: model, prompt, n (= frames = 1: one
  image per call, the core runs N calls), size: the same four fields the SDK sends for the same
  call (compared field by field). Nothing else: quality stays "auto", output_format png.
- With reference images: POST {base}/images/edits, multipart, each image an `image[]` part
  (as the SDK sends a list of images), the other fields as form values; up to 16 images for
  the GPT image models gpt-image-1-mini, gpt-image-1.5, gpt-image-2 [sdk
  openai/types/image_edit_params.py `image`]. No `input_fidelity`: low by default on 1.5 and
  mini, and gpt-image-2 takes none [sdk same file]. The estimate prices each reference as
  image input tokens (REFERENCE_TOKENS); a chain sends frame 1 this way.
- Answer: {"created", "data": [{"b64_json"} | {"url"}], "usage": {"input_tokens",
  "input_tokens_details": {"text_tokens", "image_tokens"}, "output_tokens",
  "output_tokens_details": {"image_tokens", "text_tokens"}, "total_tokens"}} [sdk
  openai/types/images_response.py, image.py]. GPT image models answer b64_json; dall-e answers
  a URL unless response_format b64_json: both are read. The cost is computed from usage, each
  count at its rate (text in, image in, text out, image out [3p]); without
  output_tokens_details (older answers: the SDK types it Optional) all output is image output.
  dall-e-3 reports no usage, so the price table applies.
- No streaming, on purpose: `stream: true` answers server-sent events with partial images
  [sdk openai/types/image_gen_stream_event.py], but (1) the completed event's usage has no
  output_tokens_details [sdk openai/types/image_gen_completed_event.py], so the text/image
  split of the cost would be lost; (2) partial images are previews, not frames, and a call is
  one image, so the frame comes no sooner; (3) partial images cost extra output tokens [guess:
  OpenAI's guide is said to put it at 100 tokens each].
- Sizes: 1024x1024, 1536x1024, 1024x1536, auto; gpt-image-2 any WxH in multiples of 16, ratio
  1:3..3:1, at most 3840x2160; dall-e-3 1024x1024, 1792x1024, 1024x1792 [sdk
  openai/types/image_generate_params.py].
- dall-e-3 was retired 2026-05-12 and gpt-image-1 shut down 2026-10-23 [sdk
  openai/types/image_model.py]: listed for gateways that still serve them, never the default.
- Errors {"error": {"message", "type", "param", "code"}}; moderation refusals are 400 [sdk
  openai/_client.py `_make_status_error`, openai/_exceptions.py]. Request id: the
  `x-request-id` response header [sdk openai/_exceptions.py].
- The SDK waits 600 s for an answer [sdk openai/_constants.py]; the core's client waits 180 s
  (one timeout for every provider, in core.py). Unlike the SDK (2 retries of any request on
  408/409/429/5xx), a generation is never re-sent after a 5xx or a timeout: it may have been
  billed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import httpx

from playground.base import pricing
from playground.base.errors import InputError
from playground.base.pricing import Price, parse_wh
from playground.base.types import CallOutcome, ModelInfo, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, json_body, scrub

GPT_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")


@dataclass(frozen=True)
class TokenRates:
    """USD per 1M tokens. `text_out` None: no text output price found for the model."""

    text_in: float
    image_in: float
    text_out: float | None
    image_out: float


TOKEN_RATES: dict[str, TokenRates] = {
    # [3p] llmreference.com and OpenAI price page mirrors; text out $10 [3p robotsatlas.com citing openai.com/api/pricing]
    "gpt-image-1.5": TokenRates(5.0, 8.0, 10.0, 32.0),
    "gpt-image-2": TokenRates(5.0, 8.0, 10.0, 30.0),  # [3p] robotsatlas.com citing openai.com/api/pricing
    # the model pages list text as input only [doc developers.openai.com/api/docs/models/gpt-image-1-mini]
    "gpt-image-1-mini": TokenRates(2.0, 2.5, None, 8.0),
    "gpt-image-1": TokenRates(5.0, 10.0, None, 40.0),  # [3p]
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


# GPT image models take up to 16 reference images through /images/edits [sdk openai 3.57.0
# openai/types/image_edit_params.py `image`], billed as image input tokens [sdk openai 3.57.0
# openai/types/images_response.py input_tokens_details.image_tokens] at the model's image input
# rate. Tokens per 1024x1024 reference: about 135 at low input fidelity, 3,050 at high [3p fal.ai
# gpt-image-1 edit-image pricing, quoted for gpt-image-1; the same for its successors: guess].
# Typical: low fidelity (the default of 1.5 and mini [sdk image_edit_params.py input_fidelity]),
# high for gpt-image-2 (always high fidelity [3p docs.apiyi.com gpt-image-2]). The worst case is
# the high figure scaled up by the reference's area past 1024x1024 [guess: no formula published],
# which the spend caps check. The actual cost comes from the usage tokens, as for every call.
REFERENCE_TOKENS_LOW, REFERENCE_TOKENS_HIGH = 135, 3050
EDIT_REFERENCES_MAX = 16


def _references(model: str, typical: int = REFERENCE_TOKENS_LOW) -> dict[str, Any]:
    """The Price fields of a model's reference images: its image input rate (TOKEN_RATES) and the
    tokens of one 1024x1024 reference, typical and at most."""
    return {
        "image_in_per_mtok": TOKEN_RATES[model].image_in,
        "reference_tokens": typical,
        "reference_tokens_most": REFERENCE_TOKENS_HIGH,
    }


def token_rates(model: str) -> TokenRates | None:
    """The model's token rates; a dated snapshot (gpt-image-1.5-2025-12-16) has its base model's."""
    base = pricing.snapshot_base(model)
    return TOKEN_RATES.get(model) or (TOKEN_RATES.get(base) if base else None)


def _count(value: Any) -> float:
    """A token count from `usage`: a missing or null field counts 0."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _split(total: Any, details: Any, part: str) -> tuple[float, float]:
    """(`part` tokens, the rest) of a usage total: from its details block when there is one
    (a null count in it counts 0, a null or absent `text_tokens` as "the total minus `part`")."""
    details = details if isinstance(details, dict) else {}
    whole, first = _count(total), _count(details.get(part))
    other = "text_tokens" if part == "image_tokens" else "image_tokens"
    rest = details.get(other)
    return first, (_count(rest) if isinstance(rest, (int, float)) else max(0.0, whole - first))


def token_cost(model: str, usage: Any) -> float | None:
    """USD from a GPT image `usage` block; None when the model's rates or the usage are unknown.
    Output tokens are split into image and text tokens by `output_tokens_details` [sdk openai
    3.57.0 openai/types/images_response.py UsageOutputTokensDetails], each at its own rate;
    without the details block (older answers, stream events) all output tokens are image tokens.
    Text output of a model with no known text output price is charged at the image output rate
    (the higher one: the cost is never understated)."""
    rates = token_rates(model)
    if rates is None or not isinstance(usage, dict):
        return None
    image_in, text_in = _split(usage.get("input_tokens"), usage.get("input_tokens_details"), "image_tokens")
    out_details = usage.get("output_tokens_details")
    if isinstance(out_details, dict):
        text_out, image_out = _split(usage.get("output_tokens"), out_details, "text_tokens")
    else:
        text_out, image_out = 0.0, _count(usage.get("output_tokens"))
    text_out_rate = rates.image_out if rates.text_out is None else rates.text_out
    cost = text_in * rates.text_in + image_in * rates.image_in + text_out * text_out_rate + image_out * rates.image_out
    return round(cost / 1_000_000, 6)


def cost_from_usage(model: str, usage: Any) -> tuple[float | None, str]:
    """(cost, cost_rule): from the tokens when it can be, else why the price table applies."""
    cost = token_cost(model, usage)
    if cost is None:
        if not isinstance(usage, dict):
            return None, "images x price per image (no usage reported)"
        return None, f"images x price per image (usage reported, but no token rates known for {model})"
    base = pricing.snapshot_base(model) if model not in TOKEN_RATES else None
    if not isinstance(usage.get("output_tokens_details"), dict):
        output = "image out: no output_tokens_details, all output tokens at the image rate"
    elif (rates := token_rates(model)) is not None and rates.text_out is None:  # cost is known: so are the rates
        output = "image out, text out at the image rate: no text output price known"
    else:
        output = "image out, text out"
    snapshot = f" ({base}'s rates: {model} is a dated snapshot)" if base else ""
    return cost, f"usage tokens x token rates (text in, image in, {output}){snapshot}"


class OpenAIImagesProvider(HttpProvider):
    name = "openai"
    label = "OpenAI Images"
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    models = (
        ModelInfo(
            id="gpt-image-1.5",
            label="GPT Image 1.5",
            sizes=GPT_SIZES,
            max_references=EDIT_REFERENCES_MAX,
            price=Price(
                0.034,
                f"gpt-image-1.5 medium: $0.034 at 1024x1024, $0.05 other sizes {_GPT_SOURCE}",
                by_size=_table(0.034, 0.05),
                most_by_size=_table(0.133, 0.20),
                most_source="high quality: $0.133 / $0.20 [3p]",
                text_in_per_mtok=5.0,
                **_references("gpt-image-1.5"),
            ),
        ),
        ModelInfo(
            id="gpt-image-2",
            label="GPT Image 2 (WxH in multiples of 16)",
            max_side=3840,
            max_pixels=3840 * 2160,
            max_aspect=3.0,  # [sdk 3.57.0 image_generate_params.py]
            max_references=EDIT_REFERENCES_MAX,
            price=Price(
                0.053,
                f"gpt-image-2 medium 1024x1024 $0.053, scaled by area {_GPT_SOURCE}",
                quoted_for=(1024, 1024),
                most=0.211,
                most_for_unknown=(3840, 2160),
                most_source="high quality 1024x1024 $0.211, scaled up by area [3p, bound guessed]",
                text_in_per_mtok=5.0,
                **_references("gpt-image-2", typical=REFERENCE_TOKENS_HIGH),
            ),
        ),
        ModelInfo(
            id="gpt-image-1-mini",
            label="GPT Image 1 mini",
            sizes=GPT_SIZES,
            max_references=EDIT_REFERENCES_MAX,
            price=Price(
                0.011,
                f"gpt-image-1-mini medium: $0.011 / $0.015 {_GPT_SOURCE}",
                by_size=_table(0.011, 0.015),
                most_by_size=_table(0.036, 0.052),
                most_source="high quality: $0.036 / $0.052 [3p]",
                text_in_per_mtok=2.0,
                **_references("gpt-image-1-mini"),
            ),
        ),
        ModelInfo(
            id="dall-e-3",
            label="DALL-E 3 (retired 2026-05-12)",
            sizes=DALLE3_SIZES,
            retired=True,
            note="retired 2026-05-12",
            price=Price(
                0.04,
                "DALL-E 3 standard: $0.04 at 1024x1024, $0.08 at 1792x1024 / 1024x1792 "
                "(retired 2026-05-12) [seed figure, 3p]",
                by_size=(("1024x1024", 0.04), ("1792x1024", 0.08), ("1024x1792", 0.08)),
            ),
        ),
        ModelInfo(
            id="gpt-image-1",
            label="GPT Image 1 (retired 2026-10-23)",
            sizes=GPT_SIZES,
            retired=True,
            note="retired 2026-10-23",
            price=Price(
                0.042,
                f"gpt-image-1 medium: $0.042 / $0.063 (retired 2026-10-23) {_GPT_SOURCE}",
                by_size=_table(0.042, 0.063),
                most_by_size=_table(0.167, 0.25),
                most_source="high quality: $0.167 / $0.25 [3p]",
                text_in_per_mtok=5.0,
            ),
        ),
    )
    fallback_price = Price(
        0.053,
        "OpenAI fallback: the gpt-image-2 figures [guess]",
        quoted_for=(1024, 1024),
        most=0.211,
        most_for_unknown=(3840, 2160),
        text_in_per_mtok=5.0,
    )
    price_note = "estimate; actual cost from usage tokens"
    listing_order = 50
    max_concurrency = 4
    # One JSON answer that comes only when the image is drawn: the SDK waits up to 600 s
    # [sdk openai 3.57.0 openai/_constants.py DEFAULT_TIMEOUT]
    read_timeout_s = 600.0
    protocol = (
        "POST /images/generations (JSON), one image per call, b64_json back; with references "
        "POST /images/edits (multipart image[])"
    )
    billing_rule = "tokens from the response's usage (dall-e-3: per image) [sdk]"
    billing_details = (
        "tokens from `usage`, each count at its rate: text in, image in, and output split by "
        "`output_tokens_details` into image out and text out (without that block all output is image "
        "out); dall-e-3: per image from the table [sdk] for usage, [3p] for rates"
    )

    def validate(self, call: ProviderCall) -> None:
        super().validate(call)
        if call.model == "gpt-image-2" and call.size != "auto":
            problem = gpt_image_2_size_problem(call.size)
            if problem:
                raise InputError(f"openai/gpt-image-2 takes {problem}, not {call.size!r}")

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
        if call.references:
            data, resp = await self.edit(client, call, body, outcome)
        else:
            resp = await self.request(
                client, "POST", f"{self.base_url}/images/generations", call, repeatable=False, json=body
            )
            data = self.answer(resp, call)
        outcome.request_id = resp.headers.get("x-request-id", "")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise self.ctx(call).error("malformed", "answer has no data list", may_be_billed=True)
        for i, item in enumerate(items):
            await self.deliver(i, item if isinstance(item, dict) else {}, sink)
        outcome.images_billed = len(items)
        outcome.usage = data.get("usage")  # the core checks every count in it before the cost is trusted
        outcome.cost_usd, outcome.cost_rule = cost_from_usage(call.model, data.get("usage"))
        return outcome

    async def edit(
        self, client: httpx.AsyncClient, call: ProviderCall, body: dict[str, Any], outcome: CallOutcome
    ) -> tuple[Any, httpx.Response]:
        """The references as `image[]` file parts of a multipart POST /images/edits, the other
        fields as form values, as the official SDK sends a list of images [sdk openai 3.57.0
        openai/resources/images.py `edit`]."""
        files = [
            ("image[]", (f"reference-{i + 1}.{ref.mime.split('/')[-1]}", ref.data, ref.mime))
            for i, ref in enumerate(call.references)
        ]
        outcome.sent_fields = {
            **outcome.sent_fields,
            "image[]": [f"<{ref.mime}, {len(ref.data)} bytes, sha256 {ref.sha256[:12]}>" for ref in call.references],
        }
        resp = await self.request(
            client,
            "POST",
            f"{self.base_url}/images/edits",
            call,
            repeatable=False,
            files=files,
            data={k: str(v) for k, v in body.items()},
        )
        return self.answer(resp, call), resp

    def answer(self, resp: httpx.Response, call: ProviderCall) -> Any:
        """The JSON answer of a generation or edit, or its error (a 5xx may have been billed)."""
        if resp.status_code >= 400:
            raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
        return json_body(resp, self.ctx(call), may_be_billed=True)

    @staticmethod
    async def deliver(index: int, item: dict[str, Any], sink: FrameSink) -> None:
        """One `data` item: `b64_json` (GPT image models; dall-e with response_format b64_json) or
        `url` (dall-e by default) [sdk openai 3.57.0 openai/types/image.py]."""
        if item.get("b64_json"):
            try:
                await sink.image(index, base64.b64decode(item["b64_json"], validate=True))
            except (binascii.Error, ValueError):
                await sink.failed(index, "provider sent an unreadable base64 image")
        elif item.get("url"):
            await sink.url(index, item["url"])
        else:
            await sink.failed(index, "no image in the answer")


def gpt_image_2_size_problem(size: str) -> str:
    """What is wrong with a gpt-image-2 WxH ("" when nothing): sides in multiples of 16 [sdk openai
    3.57.0 openai/types/image_generate_params.py `size`]. Its side, pixel and ratio limits are the
    model's declared limits (ModelInfo.max_side, max_pixels, max_aspect), checked by the core."""
    wh = parse_wh(size)
    if not wh or wh[0] % 16 or wh[1] % 16:
        return "WxH in multiples of 16 or 'auto'"
    return ""


ADAPTER = OpenAIImagesProvider
