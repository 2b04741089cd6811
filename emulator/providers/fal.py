"""fal.ai's queue (FLUX Pro, Seedream 4 / 4.5): POST /{model_id} -> status, response and cancel
URLs; the states and errors as the official client knows them (tests/conformance/
test_fal_sdk.py). Seedream makes num_images x max_images images (the most the docs allow: the
real count is "between num_images and max_images*num_images" [doc]; `fewer` returns `n`), its
edit endpoints take image_urls (URLs or data URIs, 1 to 10, inputs + outputs <= 15) and its
result has no has_nsfw_concepts [doc]."""

from __future__ import annotations

import base64
import random
import re
import time
from typing import Any

from emulator.routes import Invalid, check_fields, create_gate, error, image_list, int_field, polled_job
from emulator.wire import Job, Req

PREFIX = "/fal"
FIELDS = {
    "prompt",
    "num_images",
    "image_size",
    "seed",
    "output_format",
    "safety_tolerance",
    "enable_safety_checker",
    "sync_mode",
    "prompt_upsampling",
    "guidance_scale",
    "num_inference_steps",
}


SEEDREAM_FIELDS = {
    "prompt",
    "image_size",
    "num_images",
    "max_images",
    "seed",
    "sync_mode",
    "enable_safety_checker",
    "enhance_prompt_mode",
}
SEEDREAM = {
    "fal-ai/bytedance/seedream/v4/text-to-image",
    "fal-ai/bytedance/seedream/v4.5/text-to-image",
    "fal-ai/bytedance/seedream/v4/edit",
    "fal-ai/bytedance/seedream/v4.5/edit",
}
SEEDREAM_PRESETS = {"auto": (2048, 2048), "auto_2K": (2048, 2048), "auto_4K": (4096, 4096)}
MODELS = {"fal-ai/flux-pro/v1.1", "fal-ai/flux-pro"} | SEEDREAM


FAL_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


# request error types by fault kind, and their HTTP status [doc: request-errors table]
_FAL_REQUEST_ERRORS = {
    "server": "runner_server_error",
    "failed": "runner_server_error",
    "cancelled": "client_cancelled",
}


_FAL_STATUS = {
    "invalid": 422,
    "missing": 422,
    "content": 422,
    "quota": 403,
    "auth": 401,
    "forbidden": 403,
    "rate_limit": 429,
    "server": 500,
    "not_found": 404,
    "failed": 500,
    "cancelled": 499,
}


# Answer shapes (Emulator.shapes) the fal docs or client show besides the default one:
#   fal_legacy_completed        COMPLETED without `metrics` ("legacy apps might not return metrics" [sdk])
#   fal_error_type_header_only  a request error's type only in the X-Fal-Error-Type header [doc, sdk]
#   fal_sync_data_uri           result images as data URIs, as `sync_mode` answers [doc]
FAL_SHAPES = frozenset({"fal_legacy_completed", "fal_error_type_header_only", "fal_sync_data_uri"})


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    """fal's two error bodies [doc fal.ai/docs/documentation/model-apis/errors and request-errors;
    sdk fal-client 1.0.3 `_raise_for_status`]: a model's validation error is 422 {"detail": [{"loc",
    "msg", "type"}]}; a request error is {"detail": "...", "error_type": "..."} with the same type
    in the X-Fal-Error-Type header (only there with the shape fal_error_type_header_only); other
    errors (auth, rate limit, ...) are a bare {"detail": "..."}."""
    status = _FAL_STATUS[kind]
    headers: dict[str, str] = {}
    if kind in ("invalid", "missing", "content"):
        body: dict[str, Any] = {
            "detail": [{"loc": ["body", param or "prompt"], "msg": message, "type": f"{kind}_error"}]
        }
    else:
        body = {"detail": message}
        error_type = _FAL_REQUEST_ERRORS.get(kind)
        if error_type:
            headers["X-Fal-Error-Type"] = error_type
            if "fal_error_type_header_only" not in req.emu.shapes:
                body["error_type"] = error_type
    return status, body, headers


def route(req: Req) -> None:
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
    if model not in MODELS:
        raise Invalid("not_found", f"application {model} not found")
    if model in SEEDREAM:
        n, dims, body = _seedream(req, model)
    else:
        body = check_fields(req.json, FIELDS, ("prompt",))
        n = int_field(body, "num_images", 1, 4, 1)
        dims = _size(body.get("image_size", "landscape_4_3"), FAL_PRESETS, 64, 14142)
    if "seed" in body and (not isinstance(body["seed"], int) or isinstance(body["seed"], bool)):
        raise Invalid("invalid", "seed: must be an integer", "seed")
    job = req.emu.new_job("fal", model, n, dims, fault, seed=body.get("seed"), seedream=model in SEEDREAM)
    app = "/".join(model.split("/")[:2])
    base = f"{req.emu.url}{PREFIX}/{app}/requests/{job.id}"
    req.json_response(
        200,
        {
            "request_id": job.id,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
            "queue_position": 0,
        },
        {"x-fal-request-id": job.id},
    )


def _size(size: Any, presets: dict[str, tuple[int, int]], lo: int, hi: int) -> tuple[int, int]:
    if isinstance(size, str) and size in presets:
        return presets[size]
    if (
        isinstance(size, dict)
        and set(size) == {"width", "height"}
        and all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in size.values())
    ):
        return size["width"], size["height"]
    raise Invalid("invalid", f"image_size: a preset name or {{width, height}} of {lo} to {hi}", "image_size")


def _seedream(req: Req, model: str) -> tuple[int, tuple[int, int], dict[str, Any]]:
    """A Seedream request [doc]: (images it makes, their pixels, the body)."""
    edit = model.endswith("/edit")
    body = check_fields(
        req.json,
        SEEDREAM_FIELDS | ({"image_urls"} if edit else set()),
        ("prompt", "image_urls") if edit else ("prompt",),
    )
    generations = int_field(body, "num_images", 1, 6, 1)
    per_generation = int_field(body, "max_images", 1, 6, 1)
    refs = len(image_list(body["image_urls"], "image_urls", 1, 10)) if edit else 0
    if refs + generations * per_generation > 15:
        raise Invalid("invalid", "the total number of images (inputs + outputs) must not exceed 15", "max_images")
    dims = _size(
        body.get("image_size", {"width": 2048, "height": 2048}), {**FAL_PRESETS, **SEEDREAM_PRESETS}, 1024, 4096
    )
    return generations * per_generation, dims, body


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
        error(req, "failed", "Internal server error during inference", headers=headers)
    elif phase == "cancelled":  # the status 499 of fal's table for client_cancelled [doc]
        error(req, "cancelled", "Request was cancelled", headers=headers)
    else:
        req.json_response(200, _fal_result(req, job), headers)


def _fal_state(req: Req, job: Job, app: str) -> dict[str, Any]:
    base = f"{req.emu.url}{PREFIX}/{app}/requests/{job.id}"
    phase = job.phase()
    with_logs = req.query.get("logs", ["0"])[-1].lower() in ("1", "true")
    state: dict[str, Any] = {
        "request_id": job.id,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
    }
    if phase == "queued":
        return {**state, "status": "IN_QUEUE", "queue_position": 0}
    logs = _fal_logs(job, phase) if with_logs else None
    if phase == "processing":
        return {**state, "status": "IN_PROGRESS", "logs": logs}
    state.update(status="COMPLETED", logs=logs)
    if "fal_legacy_completed" not in req.emu.shapes:
        state["metrics"] = {"inference_time": job.latency}
    if phase in ("failed", "cancelled"):
        state.update(
            error="Request was cancelled" if phase == "cancelled" else "Internal server error during inference",
            error_type=_FAL_REQUEST_ERRORS[phase],
        )
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
    seed = job.extra.get("seed")
    seed = seed if isinstance(seed, int) else random.randint(1, 2**31)
    if job.extra.get("seedream"):  # {"images", "seed"} only [doc]
        return {"images": images, "seed": seed}
    flags = [i == job.refused_index() for i in range(len(images))]
    return {
        "images": images,
        "seed": seed,
        "has_nsfw_concepts": flags,
        "timings": {"inference": job.latency},
        "prompt": "",
    }
