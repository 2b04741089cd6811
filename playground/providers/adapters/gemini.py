"""`gemini`: Google's Gemini image models ("Nano Banana") through the Gemini API's generateContent.

Wire protocol. Checked by the official client `google-genai` against the emulator (tests/
conformance/test_gemini_sdk.py), marked [sdk google-genai 3.6.1 FILE]; otherwise [doc]
ai.google.dev, [3p] a mirror or third-party code, [guess] our reading:
- POST {GOOGLE_GEMINI_BASE_URL}/v1beta/models/{model}:generateContent. The variable has the
  meaning the SDK gives it: the host root (default https://generativelanguage.googleapis.com),
  the API version path appended [sdk google-genai 3.6.1 google/genai/_base_url.py get_base_url,
  _api_client.py]. The SDK's own default version is v1; the REST docs show v1beta [doc
  ai.google.dev/gemini-api/docs/image-generation, curl], which the adapter uses.
- The key in the `x-goog-api-key` header, never in the URL [sdk _api_client.py; doc curl].
  Only GEMINI_API_KEY is read (the SDK prefers GOOGLE_API_KEY when both are set [sdk
  _api_client.py get_env_api_key]: the playground does not read that generic name).
- Body: contents = one user turn whose parts are the prompt ({"text"}) and each reference image
  as an inline part ({"inlineData": {"mimeType", "data": standard base64}}) [doc REST Blob];
  generationConfig: responseModalities ["TEXT", "IMAGE"], imageConfig {aspectRatio, imageSize}
  (see `image_config`), seed when the run has one [sdk types.py GenerateContentConfig,
  ImageConfig]. candidateCount is never sent: more than 1 is refused by image models [3p].
- Answer (HTTP 200 only [sdk errors.py]): candidates[0].content.parts, text parts and inline
  image parts ({"inlineData": {"mimeType", "data"}}, standard or URL-safe base64: both read);
  a part with `thought: true` is the model's thinking, not a frame [doc cookbook
  Get_Started_Nano_Banana]; finishReason; promptFeedback.blockReason when the prompt was
  blocked (then no candidates [guess]); usageMetadata [sdk types.py
  GenerateContentResponseUsageMetadata]; responseId (the row's request id).
- Frames: the answer's image parts in order (frame i = image part i). `sequence` asks for N
  images in one prompt; the model "might not create the exact number of images you ask for"
  [doc gemini-image-generation-limitations]: missing frames are failed frames whose reason
  names the finishReason (IMAGE_SAFETY, SAFETY, PROHIBITED_CONTENT, ...: refused for content;
  MAX_TOKENS; NO_IMAGE, OTHER, ...) and quotes the model's text, so the run is `partial`.
  Images beyond the N asked for are left out by the core and noted.
- Billing: per token [doc ai.google.dev/gemini-api/docs/pricing, via 3p mirrors]: prompt tokens
  (text and images) at the input rate, image output tokens at the image rate, text output and
  thinking tokens at the text rate, read from usageMetadata (promptTokenCount,
  candidatesTokensDetails[modality IMAGE], candidatesTokenCount, thoughtsTokenCount); each
  count is checked by the core before it is trusted. Without candidatesTokensDetails all
  candidate tokens are priced at the image rate (never understated). Without usageMetadata:
  the per-image figure x images returned. The per-image figures Google quotes are derived from
  the tokens: 1290 tokens at $30/M = $0.039 (2.5 Flash Image), 1120 tokens at $120/M = $0.134
  (1K or 2K) and 2000 = $0.24 (4K) for 3 Pro Image [3p quoting the pricing page].
- Errors: {"error": {"code", "message", "status", "details"}} [sdk errors.py]; a rejected key
  is 400 INVALID_ARGUMENT with reason API_KEY_INVALID [3p]; 429 RESOURCE_EXHAUSTED may carry
  google.rpc.RetryInfo retryDelay [3p], read as the error's retry-after.
- No retries of a generation after it may have been received (the SDK retries nothing by
  default [sdk _api_client.py retry_args]); the read timeout is raised to 600 s: the answer
  comes whole when every image is drawn (the SDK sets none [guess for the figure]).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from playground.base.errors import InputError, ProviderError
from playground.base.pricing import Price, k_size_px
from playground.base.types import CallOutcome, ModelInfo, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, coded_error, json_body
from playground.providers.limiter import parse_retry_after
from playground.providers.sizes import nearest_ratio, size_class

API_VERSION = "v1beta"  # as the REST docs show [doc]; the SDK defaults to v1 [sdk _api_client.py]
# aspectRatio values of ImageConfig [sdk types.py ImageConfig; 3p add 4:5 and 5:4]
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# finishReason / blockReason values that mean a safety or policy refusal [sdk types.py FinishReason, BlockedReason]
REFUSALS = frozenset(
    {
        "SAFETY",
        "IMAGE_SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "BLOCKLIST",
        "SPII",
        "RECITATION",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)


@dataclass(frozen=True)
class TokenRates:
    """USD per 1M tokens, and the output tokens of one image per size class."""

    input: float  # text and image input
    text_out: float  # text output, thinking included
    image_out: float
    image_tokens: Mapping[str, int]  # size class ("1K", "2K", "4K") -> tokens of one output image
    reference_tokens: int  # the most input tokens one reference image may count (worst case) [guess]


RATES: dict[str, TokenRates] = {
    # $0.30/M in, $30/M image out, 1290 tokens per image up to 1024x1024 [3p quoting the pricing page];
    # text out $2.50/M [3p: Gemini 2.5 Flash's text rate]; a 4096x4096 reference tiled as 36 x 258 tokens [guess]
    "gemini-2.5-flash-image": TokenRates(0.30, 2.50, 30.0, {"1K": 1290}, 9288),
    # $2/M in, $12/M text and thinking out, $120/M image out: 1120 tokens at 1K or 2K, 2000 at 4K
    # [3p quoting the pricing page]; one reference at most 1120 tokens (media resolution high) [guess]
    "gemini-3-pro-image-preview": TokenRates(2.0, 12.0, 120.0, {"1K": 1120, "2K": 1120, "4K": 2000}, 1120),
}
# thinking and text around each image, for the worst case only [guess: no bound is documented]
THOUGHT_TOKENS_PER_IMAGE = 1500


def _price(model: str, max_references: int, note: str) -> Price:
    """Typical: the image tokens of the size class at the image rate (Google's per-image figure).
    Worst case: that, plus THOUGHT_TOKENS_PER_IMAGE at the text rate, plus every reference a
    call may carry at its most input tokens (a baseline call carries them all for one image)."""
    rates = RATES[model]
    typical = tuple(
        (name.lower(), round(tokens * rates.image_out / 1e6, 6)) for name, tokens in rates.image_tokens.items()
    )
    extra = (THOUGHT_TOKENS_PER_IMAGE * rates.text_out + max_references * rates.reference_tokens * rates.input) / 1e6
    most = tuple((name, round(usd + extra, 6)) for name, usd in typical)
    return Price(
        typical[0][1],
        f"{model}: {note}; actual cost from usageMetadata tokens [3p]",
        by_size=typical,
        most_by_size=most,
        most_source=f"plus {THOUGHT_TOKENS_PER_IMAGE} thinking/text tokens per image and "
        f"{max_references} reference(s) of input [guess]",
        text_in_per_mtok=rates.input,
    )


# An image model: a series from one prompt [doc: interleaved output], a seed field [sdk]; up to 15
# images per answer fits the output token limit (32,768) at 2000 tokens each [guess: how many it
# really draws is the model's choice]. A template.
_IMAGE_MODEL = ModelInfo(
    id="", label="", native_sequence=True, max_frames=15, takes_seed=True, default_size="1024x1024"
)


def _b64decode(text: str) -> bytes | None:
    """Standard or URL-safe base64 (the SDK sends URL-safe [sdk]; both are proto3 JSON bytes)."""
    try:
        padded = text + "=" * (-len(text) % 4)
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _count(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0.0


def usage_counts(meta: Any) -> dict[str, Any] | None:
    """The counts of usageMetadata the cost reads, as they came (the core checks each one):
    promptTokenCount, candidatesTokenCount, thoughtsTokenCount, totalTokenCount and
    candidatesTokensDetails as {modality: tokenCount}. None without usageMetadata."""
    if not isinstance(meta, Mapping):
        return None if meta is None else {"usageMetadata": str(meta)[:40]}
    counts: dict[str, Any] = {
        k: meta[k]
        for k in ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "totalTokenCount")
        if k in meta
    }
    details = meta.get("candidatesTokensDetails")
    if isinstance(details, list):
        counts["candidatesTokensDetails"] = {
            str(d.get("modality")): d.get("tokenCount")
            for d in details
            if isinstance(d, Mapping) and isinstance(d.get("modality"), str)
        }
    elif details is not None:
        counts["candidatesTokensDetails"] = details  # not a list: the core names it as out of range
    return counts


def token_cost(model: str, counts: Mapping[str, Any] | None) -> float | None:
    """USD from the usage counts at the model's rates; None when either is unknown."""
    rates = RATES.get(model)
    if rates is None or counts is None:
        return None
    candidates = _count(counts.get("candidatesTokenCount"))
    details = counts.get("candidatesTokensDetails")
    if isinstance(details, Mapping) and details:
        image = _count(details.get("IMAGE"))
        text = max(0.0, candidates - image)
    else:  # no split: every candidate token at the image rate, the higher one
        image, text = candidates, 0.0
    text += _count(counts.get("thoughtsTokenCount"))
    cost = _count(counts.get("promptTokenCount")) * rates.input + image * rates.image_out + text * rates.text_out
    return round(cost / 1e6, 6)


@dataclass
class Answer:
    """What one generateContent answer holds for the playground."""

    images: list[bytes | None]  # the non-thought inline image parts in order (None: unreadable)
    text: str  # the model's non-thought text
    finish: str  # candidates[0].finishReason ("" when absent)
    finish_message: str
    blocked: str  # promptFeedback.blockReason ("" when not blocked)


def read_answer(data: Mapping[str, Any]) -> Answer:
    candidates = data.get("candidates")
    feedback = data.get("promptFeedback")
    blocked = str(feedback.get("blockReason") or "") if isinstance(feedback, Mapping) else ""
    first = candidates[0] if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping) else {}
    content = first.get("content")
    parts = content.get("parts") if isinstance(content, Mapping) else None
    images: list[bytes | None] = []
    texts: list[str] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Mapping) or part.get("thought") is True:
            continue  # the model's thinking (text or interim images) is not a frame
        blob = part.get("inlineData", part.get("inline_data"))
        if isinstance(blob, Mapping):
            mime = str(blob.get("mimeType", blob.get("mime_type", "")))
            if mime.startswith("image/"):
                payload = blob.get("data")
                images.append(_b64decode(payload) if isinstance(payload, str) else None)
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    return Answer(
        images,
        " ".join(t.strip() for t in texts if t.strip()),
        str(first.get("finishReason") or ""),
        str(first.get("finishMessage") or ""),
        blocked,
    )


class GeminiProvider(HttpProvider):
    name = "gemini"
    label = "Google Gemini API"
    key_env = "GEMINI_API_KEY"
    base_url_env = "GOOGLE_GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"
    models = (
        replace(
            _IMAGE_MODEL,
            id="gemini-2.5-flash-image",
            label="Gemini 2.5 Flash Image (Nano Banana)",
            max_references=3,  # "best results with up to 3 images as input" [doc]
            note="1K; up to 3 references",
            price=_price("gemini-2.5-flash-image", 3, "1290 image tokens x $30/M = $0.039 per image"),
        ),
        replace(
            _IMAGE_MODEL,
            id="gemini-3-pro-image-preview",
            label="Gemini 3 Pro Image preview (Nano Banana Pro)",
            max_references=14,  # up to 14 reference images [doc]
            note="1K/2K/4K; up to 14 references",
            price=_price("gemini-3-pro-image-preview", 14, "$0.134 per 1K or 2K image, $0.24 per 4K image"),
        ),
    )
    # an id not listed: priced as the dearest listed model [guess]
    fallback_price = replace(
        _price("gemini-3-pro-image-preview", 14, "$0.134 / $0.24 per image"),
        source="Gemini fallback: the gemini-3-pro-image-preview figures [guess]",
    )
    price_note = "the Pro model's 4K $0.24; actual cost from usage tokens"
    listing_order = 80
    max_concurrency = 4
    read_timeout_s = 600.0
    protocol = (
        "POST /v1beta/models/{model}:generateContent (JSON), `x-goog-api-key`; frames = the answer's "
        "inline image parts (thoughts skipped)"
    )
    billing_rule = "usageMetadata tokens at the model's rates (input, image out, text and thinking out) [3p]"
    billing_details = (
        'tokens from `usageMetadata` (`cost_source` "reported"): prompt tokens at the input rate, '
        "image output tokens (`candidatesTokensDetails` IMAGE) at the image rate, text output and "
        "`thoughtsTokenCount` at the text rate; without the split every candidate token at the image "
        "rate; without usage, the per-image price x images. Per token [doc]; the rates [3p]; the worst "
        "case's allowance for thinking and references [guess]"
    )

    @classmethod
    def model(cls, model_id: str) -> ModelInfo:
        """An id not listed takes the limits of its family: a "pro" id Gemini 3 Pro Image's, any
        other Gemini 2.5 Flash Image's [guess]."""
        for info in cls.models:
            if info.id == model_id:
                return info
        template = cls.models[1] if "pro" in model_id else cls.models[0]
        return replace(template, id=model_id, label=f"{model_id} (not in the model list)", price=None, note="")

    @classmethod
    def priced_size(cls, size: str) -> str:
        """The size class the request asks for ("1K", "2K", "4K"): the prices are per class."""
        return size_class(size) or size

    @staticmethod
    def size_classes(model: str) -> tuple[str, ...]:
        """The imageSize values the model takes: 1K, 2K and 4K for the Pro model, 1K only (no
        imageSize sent) for 2.5 Flash Image [3p; sdk types.py ImageConfig lists 1K/2K/4K]."""
        rates = RATES.get(model) or RATES["gemini-3-pro-image-preview" if "pro" in model else "gemini-2.5-flash-image"]
        return tuple(rates.image_tokens)

    def validate(self, call: ProviderCall) -> None:
        super().validate(call)
        classes = self.size_classes(call.model)
        if k_size_px(call.size) and call.size.upper() not in classes:
            raise InputError(f"gemini/{call.model} draws {' / '.join(classes)} images, not {call.size!r}")

    def image_config(self, call: ProviderCall) -> dict[str, str]:
        """aspectRatio: the documented ratio nearest to a WxH size (none for "nK" or "auto": the
        model's default, or the reference's shape); imageSize: the size class nearest to the
        pixels asked for, sent only to a model with more than one (the Pro model)."""
        config: dict[str, str] = {}
        ratio = nearest_ratio(call.size, ASPECT_RATIOS)
        if ratio:
            config["aspectRatio"] = ratio
        classes = self.size_classes(call.model)
        chosen = size_class(call.size, classes) if len(classes) > 1 else None
        if chosen:
            config["imageSize"] = chosen
        return config

    def body(self, call: ProviderCall) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"text": call.prompt}]
        parts += [
            {"inlineData": {"mimeType": ref.mime, "data": base64.b64encode(ref.data).decode("ascii")}}
            for ref in call.references
        ]
        config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
        image_config = self.image_config(call)
        if image_config:
            config["imageConfig"] = image_config
        if call.seed is not None:
            config["seed"] = call.seed
        return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}

    def headers(self, call: ProviderCall, **extra: str) -> dict[str, str]:
        if not call.api_key:
            raise ProviderError("auth", f"{self.label}: no key: set {self.key_env}")
        return {"x-goog-api-key": call.api_key, **extra}

    def refine(self, status: int, code: str, message: str) -> str | None:
        if "API_KEY_INVALID" in code or "API key not valid" in message:
            return "auth"
        if status == 429:  # per-minute and per-day limits alike say "exceeded your current quota" [3p]
            return "rate_limit"
        return None

    def error(self, resp: httpx.Response, call: ProviderCall, *, may_be_billed: bool = False) -> ProviderError:
        """{"error": {"code", "message", "status", "details"}}: the status (and an ErrorInfo
        reason) as the code, a RetryInfo retryDelay as the retry-after when no header says it."""
        try:
            body: Any = resp.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        err = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(err, Mapping):
            return super().error(resp, call, may_be_billed=may_be_billed)
        details = (
            [d for d in err.get("details") or [] if isinstance(d, Mapping)]
            if isinstance(err.get("details"), list)
            else []
        )
        reasons = [str(d["reason"]) for d in details if d.get("reason")]
        code = " ".join([str(err.get("status") or err.get("code") or ""), *reasons]).strip()
        retry_after = parse_retry_after(resp.headers.get("retry-after"))
        for detail in details:
            delay = detail.get("retryDelay")
            if retry_after is None and isinstance(delay, str) and delay.endswith("s"):
                retry_after = parse_retry_after(delay[:-1])
        ctx = self.ctx(call)
        return coded_error(
            ctx,
            resp.status_code,
            code,
            str(err.get("message") or ""),
            where=f"HTTP {resp.status_code}, {ctx.clean(code)}" if code else f"HTTP {resp.status_code}",
            may_be_billed=may_be_billed,
            refine=self.refine,
            retry_after=retry_after,
        )

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = self.body(call)
        outcome = CallOutcome(seed_sent=call.seed, sent_fields=self.loggable_body(body, call))
        url = f"{self.base_url}/{API_VERSION}/models/{call.model}:generateContent"
        resp = await self.request(client, "POST", url, call, repeatable=False, json=body)
        if resp.status_code >= 400:
            raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
        data = json_body(resp, self.ctx(call), may_be_billed=True)
        if not isinstance(data, Mapping):
            raise self.ctx(call).error("malformed", "the answer is not a JSON object", may_be_billed=True)
        outcome.request_id = str(data.get("responseId") or "")
        answer = read_answer(data)
        for i, image in enumerate(answer.images):
            await (sink.image(i, image) if image else sink.failed(i, "the image part holds unreadable base64"))
        if len(answer.images) < call.frames:
            reason = self.shortfall(answer, call)
            for i in range(len(answer.images), call.frames):
                await sink.failed(i, reason)
        outcome.images_billed = min(len(answer.images), call.frames)
        outcome.usage = usage_counts(data.get("usageMetadata"))
        outcome.cost_usd = token_cost(call.model, outcome.usage) if isinstance(outcome.usage, dict) else None
        outcome.cost_rule = self.cost_rule(call, outcome, len(answer.images))
        return outcome

    def shortfall(self, answer: Answer, call: ProviderCall) -> str:
        """Why fewer images came than were asked for, in the provider's words."""
        ctx = self.ctx(call)
        head = f"{self.label} returned {len(answer.images)} of {call.frames} image(s)"
        if answer.blocked:
            why = f"the prompt was blocked (promptFeedback.blockReason {ctx.clean(answer.blocked)})"
        elif answer.finish in REFUSALS:
            why = f"refused for content (finishReason {answer.finish})"
        elif answer.finish == "MAX_TOKENS":
            why = "it stopped at the output token limit (finishReason MAX_TOKENS)"
        elif answer.finish and answer.finish != "STOP":
            why = f"no image (finishReason {ctx.clean(answer.finish)[:40]})"
        elif answer.finish:
            why = "the model stopped (finishReason STOP)"
        else:
            why = "the answer has no candidate"
        said = " ".join(filter(None, [answer.finish_message, answer.text]))
        return f"{head}: {why}" + (f"; the model said: {ctx.clean(said)[:200]!r}" if said else "")

    @staticmethod
    def cost_rule(call: ProviderCall, outcome: CallOutcome, images: int) -> str:
        if outcome.cost_usd is None:
            rule = (
                "images x price per image (no usageMetadata)"
                if outcome.usage is None
                else f"images x price per image (usageMetadata reported, but no token rates known for {call.model})"
            )
        else:
            rule = GeminiProvider.billing_rule
        if images > call.frames:
            rule += (
                f"; {images - call.frames} image(s) beyond the {call.frames} asked for came back (their tokens counted)"
            )
        return rule

    @staticmethod
    def loggable_body(body: dict[str, Any], call: ProviderCall) -> dict[str, Any]:
        """The body without the reference bytes (a note per image instead)."""
        parts = [{"text": call.prompt}] + [
            {"inlineData": f"<{ref.mime}, {len(ref.data)} bytes, sha256 {ref.sha256[:12]}>"} for ref in call.references
        ]
        return {**body, "contents": [{"role": "user", "parts": parts}]}


ADAPTER = GeminiProvider
