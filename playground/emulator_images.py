"""Emulator routes, part 2: OpenAI Images, Stability SD3, fal queue (see emulator_routes.py)."""

from __future__ import annotations

import base64
import math
import random
import re
import time
from typing import Any

from playground.emulator import PREFIXES, Fault, Job, Req
from playground.emulator_routes import Invalid, check_fields, create_gate, error, hang, int_field, polled_job

# -- OpenAI Images ------------------------------------------------------------------------------

OPENAI_FIELDS = {"model", "prompt", "n", "size", "quality", "output_format", "background", "moderation",
                 "output_compression", "response_format", "style", "user", "partial_images", "stream"}
GPT_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
OPENAI_MODELS = {"gpt-image-1.5": GPT_SIZES, "gpt-image-1-mini": GPT_SIZES, "gpt-image-1": GPT_SIZES,
                 "gpt-image-2": None, "dall-e-3": {"1024x1024", "1792x1024", "1024x1792"}}


def answered_job(req: Req, provider: str, model: str, n: int, dims: tuple[int, int], fault: Fault | None) -> Job | None:
    """A synchronous generation after its latency; None when it hangs (stuck) or the server stops."""
    job = req.emu.new_job(provider, model, n, dims, fault)
    if job.fault and job.fault.name == "stuck":
        hang(req)
        return None
    return None if req.emu.wait(job.latency) else job


def openai(req: Req) -> None:
    if (req.method, req.path) != ("POST", "/images/generations"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    body = check_fields(req.json, OPENAI_FIELDS, ("prompt",))
    model = body.get("model", "dall-e-2")
    family = re.sub(r"-\d{4}-\d{2}-\d{2}$", "", str(model))  # dated snapshots: gpt-image-1.5-2025-12-16
    if family not in OPENAI_MODELS:
        raise Invalid("not_found", f"The model `{model}` does not exist or you do not have access to it.", "model")
    gpt = family.startswith("gpt-image")
    n = int_field(body, "n", 1, 10 if gpt else 1, 1)
    if gpt and "response_format" in body:
        raise Invalid("invalid", "Unknown parameter: 'response_format' is not supported for GPT image models.",
                      "response_format")
    size = body.get("size", "auto" if gpt else "1024x1024")
    allowed = OPENAI_MODELS[family]
    if allowed is None:
        m = re.match(r"^(\d+)x(\d+)$", str(size))
        if size != "auto" and not (m and int(m.group(1)) % 16 == 0 and int(m.group(2)) % 16 == 0):
            raise Invalid("invalid", f"Invalid size '{size}': multiples of 16 or 'auto'", "size")
    elif size not in allowed:
        raise Invalid("invalid", f"Invalid value: '{size}'. Supported values are: {', '.join(sorted(allowed))}", "size")
    m = re.match(r"^(\d+)x(\d+)$", str(size))
    dims = (int(m.group(1)), int(m.group(2))) if m else (1024, 1024)
    job = answered_job(req, "openai", model, n, dims, fault)
    if job is None:
        return
    headers = {"x-request-id": f"req_{job.id}"}
    name = job.fault.name if job.fault else ""
    if name == "refused":
        error(req, "content", "Your request was rejected as a result of our safety system.", headers=headers)
        return
    if name == "job_failed":
        error(req, "server", "The server had an error while processing your request.", headers=headers)
        return
    count = job.returned()
    if gpt:
        data = [{"b64_json": base64.b64encode(req.emu.frame_bytes(job, i)).decode()} for i in range(count)]
        text = max(1, len(body["prompt"]) // 4)
        out = 1056 * count * max(1, round(dims[0] * dims[1] / (1024 * 1024)))
        answer: dict[str, Any] = {"created": int(time.time()), "data": data, "background": "opaque",
                                  "output_format": "png", "quality": "medium", "size": size,
                                  "usage": {"input_tokens": text, "input_tokens_details": {"text_tokens": text, "image_tokens": 0},
                                            "output_tokens": out, "total_tokens": text + out}}
    else:
        answer = {"created": int(time.time()),
                  "data": [{"url": req.emu.frame_url(job, i), "revised_prompt": body["prompt"]} for i in range(count)]}
    req.json_response(200, answer, headers)


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
    image = req.emu.frame_bytes(job, 0)
    headers = {"x-request-id": job.id}
    if accept == "application/json":
        req.json_response(200, {"image": base64.b64encode(image).decode(), "finish_reason": finish,
                                "seed": used_seed}, headers)
    else:
        req.send(200, image, f"image/{req.emu.image_format}",
                 {**headers, "finish-reason": finish, "seed": str(used_seed)})


# -- fal queue ----------------------------------------------------------------------------------

FAL_FIELDS = {"prompt", "num_images", "image_size", "seed", "output_format", "safety_tolerance",
              "enable_safety_checker", "sync_mode", "prompt_upsampling", "guidance_scale", "num_inference_steps"}
FAL_MODELS = {"fal-ai/flux-pro/v1.1", "fal-ai/flux-pro"}
FAL_PRESETS = {"square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024),
               "portrait_16_9": (576, 1024), "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576)}


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
                            "cancel_url": f"{base}/cancel", "queue_position": 0})


def _fal_request(req: Req, app: str, request_id: str, tail: str) -> None:
    stage = "poll" if tail == "/status" else "result" if tail == "" else "cancel"
    job = polled_job(req, request_id, "request", scheme="Key", stage=stage)
    if job is None:
        return
    base = f"{req.emu.url}{PREFIXES['fal'][1]}/{app}/requests/{job.id}"
    phase = job.phase()
    if tail == "/cancel":
        if req.method != "PUT":
            error(req, "invalid", "cancel takes PUT")
        elif phase in ("queued", "processing"):
            job.cancelled = True
            req.emu.cancelled.append(job.id)
            req.json_response(202, {"status": "CANCELLATION_REQUESTED"})
        else:
            req.json_response(400, {"status": "ALREADY_COMPLETED"})
        return
    if req.method != "GET":
        return
    if tail == "/status":
        state: dict[str, Any] = {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}
        if phase == "queued":
            state.update(status="IN_QUEUE", queue_position=0)
        elif phase == "processing":
            state.update(status="IN_PROGRESS", logs=None)
        elif phase == "cancelled":
            state.update(status="CANCELED")
        elif phase == "failed":
            state.update(status="COMPLETED", logs=None, error="Internal server error during inference",
                         error_type="internal_error")
        else:
            state.update(status="COMPLETED", logs=None, metrics={"inference_time": job.latency})
        req.json_response(200, state)
        return
    if phase in ("queued", "processing"):
        req.json_response(400, {"detail": "Request is still in progress"})
        return
    if phase in ("failed", "cancelled"):
        error(req, "server", "Internal server error during inference")
        return
    w, h = job.size
    images = [{"url": req.emu.frame_url(job, i), "width": w, "height": h,
               "content_type": f"image/{req.emu.image_format}"} for i in range(job.returned())]
    flags = [i == job.refused_index() for i in range(len(images))]
    seed = job.extra.get("seed")
    req.json_response(200, {"images": images, "seed": seed if isinstance(seed, int) else random.randint(1, 2**31),
                            "has_nsfw_concepts": flags, "timings": {"inference": job.latency},
                            "prompt": ""})
