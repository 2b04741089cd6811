"""BytePlus ModelArk (Seedream): POST /images/generations, a JSON answer or server-sent events
(docs/providers.md; the official SDK's requests pass here: tests/conformance)."""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

from emulator.images import render_image
from emulator.routes import (
    Invalid,
    accept_fields,
    bool_fields,
    create_gate,
    hang,
    image_list,
    int_field,
    options_object,
    seedream_size,
)
from emulator.wire import Job, Req

if TYPE_CHECKING:
    from emulator.server import Emulator

PREFIX = "/byteplus/api/v3"
_CODES = {
    "auth": (401, "AuthenticationError"),
    "forbidden": (403, "AccessDenied"),
    "rate_limit": (429, "RateLimitExceeded.EndpointRPMExceeded"),
    "server": (500, "InternalServiceError"),
    "content": (400, "InputTextSensitiveContentDetected"),
    "quota": (403, "AccountOverdueError"),
    "invalid": (400, "InvalidParameter"),
    "missing": (400, "MissingParameter"),
    "not_found": (404, "InvalidEndpoint.NotFound"),
}


# The fields documented for Seedream 4.x/5.x. The SDK also knows seed, guidance_scale (Seedream
# 3.0 only [doc]), optimize_prompt and layer_decomposition: it sends them as null when unset.
def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    status, code = _CODES[kind]
    return status, {"error": {"code": code, "message": message, "param": param, "type": "BadRequest"}}, {}


FIELDS = {
    "model",
    "prompt",
    "image",
    "size",
    "sequential_image_generation",
    "sequential_image_generation_options",
    "stream",
    "response_format",
    "watermark",
    "output_format",
    "optimize_prompt_options",
    "tools",
}


# The ids providers.md lists (and the 5.0 Lite alias seen in the wild); others answer 404 as ModelArk does.
MODELS = frozenset({"seedream-5-0-260128", "seedream-5-0-lite-260128", "seedream-4-5-251128", "seedream-4-0-250828"})


def route(req: Req) -> None:
    client_id = req.headers.get("x-client-request-id")
    if client_id:  # echoed: the SDK reads the request id of an answer from it [sdk byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/_response.py]
        req.reply_headers["X-Client-Request-Id"] = client_id
    if (req.method, req.path) != ("POST", "/images/generations"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    body = accept_fields(req, req.json, FIELDS, ("model", "prompt"))
    if body["model"] not in MODELS:
        raise Invalid("not_found", f"the model {body['model']} does not exist or is not activated", "model")
    refs = len(image_list(body["image"], "image", 1, 14)) if "image" in body else 0
    size = seedream_size(body.get("size", "2048x2048"))
    mode = body.get("sequential_image_generation", "disabled")
    if mode not in ("auto", "disabled"):
        raise Invalid("invalid", "sequential_image_generation must be auto or disabled", "sequential_image_generation")
    options = options_object(body, "sequential_image_generation_options", {"max_images"})
    max_images = int_field(options, "max_images", 1, 15, 15)
    if mode == "auto" and refs + max_images > 15:
        raise Invalid(
            "invalid", "reference images + max_images must be <= 15", "sequential_image_generation_options.max_images"
        )
    bool_fields(body, "stream", "watermark")
    fmt = body.get("response_format", "url")
    if fmt not in ("url", "b64_json"):
        raise Invalid("invalid", "response_format must be url or b64_json", "response_format")
    if body.get("output_format", "jpeg") not in ("png", "jpeg"):
        raise Invalid("invalid", "output_format must be png or jpeg", "output_format")
    if options_object(body, "optimize_prompt_options", {"mode", "thinking"}).get("mode", "standard") not in (
        "standard",
        "fast",
    ):
        raise Invalid("invalid", "optimize_prompt_options.mode must be standard or fast", "optimize_prompt_options")
    tools = body.get("tools", [])
    if not isinstance(tools, list) or any(not isinstance(t, dict) or t.get("type") != "web_search" for t in tools):
        raise Invalid("invalid", 'tools takes [{"type": "web_search"}]', "tools")
    frames = max_images if mode == "auto" else 1
    job = req.emu.new_job("byteplus", body["model"], frames, size, fault, response_format=fmt)
    headers = {"x-request-id": job.id}
    if job.fault and job.fault.name == "stuck":
        hang(req)
        return
    if body.get("stream"):
        _byteplus_stream(req, job, headers)
        return
    if req.emu.wait(job.latency):
        return
    items, generated = [], 0
    for _, item in _byteplus_items(req.emu, job):
        items.append(item)
        generated += "error" not in item
    req.json_response(
        200,
        {"model": job.model, _created_key(req): int(time.time()), "data": items, "usage": _byteplus_usage(generated)},
        headers,
    )


def _created_key(req: Req) -> str:
    """The docs' examples say `created`, the SDK's type says `created_at` [doc, sdk]."""
    return "created_at" if "created_at" in req.emu.shapes else "created"


def _byteplus_event(req: Req, event: dict[str, Any]) -> None:
    """One stream event: `type` in the JSON [doc]; with the shape `sse_event_lines` an `event:`
    line too, with `sse_type_in_event_only` the type only there (the adapter's fallback)."""
    kind = str(event.get("type", ""))
    if "sse_type_in_event_only" in req.emu.shapes:
        event = {k: v for k, v in event.items() if k != "type"}
    lines = req.emu.shapes & {"sse_event_lines", "sse_type_in_event_only"}
    req.sse(json.dumps(event), event=kind if lines and kind else None)


def _byteplus_usage(generated: int) -> dict[str, int]:
    return {"generated_images": generated, "output_tokens": 16384 * generated, "total_tokens": 16384 * generated}


def _byteplus_items(emu: Emulator, job: Job) -> Any:
    """(index, item) per frame: a frame, or an error item; a job_failed stops the rest [doc]."""
    n = job.returned()
    fail_at = min(1, n - 1) if job.fault and job.fault.name == "job_failed" else None
    for i in range(n):
        if i == fail_at:
            yield i, {"error": {"code": "InternalServiceError", "message": "internal error, generation stopped"}}
            return
        if i == job.refused_index():
            yield (
                i,
                {
                    "error": {
                        "code": "OutputImageSensitiveContentDetected",
                        "message": "The output image may contain sensitive information.",
                    }
                },
            )
            continue
        w, h = job.size
        if job.extra.get("response_format") == "b64_json":
            yield i, {"b64_json": base64.b64encode(emu.frame_bytes(job, i)).decode(), "size": f"{w}x{h}"}
        else:
            yield i, {"url": emu.frame_url(job, i), "size": f"{w}x{h}"}


def _byteplus_stream(req: Req, job: Job, headers: dict[str, str]) -> None:
    emu = req.emu
    req.start_sse(headers)
    per_frame = job.latency / max(1, job.frames)
    generated = 0
    created = _created_key(req)
    for i, item in _byteplus_items(emu, job):
        if emu.wait(per_frame):
            return
        if job.fault and job.fault.name == "stream_error" and i == int(job.fault.params.get("after", 1)):
            # a top-level error event (no `type`; `event: error` with the event-lines shapes), then the end
            error_event = {
                "error": {"code": "InternalServiceError", "message": "internal error, the stream was aborted"}
            }
            lines = emu.shapes & {"sse_event_lines", "sse_type_in_event_only"}
            req.sse(json.dumps(error_event), event="error" if lines else None)
            return
        if i == 0:  # a preview first: the adapter must not take it for a frame
            preview = base64.b64encode(render_image(32, 32, "png", 0)).decode()
            _byteplus_event(
                req,
                {
                    "type": "image_generation.partial_image",
                    "model": job.model,
                    "image_index": 0,
                    "partial_image_index": 0,
                    "b64_json": preview,
                },
            )
        event = {"model": job.model, created: int(time.time()), "image_index": i, **item}
        if "error" in item:
            event["type"] = "image_generation.partial_failed"
        else:
            event["type"] = "image_generation.partial_succeeded"
            generated += 1
        _byteplus_event(req, event)
        if "error" in item and item["error"]["code"] == "InternalServiceError" and job.fault.params.get("hold"):  # type: ignore[union-attr]
            emu.wait(emu.stuck_s)  # no more frames come [doc]; this server also leaves the connection open
            return
    _byteplus_event(
        req,
        {
            "type": "image_generation.completed",
            "model": job.model,
            created: int(time.time()),
            "usage": _byteplus_usage(generated),
        },
    )
    if "completed_then_hold" in emu.shapes:  # a gateway that drops [DONE] and keeps the connection open
        emu.wait(emu.stuck_s)
        return
    req.sse("[DONE]")
