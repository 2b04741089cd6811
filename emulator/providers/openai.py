"""OpenAI Images: POST /images/generations (JSON) and /images/edits (multipart), a JSON answer
or server-sent events; every field the official SDK knows is accepted and checked
(tests/conformance/test_openai_sdk.py)."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import uuid
from typing import Any

from PIL import Image

from emulator.images import render_image
from emulator.routes import Invalid, answered_job, create_gate, error
from emulator.wire import Job, Req

PREFIX = "/openai/v1"
_CODES = {
    "auth": (401, "invalid_api_key", "invalid_request_error"),
    "forbidden": (403, "unsupported_country_region_territory", "invalid_request_error"),
    "rate_limit": (429, "rate_limit_exceeded", "requests"),
    "server": (500, "server_error", "server_error"),
    "content": (400, "moderation_blocked", "image_generation_user_error"),
    "quota": (429, "insufficient_quota", "insufficient_quota"),
    "invalid": (400, "invalid_value", "invalid_request_error"),
    "missing": (400, "missing_required_parameter", "invalid_request_error"),
    "not_found": (404, "model_not_found", "invalid_request_error"),
}


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    status, code, typ = _CODES[kind]
    body = {"error": {"message": message, "type": typ, "param": param or None, "code": code}}
    return status, body, {"x-request-id": f"req_{uuid.uuid4().hex[:24]}"}  # on every answer [sdk]


# The request fields are those the official SDK knows [sdk openai 3.57.0
# openai/types/image_generate_params.py, image_edit_params.py]. Every one is accepted, and null
# (or an empty multipart value, which is how the SDK sends None in a form) means "the default",
# as the API reads an omitted field; any other field is refused as the API refuses it ("Unknown
# parameter"). Types and ranges are checked here on their own: the SDK checks none at run time.

_OPENAI_ENUMS: dict[str, set[str]] = {
    "quality": {"low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"},
    "output_format": {"png", "webp", "jpeg", "gif", "svg"},
    "background": {"transparent", "opaque", "auto"},
    "moderation": {"low", "auto"},
    "response_format": {"url", "b64_json"},
    "style": {"vivid", "natural"},
    "complexity": {"low", "medium", "high"},
    "input_fidelity": {"high", "low"},
}
_OPENAI_INTS: dict[str, tuple[int, int]] = {
    "n": (1, 10),
    "output_compression": (0, 100),
    "partial_images": (0, 3),
    "frame_count": (2, 16),
    "frame_duration_ms": (1, 655_350),
}
_OPENAI_TEXT = {"prompt", "model", "size", "user", "safety_identifier"}
FIELDS = (set(_OPENAI_ENUMS) - {"input_fidelity"}) | set(_OPENAI_INTS) | _OPENAI_TEXT | {"stream", "svg"}
OPENAI_EDIT_FIELDS = (FIELDS - {"moderation", "style"}) | {"input_fidelity"}
OPENAI_EDIT_FILES = {"image", "image[]", "mask", "markup"}
GPT_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
# family -> allowed sizes (None: any WxH in multiples of 16, ratio 1:3..3:1, at most 3840x2160)
# [sdk openai 3.57.0 openai/types/image_model.py and the `size` doc of image_generate_params.py]
MODELS: dict[str, set[str] | None] = {
    "gpt-image-1.5": GPT_SIZES,
    "gpt-image-1-mini": GPT_SIZES,
    "gpt-image-1": GPT_SIZES,
    "chatgpt-image-latest": GPT_SIZES,
    "gpt-image-2.6-sunburst": GPT_SIZES,
    "gpt-image-2.6-flare": GPT_SIZES,
    "gpt-image-2": None,
    "gpt-image-2.5-sunburst": None,
    "gpt-image-2.5-flare": None,
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"},
    "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
# Answer shapes (Emulator.shapes) besides the default: openai_usage_without_output_details, a
# usage block without output_tokens_details (the SDK types it Optional: older answers) [sdk]
OPENAI_SHAPES = frozenset({"openai_usage_without_output_details"})
_GPT_ONLY = (
    "output_format",
    "output_compression",
    "background",
    "moderation",
    "partial_images",
    "stream",
    "complexity",
    "input_fidelity",
)


def _form_value(name: str, value: str) -> Any:
    """A multipart value as the JSON value it stands for: "" is null, ints and booleans parsed."""
    if value == "":
        return None
    if name in _OPENAI_INTS:
        if not re.fullmatch(r"-?\d+", value.strip()):
            raise Invalid("invalid", f"Invalid type for '{name}': expected an integer, but got a string instead.", name)
        return int(value)
    if name == "stream":
        if value not in ("true", "false"):
            raise Invalid("invalid", "Invalid value for 'stream': expected a boolean.", name)
        return value == "true"
    return value


def _openai_params(raw: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """The request's non-null fields, each checked for its type and range."""
    unknown = sorted(k for k in raw if k not in allowed)
    if unknown:
        raise Invalid("invalid", f"Unknown parameter: '{unknown[0]}'.", unknown[0])
    body = {k: v for k, v in raw.items() if v is not None}
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise Invalid("missing", "Missing required parameter: 'prompt'.", "prompt")
    if len(prompt) > 32000:
        raise Invalid("invalid", "Invalid 'prompt': string too long (at most 32000 characters).", "prompt")
    for name, value in body.items():
        if name in _OPENAI_ENUMS and value not in _OPENAI_ENUMS[name]:
            raise Invalid(
                "invalid",
                f"Invalid value: '{value}'. Supported values are: {', '.join(sorted(_OPENAI_ENUMS[name]))}.",
                name,
            )
        if name in _OPENAI_INTS:
            lo, hi = _OPENAI_INTS[name]
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise Invalid("invalid", f"Invalid '{name}': expected an integer in [{lo}, {hi}].", name)
        if name in _OPENAI_TEXT and not isinstance(value, str):
            raise Invalid("invalid", f"Invalid type for '{name}': expected a string.", name)
        if name == "stream" and not isinstance(value, bool):
            raise Invalid("invalid", "Invalid type for 'stream': expected a boolean.", name)
        if name == "svg" and not isinstance(value, dict):
            raise Invalid("invalid", "Invalid type for 'svg': expected an object.", name)
    return body


def _openai_dims(family: str, size: str) -> tuple[int, int]:
    allowed = MODELS[family]
    m = re.fullmatch(r"(\d+)x(\d+)", size)
    if allowed is None:
        if size != "auto":
            w, h = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            if not m or w % 16 or h % 16 or not 1 / 3 <= w / max(h, 1) <= 3 or max(w, h) > 3840 or w * h > 3840 * 2160:
                raise Invalid(
                    "invalid",
                    f"Invalid size '{size}': width and height in multiples of 16, ratio "
                    "between 1:3 and 3:1, at most 3840x2160, or 'auto'.",
                    "size",
                )
    elif size not in allowed:
        raise Invalid(
            "invalid", f"Invalid value: '{size}'. Supported values are: {', '.join(sorted(allowed))}.", "size"
        )
    return (int(m.group(1)), int(m.group(2))) if m else (1024, 1024)


def _openai_model(body: dict[str, Any], default: str) -> tuple[str, str]:
    model = str(body.get("model") or default)
    family = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)  # dated snapshots: gpt-image-1.5-2025-12-16
    if family not in MODELS:
        raise Invalid("not_found", f"The model `{model}` does not exist or you do not have access to it.", "model")
    return model, family


def _openai_rules(body: dict[str, Any], family: str) -> None:
    """What the SDK's field docs say about combinations [sdk openai 3.57.0 image_generate_params.py]."""
    gpt = not family.startswith("dall-e")
    if gpt:
        for name in ("response_format", "style"):
            if name in body:
                raise Invalid("invalid", f"Unknown parameter: '{name}' is not supported for GPT image models.", name)
        if body.get("quality") in ("standard", "hd"):
            raise Invalid(
                "invalid", f"Invalid quality '{body['quality']}' for {family}: low, medium, high or auto.", "quality"
            )
        if body.get("quality") in ("xhigh", "max") and not family.startswith("gpt-image-2.5"):
            raise Invalid(
                "invalid", f"quality '{body['quality']}' is supported by gpt-image-2.5 models only.", "quality"
            )
        fidelity = body.get("input_fidelity")  # [sdk openai 3.57.0 image_edit_params.py `input_fidelity`]
        if fidelity and (family == "gpt-image-2" or (family == "gpt-image-1-mini" and fidelity != "low")):
            raise Invalid("invalid", f"input_fidelity '{fidelity}' is not supported by {family}.", "input_fidelity")
    else:
        used = [name for name in _GPT_ONLY if name in body]
        if used:
            raise Invalid("invalid", f"'{used[0]}' is only supported for the GPT image models.", used[0])
        if family == "dall-e-3" and body.get("n", 1) != 1:
            raise Invalid("invalid", "dall-e-3 supports n=1 only.", "n")
    fmt = body.get("output_format", "png")
    if fmt in ("gif", "svg"):  # preview features behind access grants [sdk docs]; none here [guess]
        raise Invalid("invalid", f"output_format '{fmt}' requires preview access for this model.", "output_format")
    for name in ("frame_count", "frame_duration_ms", "svg"):
        if name in body:
            raise Invalid("invalid", f"'{name}' requires output_format gif or svg.", name)
    if "output_compression" in body and fmt == "png":
        raise Invalid(
            "invalid",
            "'output_compression' is only supported with the webp or jpeg output formats.",
            "output_compression",
        )
    if body.get("background") == "transparent" and fmt == "jpeg":
        raise Invalid("invalid", "a transparent background needs output_format png or webp.", "background")


def _openai_usage(family: str, prompt: str, count: int, dims: tuple[int, int], input_images: int) -> dict[str, Any]:
    """Token usage as the SDK types it [sdk openai 3.57.0 openai/types/images_response.py]: the
    numbers are ours. The newer models (not gpt-image-1 / -1-mini) also report text output tokens
    (their planning), which are priced apart from the image tokens [guess: the amounts]."""
    text_in = max(1, len(prompt) // 4)
    image_in = 323 * input_images
    image_out = 1056 * count * max(1, round(dims[0] * dims[1] / (1024 * 1024)))
    text_out = 0 if family in ("gpt-image-1", "gpt-image-1-mini") else 96 * count
    return {
        "input_tokens": text_in + image_in,
        "input_tokens_details": {"text_tokens": text_in, "image_tokens": image_in},
        "output_tokens": image_out + text_out,
        "output_tokens_details": {"image_tokens": image_out, "text_tokens": text_out},
        "total_tokens": text_in + image_in + image_out + text_out,
    }


def route(req: Req) -> None:
    if req.method != "POST" or req.path not in ("/images/generations", "/images/edits"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    input_images = 0
    if req.path == "/images/generations":
        if not isinstance(req.json, dict):
            raise Invalid("invalid", "We could not parse the JSON body of your request.")
        body = _openai_params(req.json, FIELDS)
        model, family = _openai_model(body, "dall-e-2")
        kind = "image_generation"
    else:
        if not req.content_type.startswith("multipart/form-data"):
            raise Invalid("invalid", "Invalid Content-Type header: /images/edits takes multipart/form-data.")
        fields = {k: _form_value(k, v) for k, v in req.form.items() if not k.startswith("svg[")}
        svg = [req.form[k] for k in req.form if k.startswith("svg[")]
        if svg:
            fields["svg"] = {"model": svg[-1]}
        unknown_files = sorted({name for name, _ in req.parts} - OPENAI_EDIT_FILES)
        if unknown_files:
            raise Invalid("invalid", f"Unknown parameter: '{unknown_files[0]}'.", unknown_files[0])
        body = _openai_params(fields, OPENAI_EDIT_FIELDS)
        model, family = _openai_model(body, "dall-e-2")
        input_images = _edit_images(req, family)
        kind = "image_edit"
    _openai_rules(body, family)
    gpt = not family.startswith("dall-e")
    n = body.get("n", 1)
    size = body.get("size", "auto" if gpt else "1024x1024")
    dims = _openai_dims(family, str(size))
    job = answered_job(req, "openai", model, n, dims, fault)
    if job is None:
        return
    headers = {"x-request-id": f"req_{job.id}"}
    name = job.fault.name if job.fault else ""
    if name == "refused":
        error(req, "content", "Your request was rejected as a result of our safety system.", headers=headers)
        return
    if body.get("stream"):
        _openai_stream(req, job, kind, body, family, dims, input_images, headers)
        return
    if name == "job_failed":
        error(req, "server", "The server had an error while processing your request.", headers=headers)
        return
    count = job.returned()
    if gpt:
        fmt = body.get("output_format", "png")
        data = [{"b64_json": base64.b64encode(req.emu.frame_bytes(job, i, fmt)).decode()} for i in range(count)]
        usage = _openai_usage(family, body["prompt"], count, dims, input_images)
        if "openai_usage_without_output_details" in req.emu.shapes:
            usage.pop("output_tokens_details")
        answer: dict[str, Any] = {
            "created": int(time.time()),
            "data": data,
            **_openai_settings(body, dims),
            "usage": usage,
        }
    elif body.get("response_format") == "b64_json":
        answer = {
            "created": int(time.time()),
            "data": [
                {
                    "b64_json": base64.b64encode(req.emu.frame_bytes(job, i, "png")).decode(),
                    "revised_prompt": body["prompt"],
                }
                for i in range(count)
            ],
        }
    else:
        answer = {
            "created": int(time.time()),
            "data": [{"url": req.emu.frame_url(job, i), "revised_prompt": body["prompt"]} for i in range(count)],
        }
    req.json_response(200, answer, headers)


def _openai_settings(body: dict[str, Any], dims: tuple[int, int]) -> dict[str, Any]:
    """The settings the answer echoes, "auto" resolved [sdk openai 3.57.0 images_response.py]."""
    background = body.get("background", "auto")
    quality = body.get("quality", "auto")
    return {
        "background": "opaque" if background == "auto" else background,
        "output_format": body.get("output_format", "png"),
        "quality": "medium" if quality == "auto" else quality,
        "size": f"{dims[0]}x{dims[1]}",
    }


def _edit_images(req: Req, family: str) -> int:
    """The edit's input images: 1..16 readable images for GPT models, one square PNG for dall-e-2
    [sdk openai 3.57.0 image_edit_params.py `image`]; a mask must be a PNG."""
    images = [part for name, part in req.parts if name in ("image", "image[]")]
    limit = 1 if family.startswith("dall-e") else 16
    if not 1 <= len(images) <= limit:
        raise Invalid("invalid", f"'image' takes 1 to {limit} image file(s), got {len(images)}.", "image")
    for part in images + [req.files[m] for m in ("mask",) if m in req.files]:
        try:
            with Image.open(io.BytesIO(part["data"])) as picture:
                picture.verify()
                fmt = (picture.format or "").lower()
        except Exception:
            raise Invalid("invalid", f"Invalid image file '{part['filename']}': unreadable.", "image") from None
        if fmt not in ("png", "jpeg", "webp"):
            raise Invalid("invalid", f"Invalid image file '{part['filename']}': png, jpeg or webp.", "image")
    if "mask" in req.files and not req.files["mask"]["data"].startswith(b"\x89PNG"):
        raise Invalid("invalid", "The mask must be a PNG.", "mask")
    return len(images)


def _openai_stream(
    req: Req,
    job: Job,
    kind: str,
    body: dict[str, Any],
    family: str,
    dims: tuple[int, int],
    input_images: int,
    headers: dict[str, str],
) -> None:
    """Server-sent events, per image: `partial_images` previews (0..3), then the final image
    [sdk openai 3.57.0 openai/types/image_gen_stream_event.py, image_edit_stream_event.py;
    3p: mirrors of the API reference show an `event:` line naming the type]. The completed
    event's usage has no output_tokens_details (the SDK type has none). A job failure mid-stream
    is an `error` event, which the SDK raises [guess: the event's shape]."""
    emu, settings = req.emu, _openai_settings(body, dims)
    fmt = settings["output_format"]
    partials = body.get("partial_images", 0)
    req.start_sse(headers)
    count = job.returned()
    for i in range(count):
        for k in range(partials):
            preview = render_image(max(16, dims[0] // 8), max(16, dims[1] // 8), fmt, emu.frame_variant(job, i))
            event = {
                "type": f"{kind}.partial_image",
                "b64_json": base64.b64encode(preview).decode(),
                "created_at": int(time.time()),
                "partial_image_index": k,
                **settings,
            }
            req.sse(json.dumps(event), event=event["type"])
        if job.fault and job.fault.name == "job_failed":
            req.sse(
                json.dumps(
                    {
                        "type": "error",
                        "error": {
                            "type": "server_error",
                            "code": "server_error",
                            "message": "The server had an error while processing your request.",
                            "param": None,
                        },
                    }
                ),
                event="error",
            )
            return
        usage = _openai_usage(family, body["prompt"], 1, dims, input_images)
        usage.pop("output_tokens_details")
        event = {
            "type": f"{kind}.completed",
            "b64_json": base64.b64encode(emu.frame_bytes(job, i, fmt)).decode(),
            "created_at": int(time.time()),
            **settings,
            "usage": usage,
        }
        req.sse(json.dumps(event), event=event["type"])


# -- Stability SD3 ------------------------------------------------------------------------------


# -- fal queue ----------------------------------------------------------------------------------
# States as the official client knows them [sdk fal-client 1.0.3 fal_client/client.py
# `_parse_status`]: IN_QUEUE (queue_position), IN_PROGRESS (logs), COMPLETED (logs, metrics, and
# error / error_type when the request failed); any other state makes the client raise, so a
# failed or cancelled request is COMPLETED with an error too (the cancelled one with error_type
# `client_cancelled`, from fal's table of request error types [doc
# fal.ai/docs/documentation/model-apis/request-errors]). `logs` is a list when the status GET
# asks for it (`?logs=1`, or `logs=true` as the SDK sends it), null otherwise.
