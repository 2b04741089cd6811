"""Stability AI SD3: POST /stable-image/generate/sd3, multipart, a JSON or image answer."""

from __future__ import annotations

import base64
import math
import random
import uuid
from typing import Any

from emulator.routes import STATUS, Invalid, answered_job, create_gate, error
from emulator.wire import Req

PREFIX = "/stability/v2beta"
MODELS = ("sd3.5-large", "sd3.5-large-turbo", "sd3.5-medium", "sd3.5-flash")
_NAMES = {
    "auth": "unauthorized",
    "forbidden": "forbidden",
    "rate_limit": "rate_limit_exceeded",
    "server": "internal_error",
    "content": "content_moderation",
    "quota": "payment_required",
    "invalid": "bad_request",
    "missing": "bad_request",
    "not_found": "not_found",
}


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    status = 403 if kind == "content" else STATUS[kind]
    return status, {"id": uuid.uuid4().hex, "name": _NAMES[kind], "errors": [message]}, {}


FIELDS = {
    "prompt",
    "model",
    "mode",
    "aspect_ratio",
    "seed",
    "output_format",
    "negative_prompt",
    "strength",
    "cfg_scale",
    "style_preset",
}


ASPECTS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


def _aspect_dims(ratio: str) -> tuple[int, int]:
    a, b = (int(x) for x in ratio.split(":"))
    w = math.sqrt(1024 * 1024 * a / b)
    return int(round(w / 64) * 64), int(round(w * b / a / 64) * 64)


def route(req: Req) -> None:
    if (req.method, req.path) != ("POST", "/stable-image/generate/sd3"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    if not req.content_type.startswith("multipart/form-data"):
        raise Invalid("invalid", "content-type: must be multipart/form-data")
    form = req.form
    unknown = sorted(set(form) - FIELDS)
    if unknown or set(req.files) - {"image"}:
        raise Invalid("invalid", f"unknown field(s): {', '.join(unknown + sorted(set(req.files) - {'image'}))}")
    if not form.get("prompt"):
        raise Invalid("missing", "prompt: is required")
    model = form.get("model", "sd3.5-large")
    if model not in MODELS:
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
        req.json_response(
            200, {"image": base64.b64encode(image).decode(), "finish_reason": finish, "seed": used_seed}, headers
        )
    else:
        req.send(200, image, f"image/{fmt}", {**headers, "finish-reason": finish, "seed": str(used_seed)})
