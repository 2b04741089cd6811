"""Emulator routes, part 2: OpenAI Images, Stability SD3, fal queue (see emulator_routes.py)."""

from __future__ import annotations

import base64
import io
import json
import math
import random
import re
import time
from typing import Any

from PIL import Image

from playground.emulator import PREFIXES, Fault, Job, Req, render_image
from playground.emulator_routes import Invalid, check_fields, create_gate, error, hang, int_field, polled_job

# -- OpenAI Images ------------------------------------------------------------------------------
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
_OPENAI_INTS: dict[str, tuple[int, int]] = {"n": (1, 10), "output_compression": (0, 100), "partial_images": (0, 3),
                                            "frame_count": (2, 16), "frame_duration_ms": (1, 655_350)}
_OPENAI_TEXT = {"prompt", "model", "size", "user", "safety_identifier"}
OPENAI_GENERATE_FIELDS = (set(_OPENAI_ENUMS) - {"input_fidelity"}) | set(_OPENAI_INTS) | _OPENAI_TEXT | {"stream", "svg"}
OPENAI_EDIT_FIELDS = (OPENAI_GENERATE_FIELDS - {"moderation", "style"}) | {"input_fidelity"}
OPENAI_EDIT_FILES = {"image", "image[]", "mask", "markup"}
GPT_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
# family -> allowed sizes (None: any WxH in multiples of 16, ratio 1:3..3:1, at most 3840x2160)
# [sdk openai 3.57.0 openai/types/image_model.py and the `size` doc of image_generate_params.py]
OPENAI_MODELS: dict[str, set[str] | None] = {
    "gpt-image-1.5": GPT_SIZES, "gpt-image-1-mini": GPT_SIZES, "gpt-image-1": GPT_SIZES,
    "chatgpt-image-latest": GPT_SIZES, "gpt-image-2.6-sunburst": GPT_SIZES, "gpt-image-2.6-flare": GPT_SIZES,
    "gpt-image-2": None, "gpt-image-2.5-sunburst": None, "gpt-image-2.5-flare": None,
    "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"}, "dall-e-2": {"256x256", "512x512", "1024x1024"},
}
# Answer shapes (Emulator.shapes) besides the default: openai_usage_without_output_details, a
# usage block without output_tokens_details (the SDK types it Optional: older answers) [sdk]
OPENAI_SHAPES = frozenset({"openai_usage_without_output_details"})
_GPT_ONLY = ("output_format", "output_compression", "background", "moderation", "partial_images", "stream",
             "complexity", "input_fidelity")


def answered_job(req: Req, provider: str, model: str, n: int, dims: tuple[int, int], fault: Fault | None) -> Job | None:
    """A synchronous generation after its latency; None when it hangs (stuck) or the server stops."""
    job = req.emu.new_job(provider, model, n, dims, fault)
    if job.fault and job.fault.name == "stuck":
        hang(req)
        return None
    return None if req.emu.wait(job.latency) else job


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
            raise Invalid("invalid", f"Invalid value: '{value}'. Supported values are: "
                          f"{', '.join(sorted(_OPENAI_ENUMS[name]))}.", name)
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
    allowed = OPENAI_MODELS[family]
    m = re.fullmatch(r"(\d+)x(\d+)", size)
    if allowed is None:
        if size != "auto":
            w, h = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
            if not m or w % 16 or h % 16 or not 1 / 3 <= w / max(h, 1) <= 3 or max(w, h) > 3840 \
                    or w * h > 3840 * 2160:
                raise Invalid("invalid", f"Invalid size '{size}': width and height in multiples of 16, ratio "
                              "between 1:3 and 3:1, at most 3840x2160, or 'auto'.", "size")
    elif size not in allowed:
        raise Invalid("invalid", f"Invalid value: '{size}'. Supported values are: {', '.join(sorted(allowed))}.", "size")
    return (int(m.group(1)), int(m.group(2))) if m else (1024, 1024)


def _openai_model(body: dict[str, Any], default: str) -> tuple[str, str]:
    model = str(body.get("model") or default)
    family = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model)  # dated snapshots: gpt-image-1.5-2025-12-16
    if family not in OPENAI_MODELS:
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
            raise Invalid("invalid", f"Invalid quality '{body['quality']}' for {family}: low, medium, high or auto.",
                          "quality")
        if body.get("quality") in ("xhigh", "max") and not family.startswith("gpt-image-2.5"):
            raise Invalid("invalid", f"quality '{body['quality']}' is supported by gpt-image-2.5 models only.", "quality")
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
        raise Invalid("invalid", "'output_compression' is only supported with the webp or jpeg output formats.",
                      "output_compression")
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
    return {"input_tokens": text_in + image_in,
            "input_tokens_details": {"text_tokens": text_in, "image_tokens": image_in},
            "output_tokens": image_out + text_out,
            "output_tokens_details": {"image_tokens": image_out, "text_tokens": text_out},
            "total_tokens": text_in + image_in + image_out + text_out}


def openai(req: Req) -> None:
    if req.method != "POST" or req.path not in ("/images/generations", "/images/edits"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    input_images = 0
    if req.path == "/images/generations":
        if not isinstance(req.json, dict):
            raise Invalid("invalid", "We could not parse the JSON body of your request.")
        body = _openai_params(req.json, OPENAI_GENERATE_FIELDS)
        model, family = _openai_model(body, "dall-e-2")
        kind = "image_generation"
    else:
        if not req.content_type.startswith("multipart/form-data"):
            raise Invalid("invalid", "Invalid Content-Type header: /images/edits takes multipart/form-data.")
        fields = {k: _form_value(k, v) for k, v in req.form.items() if not k.startswith("svg[")}
        fields.update({"svg": {"model": req.form[k]} for k in req.form if k.startswith("svg[")})
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
        answer: dict[str, Any] = {"created": int(time.time()), "data": data, **_openai_settings(body, dims),
                                  "usage": usage}
    elif body.get("response_format") == "b64_json":
        answer = {"created": int(time.time()), "data": [
            {"b64_json": base64.b64encode(req.emu.frame_bytes(job, i, "png")).decode(), "revised_prompt": body["prompt"]}
            for i in range(count)]}
    else:
        answer = {"created": int(time.time()),
                  "data": [{"url": req.emu.frame_url(job, i), "revised_prompt": body["prompt"]} for i in range(count)]}
    req.json_response(200, answer, headers)


def _openai_settings(body: dict[str, Any], dims: tuple[int, int]) -> dict[str, Any]:
    """The settings the answer echoes, "auto" resolved [sdk openai 3.57.0 images_response.py]."""
    background = body.get("background", "auto")
    quality = body.get("quality", "auto")
    return {"background": "opaque" if background == "auto" else background,
            "output_format": body.get("output_format", "png"),
            "quality": "medium" if quality == "auto" else quality, "size": f"{dims[0]}x{dims[1]}"}


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


def _openai_stream(req: Req, job: Job, kind: str, body: dict[str, Any], family: str, dims: tuple[int, int],
                   input_images: int, headers: dict[str, str]) -> None:
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
            event = {"type": f"{kind}.partial_image", "b64_json": base64.b64encode(preview).decode(),
                     "created_at": int(time.time()), "partial_image_index": k, **settings}
            req.sse(json.dumps(event), event=event["type"])
        if job.fault and job.fault.name == "job_failed":
            req.sse(json.dumps({"type": "error", "error": {"type": "server_error", "code": "server_error",
                                "message": "The server had an error while processing your request.", "param": None}}),
                    event="error")
            return
        usage = _openai_usage(family, body["prompt"], 1, dims, input_images)
        usage.pop("output_tokens_details")
        event = {"type": f"{kind}.completed", "b64_json": base64.b64encode(emu.frame_bytes(job, i, fmt)).decode(),
                 "created_at": int(time.time()), **settings, "usage": usage}
        req.sse(json.dumps(event), event=event["type"])


# -- Stability SD3 ------------------------------------------------------------------------------

STABILITY_FIELDS = {"prompt", "model", "mode", "aspect_ratio", "seed", "output_format", "negative_prompt",
                    "strength", "cfg_scale", "style_preset"}
ASPECTS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


def _aspect_dims(ratio: str) -> tuple[int, int]:
    a, b = (int(x) for x in ratio.split(":"))
    w = math.sqrt(1024 * 1024 * a / b)
    return int(round(w / 64) * 64), int(round(w * b / a / 64) * 64)


def stability(req: Req) -> None:
    if (req.method, req.path) != ("POST", "/stable-image/generate/sd3"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    if not req.content_type.startswith("multipart/form-data"):
        raise Invalid("invalid", "content-type: must be multipart/form-data")
    form = req.form
    unknown = sorted(set(form) - STABILITY_FIELDS)
    if unknown or set(req.files) - {"image"}:
        raise Invalid("invalid", f"unknown field(s): {', '.join(unknown + sorted(set(req.files) - {'image'}))}")
    if not form.get("prompt"):
        raise Invalid("missing", "prompt: is required")
    model = form.get("model", "sd3.5-large")
    if model not in ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash"):
        raise Invalid("invalid", f"model: must be one of sd3.5-large, sd3.5-large-turbo, sd3.5-medium, not {model}")
    mode = form.get("mode", "text-to-image")
    if mode == "text-to-image":
        if "image" in req.files or "strength" in form:
            raise Invalid("invalid", "image/strength: not allowed in text-to-image mode")
        ratio = form.get("aspect_ratio", "1:1")
        if ratio not in ASPECTS:
            raise Invalid("invalid", f"aspect_ratio: must be one of {', '.join(ASPECTS)}")
        dims = _aspect_dims(ratio)
    elif mode == "image-to-image":
        if "image" not in req.files or "strength" not in form or "aspect_ratio" in form:
            raise Invalid("invalid", "image-to-image needs image and strength, and takes no aspect_ratio")
        dims = (1024, 1024)
    else:
        raise Invalid("invalid", "mode: must be text-to-image or image-to-image")
    seed = form.get("seed", "0")
    if not seed.isdigit() or int(seed) > 4294967294:
        raise Invalid("invalid", "seed: must be an integer in [0, 4294967294]")
    if form.get("output_format", "png") not in ("png", "jpeg", "webp"):
        raise Invalid("invalid", "output_format: must be png, jpeg or webp")
    accept = req.headers.get("accept", "image/*")
    if accept not in ("application/json", "image/*"):
        raise Invalid("invalid", "accept: must be image/* or application/json")
    job = answered_job(req, "stability", model, 1, dims, fault)
    if job is None:
        return
    name = job.fault.name if job.fault else ""
    if name == "job_failed":
        error(req, "server", "An unexpected server error occurred, please try again.")
        return
    finish = "CONTENT_FILTERED" if name == "refused" else "SUCCESS"
    used_seed = int(seed) or random.randint(1, 4294967294)
    fmt = form.get("output_format", "png")
    image = req.emu.frame_bytes(job, 0, fmt)
    headers = {"x-request-id": job.id}
    if accept == "application/json":
        req.json_response(200, {"image": base64.b64encode(image).decode(), "finish_reason": finish,
                                "seed": used_seed}, headers)
    else:
        req.send(200, image, f"image/{fmt}", {**headers, "finish-reason": finish, "seed": str(used_seed)})


# -- fal queue ----------------------------------------------------------------------------------
# States as the official client knows them [sdk fal-client 1.0.3 fal_client/client.py
# `_parse_status`]: IN_QUEUE (queue_position), IN_PROGRESS (logs), COMPLETED (logs, metrics, and
# error / error_type when the request failed); any other state makes the client raise, so a
# failed or cancelled request is COMPLETED with an error too (the cancelled one with error_type
# `client_cancelled`, from fal's table of request error types [doc
# fal.ai/docs/documentation/model-apis/request-errors]). `logs` is a list when the status GET
# asks for it (`?logs=1`, or `logs=true` as the SDK sends it), null otherwise.

FAL_FIELDS = {"prompt", "num_images", "image_size", "seed", "output_format", "safety_tolerance",
              "enable_safety_checker", "sync_mode", "prompt_upsampling", "guidance_scale", "num_inference_steps"}
FAL_MODELS = {"fal-ai/flux-pro/v1.1", "fal-ai/flux-pro"}
FAL_PRESETS = {"square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024),
               "portrait_16_9": (576, 1024), "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576)}
# request error types by fault kind, and their HTTP status [doc: request-errors table]
_FAL_REQUEST_ERRORS = {"server": "runner_server_error", "failed": "runner_server_error",
                       "cancelled": "client_cancelled"}
_FAL_STATUS = {"invalid": 422, "missing": 422, "content": 422, "quota": 403, "auth": 401, "forbidden": 403,
               "rate_limit": 429, "server": 500, "not_found": 404, "failed": 500, "cancelled": 499}
# Answer shapes (Emulator.shapes) the fal docs or client show besides the default one:
#   fal_legacy_completed        COMPLETED without `metrics` ("legacy apps might not return metrics" [sdk])
#   fal_error_type_header_only  a request error's type only in the X-Fal-Error-Type header [doc, sdk]
#   fal_sync_data_uri           result images as data URIs, as `sync_mode` answers [doc]
FAL_SHAPES = frozenset({"fal_legacy_completed", "fal_error_type_header_only", "fal_sync_data_uri"})


def fal_error(req: Req, kind: str, message: str, param: str = "", headers: dict[str, str] | None = None) -> None:
    """fal's two error bodies [doc fal.ai/docs/documentation/model-apis/errors and request-errors;
    sdk fal-client 1.0.3 `_raise_for_status`]: a model's validation error is 422 {"detail": [{"loc",
    "msg", "type"}]}; a request error is {"detail": "...", "error_type": "..."} with the same type
    in the X-Fal-Error-Type header (only there with the shape fal_error_type_header_only); other
    errors (auth, rate limit, ...) are a bare {"detail": "..."}."""
    status = _FAL_STATUS[kind]
    headers = dict(headers or {})
    if kind in ("invalid", "missing", "content"):
        body: dict[str, Any] = {"detail": [{"loc": ["body", param or "prompt"], "msg": message, "type": f"{kind}_error"}]}
    else:
        body = {"detail": message}
        error_type = _FAL_REQUEST_ERRORS.get(kind)
        if error_type:
            headers["X-Fal-Error-Type"] = error_type
            if "fal_error_type_header_only" not in req.emu.shapes:
                body["error_type"] = error_type
    req.json_response(status, body, headers)


def fal(req: Req) -> None:
    m = re.match(r"^/([\w.-]+/[\w.-]+)/requests/([\w.-]+)(/status|/cancel)?$", req.path)
    if m:
        _fal_request(req, m.group(1), m.group(2), m.group(3) or "")
        return
    if req.method != "POST":
        return
    admitted, fault = create_gate(req, "Key")
    if not admitted:
        return
    model = req.path.lstrip("/")
    if model not in FAL_MODELS:
        raise Invalid("not_found", f"application {model} not found")
    body = check_fields(req.json, FAL_FIELDS, ("prompt",))
    n = int_field(body, "num_images", 1, 4, 1)
    size = body.get("image_size", "landscape_4_3")
    if isinstance(size, str) and size in FAL_PRESETS:
        dims = FAL_PRESETS[size]
    elif isinstance(size, dict) and set(size) == {"width", "height"} and all(
            isinstance(v, int) and 64 <= v <= 14142 for v in size.values()):
        dims = (size["width"], size["height"])
    else:
        raise Invalid("invalid", "image_size: a preset name or {width, height}", "image_size")
    if "seed" in body and (not isinstance(body["seed"], int) or isinstance(body["seed"], bool)):
        raise Invalid("invalid", "seed: must be an integer", "seed")
    job = req.emu.new_job("fal", model, n, dims, fault, seed=body.get("seed"))
    app = "/".join(model.split("/")[:2])
    base = f"{req.emu.url}{PREFIXES['fal'][1]}/{app}/requests/{job.id}"
    req.json_response(200, {"request_id": job.id, "response_url": base, "status_url": f"{base}/status",
                            "cancel_url": f"{base}/cancel", "queue_position": 0}, {"x-fal-request-id": job.id})


def _fal_request(req: Req, app: str, request_id: str, tail: str) -> None:
    stage = "poll" if tail == "/status" else "result" if tail == "" else "cancel"
    job = polled_job(req, request_id, "request", scheme="Key", stage=stage)
    if job is None:
        return
    phase = job.phase()
    headers = {"x-fal-request-id": job.id}
    if tail == "/cancel":
        if req.method != "PUT":
            error(req, "invalid", "cancel takes PUT")
        elif phase in ("queued", "processing"):
            job.cancelled = True
            req.emu.cancelled.append(job.id)
            req.json_response(202, {"status": "CANCELLATION_REQUESTED"}, headers)
        else:
            req.json_response(400, {"status": "ALREADY_COMPLETED"}, headers)
        return
    if req.method != "GET":
        return
    if tail == "/status":
        req.json_response(200, _fal_state(req, job, app), headers)
    elif phase in ("queued", "processing"):
        req.json_response(400, {"detail": "Request is still in progress"}, headers)
    elif phase == "failed":
        fal_error(req, "failed", "Internal server error during inference", headers=headers)
    elif phase == "cancelled":  # the status 499 of fal's table for client_cancelled [doc]
        fal_error(req, "cancelled", "Request was cancelled", headers=headers)
    else:
        req.json_response(200, _fal_result(req, job), headers)


def _fal_state(req: Req, job: Job, app: str) -> dict[str, Any]:
    base = f"{req.emu.url}{PREFIXES['fal'][1]}/{app}/requests/{job.id}"
    phase = job.phase()
    with_logs = req.query.get("logs", ["0"])[-1].lower() in ("1", "true")
    state: dict[str, Any] = {"request_id": job.id, "response_url": base, "status_url": f"{base}/status",
                             "cancel_url": f"{base}/cancel"}
    if phase == "queued":
        return {**state, "status": "IN_QUEUE", "queue_position": 0}
    logs = _fal_logs(job, phase) if with_logs else None
    if phase == "processing":
        return {**state, "status": "IN_PROGRESS", "logs": logs}
    state.update(status="COMPLETED", logs=logs)
    if "fal_legacy_completed" not in req.emu.shapes:
        state["metrics"] = {"inference_time": job.latency}
    if phase in ("failed", "cancelled"):
        state.update(error="Request was cancelled" if phase == "cancelled" else "Internal server error during inference",
                     error_type=_FAL_REQUEST_ERRORS[phase])
    return state


def _fal_logs(job: Job, phase: str) -> list[dict[str, Any]]:
    """Runner log lines, shaped as fal's JS client types them (message, level, source, timestamp) [doc]."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    lines = [("INFO", f"generating {job.frames} image(s) of {job.size[0]}x{job.size[1]}")]
    if phase == "done":
        lines.append(("INFO", "done"))
    elif phase == "failed":
        lines.append(("ERROR", "inference failed"))
    return [{"message": text, "level": level, "source": "user", "timestamp": stamp} for level, text in lines]


def _fal_result(req: Req, job: Job) -> dict[str, Any]:
    w, h = job.size
    fmt = req.emu.image_format
    images = []
    for i in range(job.returned()):
        url = req.emu.frame_url(job, i)
        if "fal_sync_data_uri" in req.emu.shapes:
            url = f"data:image/{fmt};base64,{base64.b64encode(req.emu.frame_bytes(job, i)).decode()}"
        images.append({"url": url, "width": w, "height": h, "content_type": f"image/{fmt}"})
    flags = [i == job.refused_index() for i in range(len(images))]
    seed = job.extra.get("seed")
    return {"images": images, "seed": seed if isinstance(seed, int) else random.randint(1, 2**31),
            "has_nsfw_concepts": flags, "timings": {"inference": job.latency}, "prompt": ""}
