"""WaveSpeed-shaped predictions, shared by the WaveSpeed and AtlasCloud modules: the Seedream
model ids, the prediction object, the submit and its answer (queued, or done in sync mode),
and their error body ({"code", "message", "data": null} with the HTTP status repeated)."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from emulator.faults import GATEWAY_TIMEOUT_PAGE, Fault
from emulator.routes import STATUS, WSTAR, Invalid, bool_fields, image_list, int_field, seedream_size
from emulator.wire import Job, Req


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    status = STATUS[kind]
    return status, {"code": status, "message": message, "data": None}, {}


SEEDREAM_MODELS = re.compile(r"^bytedance/seedream-v(5\.0-lite|4\.5|4)/(sequential|edit-sequential)$")


# job phase -> WaveSpeed status: created, processing, completed, failed [doc], and the other terminal
# states the SDK knows: cancelled, timeout, deleted [sdk wavespeed 2.0.5 wavespeed/api/client.py]
STATUS_OF_PHASE = {
    "queued": "created",
    "processing": "processing",
    "failed": "failed",
    "cancelled": "cancelled",
    "timeout": "timeout",
    "deleted": "deleted",
    "done": "completed",
}


SYNC_TIMEOUT_ERROR = "Sync mode timed out, the task is still processing"  # the words the SDK looks for [sdk wavespeed 2.0.5 wavespeed/api/client.py]


def enveloped(req: Req, data: dict[str, Any]) -> dict[str, Any]:
    """{"code": 200, "message": "success", "data": ...} [doc]; the shape `bare_prediction` answers
    the inner object alone, as newer WaveSpeed pages show it [doc]."""
    return data if "bare_prediction" in req.emu.shapes else {"code": 200, "message": "success", "data": data}


def prediction(req: Req, job: Job, result_url: str) -> dict[str, Any]:
    status = STATUS_OF_PHASE[job.phase()]
    outputs: list[str] = []
    if status == "completed":
        wanted = [i for i in range(job.returned()) if i != job.refused_index()]
        if job.extra.get("base64"):  # naked base64, no data: prefix [doc wavespeed.ai/docs/base64-output]
            outputs = [base64.b64encode(req.emu.frame_bytes(job, i)).decode() for i in wanted]
        else:
            outputs = [req.emu.frame_url(job, i) for i in wanted]
    errors = {
        "failed": "generation failed: internal error",
        "timeout": "the prediction timed out",
        "cancelled": "the prediction was cancelled",
        "deleted": "the prediction was deleted",
    }
    return {
        "id": job.id,
        "model": job.model,
        "status": status,
        "outputs": outputs,
        "urls": {"get": result_url},
        "has_nsfw_contents": [False] * len(outputs),
        "error": errors.get(status, ""),
        "timings": {"inference": int(job.latency * 1000)} if status == "completed" else {},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    }


def submit_prediction(req: Req, body: dict[str, Any], model: str, fault: Fault | None, max_frames: int) -> Job:
    m = SEEDREAM_MODELS.match(model)
    if not m:
        raise Invalid("not_found", f"model {model} not found", "model")
    size = seedream_size(body.get("size", "2048*2048"), WSTAR, allow_k=False)
    max_images = int_field(body, "max_images", 1, max_frames, 1)
    bool_fields(body, "enable_base64_output", "enable_sync_mode")
    if body.get("output_format", "jpeg") not in ("jpeg", "png", "webp"):
        raise Invalid("invalid", "output_format must be jpeg, png or webp", "output_format")
    if m.group(2) == "edit-sequential":
        if "images" not in body:
            raise Invalid("missing", "images is required", "images")
        refs = len(image_list(body["images"], "images", 1, 10))
        if req.provider == "wavespeed" and not all(str(u).startswith("http") for u in body["images"]):
            raise Invalid("invalid", "images must be URLs (upload files first)", "images")
        if refs + max_images > 15:
            raise Invalid("invalid", "images + max_images must be <= 15", "max_images")
    elif "images" in body:
        raise Invalid("invalid", "this model takes no images", "images")
    if "seed" in body and not isinstance(body["seed"], int):
        raise Invalid("invalid", "seed must be an integer", "seed")
    return req.emu.new_job(req.provider, model, max_images, size, fault, base64=bool(body.get("enable_base64_output")))


def answer_submit(req: Req, body: dict[str, Any], job: Job, result_url: str, queued: dict[str, Any]) -> None:
    """The submit answer: at once with the queued state, or with enable_sync_mode when the job
    ends, or after `sync_wait_s` still processing with the SDK's "Sync mode timed out" [sdk wavespeed 2.0.5]."""
    emu = req.emu
    if body.get("enable_sync_mode") and job.fault is not None and job.fault.name == "gateway_timeout":
        req.send(504, GATEWAY_TIMEOUT_PAGE, "text/html")  # the job was created and runs on
        return
    if body.get("enable_sync_mode"):
        stuck = job.fault is not None and job.fault.name == "stuck"
        wait = emu.sync_wait_s if stuck else min(job.latency, emu.sync_wait_s)
        if emu.wait(wait):
            return
        data = prediction(req, job, result_url)
        if data["status"] in ("created", "processing"):
            data.update(status="processing", error=SYNC_TIMEOUT_ERROR)
    else:
        data = {
            **prediction(req, job, result_url),
            "outputs": [],
            "has_nsfw_contents": [],
            "timings": {},
            "error": "",
            **queued,
        }
    req.json_response(200, enveloped(req, data))
