"""Emulator routes, part 1: dispatch, the shared error bodies and faults, frame files, and the
Seedream family (BytePlus ModelArk, EvoLink, WaveSpeed, AtlasCloud). Part 2 (OpenAI,
Stability, fal) is emulator_images.py. Shapes follow docs/providers.md; every route
validates the request strictly (unknown fields are refused) so contract tests catch drift."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any, Callable
from urllib.parse import urlsplit

from playground.emulator import PREFIXES, Emulator, Fault, Job, Req, render_image

# -- error bodies per provider ------------------------------------------------------------------

_BYTEPLUS_CODES = {
    "auth": (401, "AuthenticationError"), "forbidden": (403, "AccessDenied"),
    "rate_limit": (429, "RateLimitExceeded.EndpointRPMExceeded"), "server": (500, "InternalServiceError"),
    "content": (400, "InputTextSensitiveContentDetected"), "quota": (403, "AccountOverdueError"),
    "invalid": (400, "InvalidParameter"), "missing": (400, "MissingParameter"),
    "not_found": (404, "InvalidEndpoint.NotFound"),
}
_EVOLINK_CODES = {
    "auth": (401, "invalid_api_key", "authentication_error"), "forbidden": (403, "permission_denied", "permission_error"),
    "rate_limit": (429, "rate_limit_exceeded", "rate_limit_error"), "server": (500, "internal_error", "internal_server_error"),
    "content": (400, "content_policy_violation", "invalid_request_error"),
    "quota": (402, "insufficient_quota", "insufficient_quota_error"),
    "invalid": (400, "invalid_parameters", "invalid_request_error"), "missing": (400, "invalid_parameters", "invalid_request_error"),
    "not_found": (404, "resource_not_found", "not_found_error"),
}
_OPENAI_CODES = {
    "auth": (401, "invalid_api_key", "invalid_request_error"), "forbidden": (403, "unsupported_country_region_territory", "invalid_request_error"),
    "rate_limit": (429, "rate_limit_exceeded", "requests"), "server": (500, "server_error", "server_error"),
    "content": (400, "moderation_blocked", "image_generation_user_error"), "quota": (429, "insufficient_quota", "insufficient_quota"),
    "invalid": (400, "invalid_value", "invalid_request_error"), "missing": (400, "missing_required_parameter", "invalid_request_error"),
    "not_found": (404, "model_not_found", "invalid_request_error"),
}
_STATUS = {"auth": 401, "forbidden": 403, "rate_limit": 429, "server": 500, "content": 400, "quota": 402,
           "invalid": 400, "missing": 400, "not_found": 404}
_STABILITY_NAMES = {"auth": "unauthorized", "forbidden": "forbidden", "rate_limit": "rate_limit_exceeded",
                    "server": "internal_error", "content": "content_moderation", "quota": "payment_required",
                    "invalid": "bad_request", "missing": "bad_request", "not_found": "not_found"}
_MESSAGES = {"auth": "the API key {key} is not valid", "forbidden": "access denied for this model",
             "rate_limit": "too many requests, slow down", "server": "internal error, try again later",
             "content": "the prompt may contain sensitive content", "quota": "account balance is insufficient",
             "invalid": "invalid parameter", "missing": "missing parameter", "not_found": "not found"}


def error(req: Req, kind: str, message: str = "", *, param: str = "", headers: dict[str, str] | None = None) -> None:
    """Answer with `provider`'s documented error body for `kind`."""
    message = message or _MESSAGES[kind].format(key=repr(_raw_key(req)))
    p = req.provider
    if p == "byteplus":
        status, code = _BYTEPLUS_CODES[kind]
        body: Any = {"error": {"code": code, "message": message, "param": param, "type": "BadRequest"}}
    elif p == "evolink":
        status, code, typ = _EVOLINK_CODES[kind]
        body = {"error": {"code": code, "message": message, "type": typ, "param": param or None}}
    elif p == "openai":
        status, code, typ = _OPENAI_CODES[kind]
        body = {"error": {"message": message, "type": typ, "param": param or None, "code": code}}
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:24]}", **(headers or {})}  # on every answer [sdk]
    elif p == "stability":
        status = 403 if kind == "content" else _STATUS[kind]
        body = {"id": uuid.uuid4().hex, "name": _STABILITY_NAMES[kind], "errors": [message]}
    elif p == "fal":  # model errors and request errors have two shapes: emulator_images.fal_error
        from playground.emulator_images import fal_error

        fal_error(req, kind, message, param, headers)
        return
    else:  # wavespeed, atlascloud: {"code", "message"} with the HTTP status repeated
        status = _STATUS[kind]
        body = {"code": status, "message": message, "data": None}
    req.json_response(status, body, headers)


def _raw_key(req: Req) -> str:
    value = req.headers.get("authorization", "")
    return value.split(" ", 1)[1] if " " in value else value


def answer_fault(req: Req, fault: Fault | None) -> bool:
    """Answer a request-level fault; True when answered (job faults are left to the route)."""
    if fault is None:
        return False
    name = fault.name
    if name in ("auth", "forbidden", "server", "content", "quota", "invalid"):
        error(req, name)
    elif name == "rate_limit":
        retry_after = fault.params.get("retry_after", 1)
        error(req, "rate_limit", headers={} if retry_after is None else {"Retry-After": f"{retry_after:g}"})
    elif name == "reset":
        req.reset()
    elif name == "malformed":
        req.malformed()
    elif name == "redirect":  # a gateway or a moved base URL: an HTML page pointing elsewhere
        req.send(307, b"<html><body>Moved</body></html>", "text/html", {"Location": f"{req.emu.url}/moved{req.path}"})
    elif name == "body_error":  # WaveSpeed/AtlasCloud: an error in an HTTP 200 envelope
        req.json_response(200, {"code": int(fault.params.get("code", 500)), "data": None,
                                "message": str(fault.params.get("message", "the prediction has expired"))})
    else:
        return False
    return True


def check_auth(req: Req, scheme: str = "Bearer") -> bool:
    if req.key(scheme) is None:
        error(req, "auth")
        return False
    return True


def create_gate(req: Req, scheme: str = "Bearer") -> tuple[bool, Fault | None]:
    """Auth and the create fault of a generation POST: (False, _) when an answer was already sent;
    else the fault, which a job may still act on later (fewer frames, stuck, ...)."""
    if not check_auth(req, scheme):
        return False, None
    fault = req.fault("create")
    if answer_fault(req, fault) or req.emu.held(req):  # held: the server stopped while it waited
        return False, fault
    return True, fault


def polled_job(req: Req, job_id: str, what: str, *, scheme: str = "Bearer", stage: str = "poll") -> Job | None:
    """Auth, the stage's fault, then this provider's job; None when an answer was already sent."""
    if not check_auth(req, scheme) or answer_fault(req, req.fault(stage)):
        return None
    job = req.emu.job(job_id, count_poll=(stage == "poll"))
    if job is None or job.provider != req.provider:
        error(req, "not_found", f"{what} not found")
        return None
    return job


def hang(req: Req) -> None:
    """A stuck synchronous call: no answer until stuck_s passes (or the server stops)."""
    if not req.emu.wait(req.emu.stuck_s):
        error(req, "server", "generation timed out")


class Invalid(Exception):
    def __init__(self, kind: str, message: str, param: str = "") -> None:
        super().__init__(message)
        self.kind, self.message, self.param = kind, message, param


def check_fields(body: Any, allowed: set[str], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid("invalid", "the body must be a JSON object")
    for name in required:
        if name not in body or body[name] in (None, ""):
            raise Invalid("missing", f"the parameter `{name}` is required", name)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Invalid("invalid", f"unknown parameter(s): {', '.join(unknown)}", unknown[0])
    if not isinstance(body["prompt"], str):
        raise Invalid("invalid", "prompt must be a string", "prompt")
    return body


def accept_fields(req: Req, body: Any, allowed: set[str], required: tuple[str, ...]) -> dict[str, Any]:
    """`check_fields` as the real services read a body: a `null` is an absent field (the BytePlus
    SDK sends every parameter, null when unset [sdk byteplus-python-sdk-v2 3.0.63
    byteplussdkarkruntime/resources/images/images.py]); a field the protocol does not know is
    recorded in the request log and, with `strict_fields`, refused; else dropped [guess: the
    services ignore it]. Required fields, types and ranges stay checked by the routes."""
    if not isinstance(body, dict):
        raise Invalid("invalid", "the body must be a JSON object")
    body = {k: v for k, v in body.items() if v is not None}
    unknown = sorted(set(body) - allowed)
    if req.recorded is not None:
        req.recorded.unknown_fields = unknown
    if unknown and req.emu.strict_fields:
        raise Invalid("invalid", f"unknown parameter(s): {', '.join(unknown)}", unknown[0])
    body = {k: v for k, v in body.items() if k in allowed}
    for name in required:
        if name not in body or body[name] == "":
            raise Invalid("missing", f"the parameter `{name}` is required", name)
    if "prompt" in body and not isinstance(body["prompt"], str):
        raise Invalid("invalid", "prompt must be a string", "prompt")
    return body


def bool_fields(body: dict[str, Any], *names: str) -> None:
    for name in names:
        if name in body and not isinstance(body[name], bool):
            raise Invalid("invalid", f"{name} must be a boolean", name)


def options_object(body: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    """A nested options object, its nulls absent like the top level's."""
    value = body.get(name, {})
    if not isinstance(value, dict):
        raise Invalid("invalid", f"{name} must be an object", name)
    value = {k: v for k, v in value.items() if v is not None}
    if set(value) - allowed:
        raise Invalid("invalid", f"{name} takes {', '.join(sorted(allowed))} only", name)
    return value


def int_field(body: dict[str, Any], name: str, lo: int, hi: int, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise Invalid("invalid", f"{name} must be an integer in [{lo}, {hi}]", name)
    return value


def image_list(value: Any, name: str, lo: int, hi: int) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not lo <= len(items) <= hi:
        raise Invalid("invalid", f"{name} must hold {lo} to {hi} images", name)
    for item in items:
        if not isinstance(item, str) or not (item.startswith("data:image/") or item.startswith("http")):
            raise Invalid("invalid", f"{name}: each image must be a URL or a data:image/...;base64 URL", name)
        if item.startswith("data:"):
            try:
                base64.b64decode(item.split(",", 1)[1], validate=True)
            except Exception:
                raise Invalid("invalid", f"{name}: unreadable base64", name) from None
    return items


_WXH = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_WSTAR = re.compile(r"^(\d{2,5})\*(\d{2,5})$")
_K = re.compile(r"^([1-4])K$")


def seedream_size(size: Any, pattern: re.Pattern[str] = _WXH, allow_k: bool = True) -> tuple[int, int]:
    if not isinstance(size, str):
        raise Invalid("invalid", "size must be a string", "size")
    m = pattern.match(size)
    if m:
        return int(m.group(1)), int(m.group(2))
    k = _K.match(size.upper()) if allow_k else None
    if k:
        return int(k.group(1)) * 1024, int(k.group(1)) * 1024
    raise Invalid("invalid", f"size {size!r} is not valid here", "size")


def serve_file(emu: Emulator, handler: Any, path: str) -> None:
    m = re.match(r"^/files/(\d+)x(\d+)/(\d+)\.(png|jpeg)$", path)
    up = re.match(r"^/files/upload/([\w-]+)$", path)
    if up and up.group(1) in emu.uploads:
        ctype, data = emu.uploads[up.group(1)]
    elif m:
        ctype = f"image/{m.group(4)}"
        data = render_image(int(m.group(1)), int(m.group(2)), m.group(4), int(m.group(3)))
    else:
        handler.send_error(404)
        return
    handler.send_response(200)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


def dispatch(emu: Emulator, handler: Any) -> None:
    from playground import emulator_images

    routes: dict[str, Callable[[Req], None]] = {
        "byteplus": byteplus, "evolink": evolink, "wavespeed": wavespeed, "atlascloud": atlascloud,
        "openai": emulator_images.openai, "stability": emulator_images.stability, "fal": emulator_images.fal,
    }
    path = urlsplit(handler.path).path
    try:
        if path.startswith("/files/"):
            serve_file(emu, handler, path)
            return
        places = [(name, prefix) for name, (_, prefix, _) in PREFIXES.items()] + [("storage", "/storage")]
        for name, prefix in places:
            if path == prefix or path.startswith(prefix + "/"):
                req = Req(emu, handler, name, path[len(prefix):])
                req.recorded = req.record()
                with emu._lock:
                    emu.requests.append(req.recorded)
                try:
                    (routes.get(name) or storage)(req)
                except Invalid as exc:
                    if not req.answered:
                        error(req, exc.kind, exc.message, param=exc.param)
                if not req.answered and not emu._stop.is_set():
                    error(req, "not_found", f"no route for {req.method} {path}")
                return
        handler.send_error(404)
    except (BrokenPipeError, ConnectionResetError):
        pass


# -- BytePlus ModelArk --------------------------------------------------------------------------

# The fields documented for Seedream 4.x/5.x. The SDK also knows seed, guidance_scale (Seedream
# 3.0 only [doc]), optimize_prompt and layer_decomposition: it sends them as null when unset.
BYTEPLUS_FIELDS = {"model", "prompt", "image", "size", "sequential_image_generation", "sequential_image_generation_options",
                   "stream", "response_format", "watermark", "output_format", "optimize_prompt_options", "tools"}


# The ids providers.md lists (and the 5.0 Lite alias seen in the wild); others answer 404 as ModelArk does.
BYTEPLUS_MODELS = frozenset({"seedream-5-0-260128", "seedream-5-0-lite-260128", "seedream-4-5-251128",
                             "seedream-4-0-250828"})


def byteplus(req: Req) -> None:
    client_id = req.headers.get("x-client-request-id")
    if client_id:  # echoed: the SDK reads the request id of an answer from it [sdk byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/_response.py]
        req.reply_headers["X-Client-Request-Id"] = client_id
    if (req.method, req.path) != ("POST", "/images/generations"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    body = accept_fields(req, req.json, BYTEPLUS_FIELDS, ("model", "prompt"))
    if body["model"] not in BYTEPLUS_MODELS:
        raise Invalid("not_found", f"the model {body['model']} does not exist or is not activated", "model")
    refs = len(image_list(body["image"], "image", 1, 14)) if "image" in body else 0
    size = seedream_size(body.get("size", "2048x2048"))
    mode = body.get("sequential_image_generation", "disabled")
    if mode not in ("auto", "disabled"):
        raise Invalid("invalid", "sequential_image_generation must be auto or disabled", "sequential_image_generation")
    options = options_object(body, "sequential_image_generation_options", {"max_images"})
    max_images = int_field(options, "max_images", 1, 15, 15)
    if mode == "auto" and refs + max_images > 15:
        raise Invalid("invalid", "reference images + max_images must be <= 15", "sequential_image_generation_options.max_images")
    bool_fields(body, "stream", "watermark")
    fmt = body.get("response_format", "url")
    if fmt not in ("url", "b64_json"):
        raise Invalid("invalid", "response_format must be url or b64_json", "response_format")
    if body.get("output_format", "jpeg") not in ("png", "jpeg"):
        raise Invalid("invalid", "output_format must be png or jpeg", "output_format")
    if options_object(body, "optimize_prompt_options", {"mode", "thinking"}).get("mode", "standard") not in ("standard", "fast"):
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
    for i, item in _byteplus_items(req.emu, job):
        items.append(item)
        generated += "error" not in item
    req.json_response(200, {"model": job.model, _created_key(req): int(time.time()), "data": items,
                            "usage": _byteplus_usage(generated)}, headers)


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
            yield i, {"error": {"code": "OutputImageSensitiveContentDetected",
                                "message": "The output image may contain sensitive information."}}
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
            error_event = {"error": {"code": "InternalServiceError", "message": "internal error, the stream was aborted"}}
            lines = emu.shapes & {"sse_event_lines", "sse_type_in_event_only"}
            req.sse(json.dumps(error_event), event="error" if lines else None)
            return
        if i == 0:  # a preview first: the adapter must not take it for a frame
            preview = base64.b64encode(render_image(32, 32, "png", 0)).decode()
            _byteplus_event(req, {"type": "image_generation.partial_image", "model": job.model, "image_index": 0,
                                  "partial_image_index": 0, "b64_json": preview})
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
    _byteplus_event(req, {"type": "image_generation.completed", "model": job.model, created: int(time.time()),
                          "usage": _byteplus_usage(generated)})
    if "completed_then_hold" in emu.shapes:  # a gateway that drops [DONE] and keeps the connection open
        emu.wait(emu.stuck_s)
        return
    req.sse("[DONE]")


# -- EvoLink ------------------------------------------------------------------------------------

EVOLINK_FIELDS = {"model", "prompt", "n", "size", "quality", "image_urls", "callback_url"}


def evolink(req: Req) -> None:
    if req.method == "POST" and req.path == "/images/generations":
        admitted, fault = create_gate(req)
        if not admitted:
            return
        body = accept_fields(req, req.json, EVOLINK_FIELDS, ("model", "prompt"))
        if not str(body["model"]).startswith("doubao-seedream-"):
            raise Invalid("invalid", f"unsupported model {body['model']}", "model")
        if len(body["prompt"]) > 2000:
            raise Invalid("invalid", "prompt is longer than 2000 characters", "prompt")
        n = int_field(body, "n", 1, 15, 1)
        refs = len(image_list(body["image_urls"], "image_urls", 1, 14)) if "image_urls" in body else 0
        if "quality" in body and body["quality"] not in ("1K", "2K", "3K", "4K"):
            raise Invalid("invalid", "quality must be 1K..4K", "quality")
        size = body.get("size", "1:1")
        if re.match(r"^\d+:\d+$", str(size)):
            k = int(str(body.get("quality", "2K"))[0]) * 1024
            dims = (k, k)
        else:
            dims = seedream_size(size, allow_k=False)
        job = req.emu.new_job("evolink", body["model"], min(n, 15 - refs), dims, fault)
        if req.emu.shapes & {"evolink_immediate", "evolink_immediate_b64"}:
            _evolink_immediate(req, job)
            return
        req.json_response(200, {"created": int(time.time()), "id": job.id, "model": job.model,
                                "object": "image.generation.task", "progress": 0, "status": "pending",
                                "task_info": {"can_cancel": True, "estimated_time": 45}, "type": "image",
                                "usage": {"billing_rule": "per_call", "credits_reserved": 1.8 * n, "user_group": "default"}})
        return
    m = re.match(r"^/tasks/([\w.-]+)$", req.path)
    if req.method == "GET" and m:
        job = polled_job(req, m.group(1), "task")
        if job is None:
            return
        phase = job.phase()
        task: dict[str, Any] = {"created": int(time.time()), "id": job.id, "model": job.model,
                                "object": "image.generation.task", "type": "image"}
        if phase == "queued":
            task.update(status="pending", progress=0)
        elif phase in ("processing", "stuck"):
            task.update(status="processing", progress=min(95, int(100 * job.elapsed() / max(job.latency, 1e-6))))
        elif phase == "failed":
            task.update(status="failed", progress=0, error={"code": "service_error", "message": "internal service error"})
        elif phase in ("cancelled", "deleted"):
            task.update(status="failed", progress=0, error={"code": "request_cancelled", "message": phase})
        elif phase == "timeout":  # EvoLink's states are pending|processing|completed|failed [doc]
            task.update(status="failed", progress=0, error={"code": "generation_timeout", "message": "timed out"})
        else:
            urls = [req.emu.frame_url(job, i) for i in range(job.returned()) if i != job.refused_index()]
            task.update(status="completed", progress=100, results=urls)
        req.json_response(200, task)


def _evolink_immediate(req: Req, job: Job) -> None:
    """The answer the seed guide's sample reads: the frames at once in `data`, a `url` or a
    `b64_json` per item, an `{"error"}` item for a refused frame [guess: the guide's shape, not
    EvoLink's documented task]. Job faults act as on a synchronous API: stuck hangs, a failed
    job is a 500."""
    emu = req.emu
    if job.fault and job.fault.name == "stuck":
        hang(req)
        return
    if emu.wait(job.latency):
        return
    if job.fault and job.fault.name in ("job_failed", "job_ended"):
        error(req, "server", "generation failed: internal error")
        return
    items: list[dict[str, Any]] = []
    for i in range(job.returned()):
        if i == job.refused_index():
            items.append({"error": {"code": "content_policy_violation",
                                    "message": "the output image was blocked by the content filter"}})
        elif "evolink_immediate_b64" in emu.shapes:
            items.append({"b64_json": base64.b64encode(emu.frame_bytes(job, i)).decode()})
        else:
            items.append({"url": emu.frame_url(job, i)})
    req.json_response(200, {"created": int(time.time()), "data": items})


# -- WaveSpeed / AtlasCloud ---------------------------------------------------------------------

WAVESPEED_FIELDS = {"prompt", "size", "max_images", "images", "enable_base64_output", "enable_sync_mode", "output_format"}
ATLAS_FIELDS = {"model", "prompt", "size", "max_images", "images", "enable_base64_output", "enable_sync_mode", "seed"}
_SEEDREAM_MODELS = re.compile(r"^bytedance/seedream-v(5\.0-lite|4\.5|4)/(sequential|edit-sequential)$")
# job phase -> WaveSpeed status: created, processing, completed, failed [doc], and the other terminal
# states the SDK knows: cancelled, timeout, deleted [sdk wavespeed 2.0.5 wavespeed/api/client.py]
_WAVESPEED_STATUS = {"queued": "created", "processing": "processing", "failed": "failed", "cancelled": "cancelled",
                     "timeout": "timeout", "deleted": "deleted", "done": "completed"}
SYNC_TIMEOUT_ERROR = "Sync mode timed out, the task is still processing"  # the words the SDK looks for [sdk wavespeed 2.0.5 wavespeed/api/client.py]


def _enveloped(req: Req, data: dict[str, Any]) -> dict[str, Any]:
    """{"code": 200, "message": "success", "data": ...} [doc]; the shape `bare_prediction` answers
    the inner object alone, as newer WaveSpeed pages show it [doc]."""
    return data if "bare_prediction" in req.emu.shapes else {"code": 200, "message": "success", "data": data}


def _prediction(req: Req, job: Job, result_url: str) -> dict[str, Any]:
    status = _WAVESPEED_STATUS[job.phase()]
    outputs: list[str] = []
    if status == "completed":
        wanted = [i for i in range(job.returned()) if i != job.refused_index()]
        if job.extra.get("base64"):  # naked base64, no data: prefix [doc wavespeed.ai/docs/base64-output]
            outputs = [base64.b64encode(req.emu.frame_bytes(job, i)).decode() for i in wanted]
        else:
            outputs = [req.emu.frame_url(job, i) for i in wanted]
    errors = {"failed": "generation failed: internal error", "timeout": "the prediction timed out",
              "cancelled": "the prediction was cancelled", "deleted": "the prediction was deleted"}
    return {"id": job.id, "model": job.model, "status": status, "outputs": outputs,
            "urls": {"get": result_url}, "has_nsfw_contents": [False] * len(outputs),
            "error": errors.get(status, ""),
            "timings": {"inference": int(job.latency * 1000)} if status == "completed" else {},
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}


def _submit_prediction(req: Req, body: dict[str, Any], model: str, fault: Fault | None, max_frames: int) -> Job:
    m = _SEEDREAM_MODELS.match(model)
    if not m:
        raise Invalid("not_found", f"model {model} not found", "model")
    size = seedream_size(body.get("size", "2048*2048"), _WSTAR, allow_k=False)
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


def _answer_submit(req: Req, body: dict[str, Any], job: Job, result_url: str, queued: dict[str, Any]) -> None:
    """The submit answer: at once with the queued state, or with enable_sync_mode when the job
    ends, or after `sync_wait_s` still processing with the SDK's "Sync mode timed out" [sdk wavespeed 2.0.5]."""
    emu = req.emu
    if body.get("enable_sync_mode"):
        stuck = job.fault is not None and job.fault.name == "stuck"
        wait = emu.sync_wait_s if stuck else min(job.latency, emu.sync_wait_s)
        if emu.wait(wait):
            return
        data = _prediction(req, job, result_url)
        if data["status"] in ("created", "processing"):
            data.update(status="processing", error=SYNC_TIMEOUT_ERROR)
    else:
        data = {**_prediction(req, job, result_url), "outputs": [], "has_nsfw_contents": [], "timings": {},
                "error": "", **queued}
    req.json_response(200, _enveloped(req, data))


def _wavespeed_upload(req: Req) -> None:
    """The upload path `Emulator.wavespeed_upload_path` names (the others are 404):
    POST /media/uploads {filename, size, content_type?} -> a ticket: data.upload {method PUT,
    url, headers} and data.download_url [sdk wavespeed 2.0.5 wavespeed/api/client.py]; or the
    older multipart `file` to /media/upload/binary -> data.download_url [sdk wavespeed 1.0.10]
    or /upload -> data.url [doc]."""
    if not check_auth(req):
        return
    if answer_fault(req, req.fault("upload")):
        return
    upload_id = uuid.uuid4().hex
    if req.path == "/media/uploads":
        ticket = accept_fields(req, req.json, {"filename", "size", "content_type"}, ("filename", "size"))
        if not isinstance(ticket["filename"], str):
            raise Invalid("invalid", "filename must be a string", "filename")
        size = int_field(ticket, "size", 1, 200 * 1024 * 1024, 0)
        ctype = ticket.get("content_type", "application/octet-stream")
        if not isinstance(ctype, str):
            raise Invalid("invalid", "content_type must be a string", "content_type")
        req.emu.upload_tickets[upload_id] = {"content_type": ctype, "size": size}
        req.json_response(200, _enveloped(req, {
            "upload": {"method": "PUT", "url": f"{req.emu.url}/storage/{upload_id}?X-Signature=emu-{upload_id[:8]}",
                       "headers": {"Content-Type": ctype}},
            "download_url": f"{req.emu.url}/files/upload/{upload_id}", "filename": ticket["filename"]}))
        return
    part = req.files.get("file")
    if not part or set(req.form) or set(req.files) != {"file"}:
        raise Invalid("invalid", "upload takes one multipart field: file", "file")
    req.emu.uploads[upload_id] = (part["content_type"], part["data"])
    url = f"{req.emu.url}/files/upload/{upload_id}"
    if req.path == "/upload":
        data: dict[str, Any] = {"url": url}
    else:
        data = {"type": "image", "download_url": url, "filename": part["filename"], "size": part["size"]}
    req.json_response(200, _enveloped(req, data))


def storage(req: Req) -> None:
    """The PUT target of a WaveSpeed upload ticket: a presigned storage URL (another host in
    reality). Like one, it refuses a request that brings its own Authorization header and
    checks the signed Content-Type and the declared size [guess: S3-style presigned URLs]."""
    ticket = req.emu.upload_tickets.get(req.path.strip("/"))
    if req.method != "PUT" or ticket is None:
        req.send(404, b"<Error><Code>NoSuchUpload</Code></Error>", "application/xml")
        return
    if answer_fault(req, req.fault("storage")):
        return
    if "authorization" in req.headers:
        req.send(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
                 "application/xml")
    elif req.content_type != ticket["content_type"]:
        req.send(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
    elif len(req.body) != ticket["size"]:
        req.send(400, b"<Error><Code>IncompleteBody</Code></Error>", "application/xml")
    else:
        req.emu.uploads[req.path.strip("/")] = (ticket["content_type"], req.body)
        req.send(200, b"", "application/xml", {"ETag": f'"{uuid.uuid4().hex}"'})


def wavespeed(req: Req) -> None:
    base = f"{req.emu.url}{PREFIXES['wavespeed'][1]}"
    if (req.method, req.path) == ("POST", req.emu.wavespeed_upload_path):
        _wavespeed_upload(req)
        return
    m = re.match(r"^/predictions/([\w.-]+)(/result)?$", req.path)
    if req.method == "GET" and m:
        job = polled_job(req, m.group(1), "prediction")
        if job is None:
            return
        req.json_response(200, _enveloped(req, _prediction(req, job, f"{base}/predictions/{job.id}/result")))
        return
    if req.method != "POST":
        return
    if not check_auth(req):
        return
    if not _SEEDREAM_MODELS.match(req.path.lstrip("/")):  # e.g. an upload path this setting does not serve
        error(req, "not_found", f"no model or endpoint at {req.path}")
        return
    fault = req.fault("create")
    if answer_fault(req, fault) or req.emu.held(req):
        return
    body = accept_fields(req, req.json, WAVESPEED_FIELDS, ("prompt",))
    job = _submit_prediction(req, body, req.path.lstrip("/"), fault, 15)
    _answer_submit(req, body, job, f"{base}/predictions/{job.id}/result", {"status": "created"})


def atlascloud(req: Req) -> None:
    base = f"{req.emu.url}{PREFIXES['atlascloud'][1]}"
    m = re.match(r"^/model/prediction/([\w.-]+)$", req.path)
    if req.method == "GET" and m:
        job = polled_job(req, m.group(1), "prediction")
        if job is None:
            return
        data = _prediction(req, job, f"{base}/model/prediction/{job.id}")
        if data["status"] == "created":
            data["status"] = "processing"  # AtlasCloud lists processing|completed|succeeded|failed [doc]
        elif data["status"] == "completed":
            data["status"] = ("completed", "succeeded")[int(job.id[-1], 16) % 2]  # both documented
        req.json_response(200, _enveloped(req, data))
        return
    if (req.method, req.path) != ("POST", "/model/generateImage"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    body = accept_fields(req, req.json, ATLAS_FIELDS, ("model", "prompt"))
    limit = 14 if str(body["model"]).startswith("bytedance/seedream-v4/") else 15
    job = _submit_prediction(req, body, str(body["model"]), fault, limit)
    _answer_submit(req, body, job, f"{base}/model/prediction/{job.id}", {"status": "processing"})
