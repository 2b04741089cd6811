"""Replicate's predictions API for official models: POST /v1/models/{owner}/{name}/predictions
{"input": ...} (with `Prefer: wait` held until the prediction ends or the wait runs out), GET
/v1/predictions/{id}, POST /v1/predictions/{id}/cancel; each model's own input schema; the
prediction object as the official client parses it (tests/conformance/test_replicate_sdk.py).
Outputs are served from /replicate-delivery (the file host, another host in reality), which
records its requests, so a test sees that no token goes there.

`Prefer: wait` / `wait=N` (1..60 s, at most `Emulator.sync_wait_s` here) holds the create answer
until the job ends; when the wait runs out the answer is the prediction so far, `starting` [doc:
"starting" or "processing"; the client's run() polls only after "starting"]. Shapes
(Emulator.shapes): replicate_wait_processing (the wait runs out as `processing`),
replicate_output_processing (a finished blocking answer still says `processing`, its output
there: "status may still be processing" [doc]). Faults: `content` and `refused` fail the
prediction with E005 ("flagged as sensitive"), `job_failed` fails it, `fewer` returns `n`
images (Seedream), `job_ended` with state=aborted|cancelled ends it so, `lost_frame` makes an
output URL answer 404, `stuck` keeps it processing.
"""

from __future__ import annotations

import math
import re
import time
from typing import Any

from emulator.faults import Fault
from emulator.images import render_image
from emulator.routes import Invalid, accept_fields, answer_fault, check_auth, image_list, int_field, polled_job
from emulator.wire import Job, Req

PREFIX = "/replicate"
FIELDS = {"input", "webhook", "webhook_completed", "webhook_events_filter", "stream"}  # [sdk prediction.py]
_SEEDREAM = {
    "prompt",
    "image_input",
    "size",
    "aspect_ratio",
    "width",
    "height",
    "sequential_image_generation",
    "max_images",
    "enhance_prompt",
    "disable_safety_checker",
}
_RATIOS = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"}
# model -> (its input fields, output "list" or "one", the most references, the sizes it takes)
MODELS: dict[str, tuple[set[str], str, int, tuple[str, ...]]] = {
    "bytedance/seedream-4": (_SEEDREAM, "list", 10, ("1K", "2K", "4K", "custom")),
    "bytedance/seedream-4.5": (_SEEDREAM, "list", 14, ("2K", "4K", "custom")),
    "google/nano-banana": ({"prompt", "image_input", "aspect_ratio", "output_format"}, "one", 14, ()),
    "black-forest-labs/flux-kontext-pro": (
        {"prompt", "input_image", "aspect_ratio", "seed", "output_format", "safety_tolerance", "prompt_upsampling"},
        "one",
        1,
        (),
    ),
    "black-forest-labs/flux-1.1-pro": (
        {
            "prompt",
            "aspect_ratio",
            "width",
            "height",
            "seed",
            "output_format",
            "output_quality",
            "safety_tolerance",
            "prompt_upsampling",
            "image_prompt",
        },
        "one",
        0,
        (),
    ),
}
REPLICATE_SHAPES = frozenset({"replicate_wait_processing", "replicate_output_processing"})
SENSITIVE = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
_STATUS_OF_PHASE = {
    "queued": "starting",
    "processing": "processing",
    "done": "succeeded",
    "failed": "failed",
    "cancelled": "canceled",
    "aborted": "aborted",
    "timeout": "failed",
    "deleted": "failed",
}
_PROBLEMS = {
    "auth": (401, "Unauthenticated"),
    "forbidden": (403, "Forbidden"),
    "rate_limit": (429, "Too Many Requests"),
    "server": (500, "Internal Server Error"),
    "content": (422, "Input validation failed"),
    "quota": (402, "Insufficient credit"),
    "invalid": (422, "Input validation failed"),
    "missing": (422, "Input validation failed"),
    "not_found": (404, "Not found"),
}


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    """Problem details {"title", "detail", "status"} [sdk replicate 1.0.7 exceptions.py]; a 429 says
    "Request was throttled..." [doc replicate.com/docs/topics/predictions/rate-limits]."""
    status, title = _PROBLEMS[kind]
    detail = {
        "auth": "You did not pass a valid authentication token",
        "rate_limit": "Request was throttled. Your rate limit resets in ~30s.",
    }.get(kind, message)
    body: dict[str, Any] = {"title": title, "detail": detail, "status": status}
    if status == 422:
        body["invalid_fields"] = [
            {"type": kind, "field": f"input.{param}" if param else "input", "description": message}
        ]
    return status, body, {}


def route(req: Req) -> None:
    m = re.match(r"^/v1/predictions/([\w-]+)(/cancel)?$", req.path)
    if m:
        _existing(req, m.group(1), bool(m.group(2)))
        return
    m = re.match(r"^/v1/models/([\w.-]+/[\w.-]+)/predictions$", req.path)
    if not m or req.method != "POST" or not check_auth(req):
        return
    fault = req.fault("create")
    if fault is not None and fault.name == "content":  # a failed prediction, not an HTTP error [doc error code E005]
        fault = Fault("refused", fault.provider, fault.count, fault.on, fault.params)
    if answer_fault(req, fault) or req.emu.held(req):
        return
    model = m.group(1)
    if model not in MODELS:
        raise Invalid("not_found", "The requested resource could not be found.")
    body = accept_fields(req, req.json, FIELDS, ("input",))
    inputs = body["input"]
    if not isinstance(inputs, dict):
        raise Invalid("invalid", "input must be an object", "input")
    inputs = accept_fields(req, inputs, MODELS[model][0], ("prompt",))
    frames, dims = _check_inputs(model, inputs)
    job = req.emu.new_job("replicate", model, frames, dims, fault, inputs=inputs)
    wait = _prefer_wait(req.headers.get("prefer", ""))
    if wait is not None:
        stuck = job.fault is not None and job.fault.name == "stuck"
        if req.emu.wait(min(wait, req.emu.sync_wait_s) if stuck else min(job.latency, wait, req.emu.sync_wait_s)):
            return
    req.json_response(201, _prediction(req, job, blocking=wait is not None))


def _prefer_wait(header: str) -> float | None:
    """Seconds a `Prefer: wait` / `wait=N` header asks to hold the answer (60 by default) [doc]."""
    m = re.match(r"^\s*wait(?:\s*=\s*(\d+))?\s*$", header)
    if not m:
        return None
    seconds = int(m.group(1) or 60)
    if not 1 <= seconds <= 60:
        raise Invalid("invalid", "Prefer: wait=N takes 1 to 60 seconds", "Prefer")
    return float(seconds)


def _check_inputs(model: str, inputs: dict[str, Any]) -> tuple[int, tuple[int, int]]:
    """The model's schema checks [doc the models' API pages]; (images to make, their pixels)."""
    _, _, max_refs, sizes = MODELS[model]
    refs = 0
    if "image_input" in inputs:
        refs = len(image_list(inputs["image_input"], "image_input", 0, max_refs))  # default [] [doc]
    if "input_image" in inputs:
        if not isinstance(inputs["input_image"], str):
            raise Invalid("invalid", "input_image must be one image (a URL or data URI)", "input_image")
        refs = len(image_list(inputs["input_image"], "input_image", 1, 1))
    if "seed" in inputs and (not isinstance(inputs["seed"], int) or isinstance(inputs["seed"], bool)):
        raise Invalid("invalid", "seed must be an integer", "seed")
    if sizes:  # Seedream
        sequential = inputs.get("sequential_image_generation", "disabled")
        if sequential not in ("disabled", "auto"):
            raise Invalid("invalid", "sequential_image_generation: disabled or auto", "sequential_image_generation")
        frames = int_field(inputs, "max_images", 1, 15, 1) if sequential == "auto" else 1
        if refs + frames > 15:
            raise Invalid("invalid", "Total images (input + generated) cannot exceed 15", "max_images")
        return frames, _seedream_dims(inputs, sizes)
    ratio = inputs.get("aspect_ratio", "match_input_image" if refs else "1:1")
    if model.endswith("flux-1.1-pro") and ratio == "custom":
        width, height = (int_field(inputs, k, 256, 1440, 1024) for k in ("width", "height"))
        if width % 32 or height % 32:
            raise Invalid("invalid", "width and height must be multiples of 32", "width")
        return 1, (width, height)
    extra = {"match_input_image"} if refs or not model.endswith("flux-1.1-pro") else set()
    if ratio not in _RATIOS | extra | ({"9:21", "2:1", "1:2"} if "kontext" in model else set()):
        raise Invalid("invalid", f"aspect_ratio {ratio!r} is not one of the allowed values", "aspect_ratio")
    return 1, _area_dims(1024, "1:1" if ratio == "match_input_image" else ratio)


def _seedream_dims(inputs: dict[str, Any], sizes: tuple[str, ...]) -> tuple[int, int]:
    size = inputs.get("size", "2K")
    if size not in sizes:
        raise Invalid("invalid", f"size must be one of {', '.join(sizes)}", "size")
    if size == "custom":
        return int_field(inputs, "width", 1024, 4096, 2048), int_field(inputs, "height", 1024, 4096, 2048)
    ratio = inputs.get("aspect_ratio", "match_input_image")
    if ratio not in _RATIOS - {"4:5", "5:4"} | {"match_input_image"}:
        raise Invalid("invalid", f"aspect_ratio {ratio!r} is not one of the allowed values", "aspect_ratio")
    return _area_dims(int(size[0]) * 1024, "1:1" if ratio == "match_input_image" else ratio)


def _area_dims(side: int, ratio: str) -> tuple[int, int]:
    a, b = (int(x) for x in ratio.split(":"))
    width = math.sqrt(side * side * a / b)
    return int(round(width / 16) * 16), int(round(width * b / a / 16) * 16)


def _existing(req: Req, pred_id: str, cancel: bool) -> None:
    if req.method != ("POST" if cancel else "GET"):
        return
    job = polled_job(req, pred_id, "prediction", stage="cancel" if cancel else "poll")
    if job is None:
        return
    if cancel and job.phase() in ("queued", "processing"):
        job.cancelled = True
        req.emu.cancelled.append(job.id)
    req.json_response(200, _prediction(req, job, blocking=False))


def _prediction(req: Req, job: Job, *, blocking: bool) -> dict[str, Any]:
    """The prediction object [sdk replicate 1.0.7 prediction.py Prediction]: every `urls` value a
    string (the client refuses a null one)."""
    phase = job.phase()
    if job.fault and job.fault.name == "refused" and phase == "done":
        phase = "failed"
    status = _STATUS_OF_PHASE[phase]
    base = f"{req.emu.url}{PREFIX}/v1/predictions/{job.id}"
    output: Any = None
    if status == "succeeded":
        urls = [_output_url(req, job, i) for i in range(job.returned())]
        output = urls if MODELS[job.model][1] == "list" else (urls[0] if urls else None)
        if blocking and "replicate_output_processing" in req.emu.shapes:
            status = "processing"
    elif blocking and status == "starting" and "replicate_wait_processing" in req.emu.shapes:
        status = "processing"
    error_text = None
    if status == "failed":
        flagged = job.fault is not None and job.fault.name == "refused"
        error_text = SENSITIVE if flagged else "Prediction failed: internal error"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    ended = status in ("succeeded", "failed", "canceled", "aborted")
    return {
        "id": job.id,
        "model": job.model,
        "version": "hidden",
        "input": job.extra.get("inputs", {}),
        "logs": "",
        "output": output,
        "data_removed": False,
        "error": error_text,
        "status": status,
        "created_at": stamp,
        "started_at": None if status in ("starting", "aborted") else stamp,
        "completed_at": stamp if ended else None,
        "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"https://replicate.com/p/{job.id}"},
        "metrics": {"predict_time": round(job.latency, 3)} if ended else {},
    }


def _output_url(req: Req, job: Job, index: int) -> str:
    w, h = job.size
    if job.fault and job.fault.name == "lost_frame" and index == int(job.fault.params.get("index", 1)):
        return f"{req.emu.url}/replicate-delivery/expired/{job.id}-{index}.{req.emu.image_format}"
    return f"{req.emu.url}/replicate-delivery/{w}x{h}/{req.emu.frame_variant(job, index)}.{req.emu.image_format}"


def delivery(req: Req) -> None:
    """The file host of the outputs (replicate.delivery in reality): no token needed."""
    m = re.match(r"^/(\d+)x(\d+)/(\d+)\.(png|jpeg)$", req.path)
    if req.method not in ("GET", "HEAD") or not m:
        req.send(404, b"not found", "text/plain")
        return
    data = render_image(int(m.group(1)), int(m.group(2)), m.group(4), int(m.group(3)))
    req.send(200, data, f"image/{m.group(4)}")


EXTRA_PLACES = {"replicate-delivery": ("/replicate-delivery", delivery)}
