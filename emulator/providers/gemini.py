"""The Gemini API's generateContent for image models: POST /{v1|v1beta}/models/{model}:generateContent,
the key in `x-goog-api-key` (or `?key=`), one JSON answer with the images as inline parts; the
shapes the official client parses (tests/conformance/test_gemini_sdk.py).

The answer has as many images as the prompt asks for ("a series of N images", else one) [guess:
the model follows the count]; the Pro model also answers a thought text and a thought image
(`thought: true`), which are not frames [doc cookbook]. Faults: `content` blocks the prompt
(HTTP 200, promptFeedback.blockReason, no candidates), `refused` stops after the first image
with finishReason IMAGE_SAFETY, `fewer` returns `n` images with finishReason STOP and a text,
`job_failed` answers no image with finishReason IMAGE_OTHER, `rate_limit` is 429
RESOURCE_EXHAUSTED with a RetryInfo retryDelay (no Retry-After header: none is documented).
Shapes (Emulator.shapes): gemini_snake_case (inline_data / mime_type in the answer),
gemini_urlsafe_base64 (image data in the URL-safe alphabet), gemini_text_only (text and no
image, finishReason STOP, as the model may answer an ambiguous prompt [doc]),
gemini_no_token_details (usageMetadata without candidatesTokensDetails), gemini_usage_out_of_range
(a negative candidatesTokenCount: what the core must not trust).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import uuid
from typing import Any

from emulator.faults import PROMPT_FAULT, Fault
from emulator.routes import Invalid, accept_fields, answer_fault, answered_job, error, options_object
from emulator.wire import Req

PREFIX = "/gemini"
# top-level fields of a generateContent request [sdk google-genai 3.6.1 models.py _GenerateContentParameters_to_mldev]
FIELDS = {
    "contents",
    "generationConfig",
    "safetySettings",
    "systemInstruction",
    "tools",
    "toolConfig",
    "cachedContent",
    "labels",
}
CONFIG_FIELDS = {
    "responseModalities",
    "imageConfig",
    "seed",
    "candidateCount",
    "temperature",
    "topP",
    "topK",
    "maxOutputTokens",
    "stopSequences",
    "thinkingConfig",
    "presencePenalty",
    "frequencyPenalty",
    "responseMimeType",
    "responseLogprobs",
    "logprobs",
    "mediaResolution",
}
IMAGE_CONFIG_FIELDS = {"aspectRatio", "imageSize"}
ASPECT_RATIOS = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
# model -> (image sizes it draws, output tokens per image by size, input tokens per reference, thinks)
MODELS: dict[str, tuple[tuple[str, ...], dict[str, int], int, bool]] = {
    "gemini-2.5-flash-image": (("1K",), {"1K": 1290}, 258, False),
    "gemini-3-pro-image-preview": (("1K", "2K", "4K"), {"1K": 1120, "2K": 1120, "4K": 2000}, 560, True),
}
GEMINI_SHAPES = frozenset(
    {
        "gemini_snake_case",
        "gemini_urlsafe_base64",
        "gemini_text_only",
        "gemini_no_token_details",
        "gemini_usage_out_of_range",
    }
)
_SERIES = re.compile(r"series of (\d+) images", re.IGNORECASE)
_ERRORS = {
    "auth": (400, "INVALID_ARGUMENT"),
    "forbidden": (403, "PERMISSION_DENIED"),
    "rate_limit": (429, "RESOURCE_EXHAUSTED"),
    "server": (500, "INTERNAL"),
    "content": (400, "INVALID_ARGUMENT"),
    "quota": (429, "RESOURCE_EXHAUSTED"),
    "invalid": (400, "INVALID_ARGUMENT"),
    "missing": (400, "INVALID_ARGUMENT"),
    "not_found": (404, "NOT_FOUND"),
}


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    """{"error": {"code", "message", "status", "details"}} [sdk google-genai 3.6.1 errors.py]; a
    rejected key is 400 with an ErrorInfo reason API_KEY_INVALID [3p]."""
    status, name = _ERRORS[kind]
    body: dict[str, Any] = {"code": status, "message": message, "status": name}
    if kind == "auth":
        body["message"] = "API key not valid. Please pass a valid API key."
        body["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ]
    return status, {"error": body}, {}


def _key(req: Req) -> str | None:
    key = req.headers.get("x-goog-api-key") or (req.query.get("key") or [""])[-1]
    return key.strip() or None


def route(req: Req) -> None:
    m = re.match(r"^/(v1|v1beta)/models/([\w.-]+):generateContent$", req.path)
    if not m or req.method != "POST":
        return
    key = _key(req)
    if key is None:
        error(req, "forbidden", "Method doesn't allow unregistered callers. Please use an API key.")
        return
    if key.startswith("invalid"):
        error(req, "auth")
        return
    fault = req.fault("create") or _prompt_fault(req)
    if fault is not None and fault.name == "rate_limit":
        delay = fault.params.get("retry_after", 1)
        details = (
            []
            if delay is None
            else [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{float(delay):g}s"}]
        )
        req.json_response(
            429,
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "details": details,
                    "message": "You exceeded your current quota, please check your plan.",
                }
            },
        )
        return
    blocked = fault is not None and fault.name == "content"  # a blocked prompt is an answer, not an error
    if (not blocked and answer_fault(req, fault)) or req.emu.held(req):
        return
    model = m.group(2)
    if model not in MODELS:
        raise Invalid(
            "not_found",
            f"models/{model} is not found for API version {m.group(1)}, or is not supported for generateContent",
        )
    request = _read_request(req, model)
    if blocked:
        req.json_response(
            200,
            {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                "usageMetadata": _usage(req, model, request, 0, 0),
                "modelVersion": model,
                "responseId": uuid.uuid4().hex[:20],
            },
        )
        return
    job = answered_job(req, "gemini", model, request["images"], request["dims"], fault)
    if job is None:
        return
    req.json_response(200, _answer(req, job, request))


def _prompt_fault(req: Req) -> Fault | None:
    """`[fault:NAME]` in a text part (the prompt is not a `prompt` field here)."""
    match = PROMPT_FAULT.search(" ".join(_texts(req.json)))
    return Fault(match.group(1), req.provider, 1, "create", {}) if match else None


def _texts(body: Any) -> list[str]:
    contents = body.get("contents") if isinstance(body, dict) else None
    return (
        [
            str(part.get("text"))
            for turn in contents
            if isinstance(turn, dict)
            for part in turn.get("parts") or []
            if isinstance(part, dict) and "text" in part
        ]
        if isinstance(contents, list)
        else []
    )


def _read_request(req: Req, model: str) -> dict[str, Any]:
    """Check the body as the API would (fields, parts, config); what the answer needs."""
    body = accept_fields(req, req.json, FIELDS, ("contents",))
    contents = body["contents"]
    if not isinstance(contents, list) or not contents:
        raise Invalid("invalid", "contents must be a non-empty list of turns", "contents")
    texts, refs = [], 0
    for turn in contents:
        parts = turn.get("parts") if isinstance(turn, dict) else None
        if not isinstance(parts, list) or not parts:
            raise Invalid("invalid", "each turn needs parts", "contents")
        for part in parts:
            kind = _part(part)
            texts += [part["text"]] if kind == "text" else []
            refs += kind == "image"
    if refs > 14:
        raise Invalid("invalid", "at most 14 input images", "contents")
    config = options_object(body, "generationConfig", CONFIG_FIELDS)
    if config.get("candidateCount", 1) != 1:
        raise Invalid("invalid", f"Multiple candidates is not enabled for models/{model}", "candidateCount")
    if "seed" in config and (not isinstance(config["seed"], int) or isinstance(config["seed"], bool)):
        raise Invalid("invalid", "seed must be an integer", "seed")
    modalities = config.get("responseModalities", ["TEXT", "IMAGE"])
    if not isinstance(modalities, list) or not set(map(str, modalities)) <= {"TEXT", "IMAGE"}:
        raise Invalid("invalid", "responseModalities takes TEXT and IMAGE", "responseModalities")
    image_config = options_object(config, "imageConfig", IMAGE_CONFIG_FIELDS)
    ratio = image_config.get("aspectRatio", "1:1")
    if ratio not in ASPECT_RATIOS:
        raise Invalid("invalid", f"aspectRatio {ratio!r} is not supported", "aspectRatio")
    sizes = MODELS[model][0]
    size = image_config.get("imageSize", "1K")
    if size not in sizes:
        raise Invalid("invalid", f"imageSize {size!r} is not supported by {model} ({', '.join(sizes)})", "imageSize")
    prompt = " ".join(texts)
    asked = _SERIES.search(prompt)
    images = max(1, min(15, int(asked.group(1)))) if asked else 1
    if "IMAGE" not in modalities or "gemini_text_only" in req.emu.shapes:
        images = 0
    return {"prompt": prompt, "refs": refs, "images": images, "size": size, "dims": _dims(ratio, size)}


def _part(part: Any) -> str:
    """ "text" or "image" for a valid user part; Invalid otherwise. inlineData / inline_data and
    mimeType / mime_type are all read (the SDK sends inlineData with mime_type [sdk]); the data
    in the standard or the URL-safe base64 alphabet (the SDK's [sdk])."""
    if not isinstance(part, dict):
        raise Invalid("invalid", "a part must be an object", "parts")
    if isinstance(part.get("text"), str):
        return "text"
    blob = part.get("inlineData", part.get("inline_data"))
    if not isinstance(blob, dict):
        raise Invalid("invalid", "a part holds text or inlineData", "parts")
    mime = blob.get("mimeType", blob.get("mime_type"))
    data = blob.get("data")
    if not isinstance(mime, str) or not mime.startswith("image/") or not isinstance(data, str):
        raise Invalid("invalid", "inlineData needs an image mimeType and base64 data", "inlineData")
    try:
        padded = data + "=" * (-len(data) % 4)
        raw = (
            base64.urlsafe_b64decode(padded) if "-" in data or "_" in data else base64.b64decode(padded, validate=True)
        )
    except (binascii.Error, ValueError):
        raise Invalid("invalid", "inlineData.data is not base64", "inlineData") from None
    if not raw:
        raise Invalid("invalid", "inlineData.data is empty", "inlineData")
    return "image"


def _dims(ratio: str, size: str) -> tuple[int, int]:
    """Pixels for an aspect ratio and size class: the class's area, sides in multiples of 16 [guess:
    third-party tables of the real pixels disagree]."""
    side = {"1K": 1024, "2K": 2048, "4K": 4096}[size]
    a, b = (int(x) for x in ratio.split(":"))
    width = math.sqrt(side * side * a / b)
    return int(round(width / 16) * 16), int(round(width * b / a / 16) * 16)


def _answer(req: Req, job: Any, request: dict[str, Any]) -> dict[str, Any]:
    model = job.model
    images = job.returned()
    finish = "STOP"
    if job.fault and job.fault.name == "refused":
        images, finish = min(images, 1), "IMAGE_SAFETY"
    elif job.fault and job.fault.name == "job_failed":
        images, finish = 0, "IMAGE_OTHER"
    inline = "inline_data" if "gemini_snake_case" in req.emu.shapes else "inlineData"
    mime_key = "mime_type" if "gemini_snake_case" in req.emu.shapes else "mimeType"
    encode = base64.urlsafe_b64encode if "gemini_urlsafe_base64" in req.emu.shapes else base64.b64encode
    mime = f"image/{req.emu.image_format}"

    def image_part(index: int, **extra: Any) -> dict[str, Any]:
        data = encode(req.emu.frame_bytes(job, index)).decode("ascii")
        return {inline: {mime_key: mime, "data": data}, **extra}

    parts: list[dict[str, Any]] = []
    thinks = MODELS[model][3]
    if thinks and images:  # an interim image while thinking: not a frame [doc cookbook]
        parts += [{"text": "Planning the composition.", "thought": True}, image_part(images, thought=True)]
    parts.append({"text": "Here you go." if images else "I can only describe this scene, not draw it."})
    for i in range(images):
        parts += [{"text": f"Image {i + 1}."}, image_part(i)]
    if job.fault and job.fault.name == "fewer":
        parts.append({"text": f"I made {images} images."})
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(req, model, request, images, len(parts)),
        "modelVersion": model,
        "responseId": uuid.uuid4().hex[:20],
    }


def _usage(req: Req, model: str, request: dict[str, Any], images: int, text_parts: int) -> dict[str, Any]:
    _, per_image, per_reference, thinks = MODELS[model]
    text_in = max(1, len(request["prompt"]) // 4)
    image_in = request["refs"] * per_reference
    image_out = images * per_image[request["size"]]
    text_out = 4 * text_parts
    thoughts = 180 if thinks and images else 0
    usage: dict[str, Any] = {
        "promptTokenCount": text_in + image_in,
        "candidatesTokenCount": image_out + text_out,
        "totalTokenCount": text_in + image_in + image_out + text_out + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": text_in}]
        + ([{"modality": "IMAGE", "tokenCount": image_in}] if image_in else []),
    }
    if "gemini_no_token_details" not in req.emu.shapes:
        usage["candidatesTokensDetails"] = [
            {"modality": "IMAGE", "tokenCount": image_out},
            {"modality": "TEXT", "tokenCount": text_out},
        ]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if "gemini_usage_out_of_range" in req.emu.shapes:
        usage["candidatesTokenCount"] = -image_out
    return usage
