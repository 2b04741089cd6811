"""EvoLink (Seedream through an aggregator): POST /images/generations -> a task polled at
/tasks/{id}, or the frames at once (the shapes evolink_immediate[_b64]); docs/providers.md."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from emulator.routes import (
    Invalid,
    accept_fields,
    create_gate,
    error,
    hang,
    image_list,
    int_field,
    polled_job,
    seedream_size,
)
from emulator.wire import Job, Req

PREFIX = "/evolink/v1"
MODELS = re.compile(r"^doubao-seedream-")  # every Seedream id EvoLink lists starts so [doc]
_CODES = {
    "auth": (401, "invalid_api_key", "authentication_error"),
    "forbidden": (403, "permission_denied", "permission_error"),
    "rate_limit": (429, "rate_limit_exceeded", "rate_limit_error"),
    "server": (500, "internal_error", "internal_server_error"),
    "content": (400, "content_policy_violation", "invalid_request_error"),
    "quota": (402, "insufficient_quota", "insufficient_quota_error"),
    "invalid": (400, "invalid_parameters", "invalid_request_error"),
    "missing": (400, "invalid_parameters", "invalid_request_error"),
    "not_found": (404, "resource_not_found", "not_found_error"),
}


def error_body(req: Req, kind: str, message: str, param: str) -> tuple[int, Any, dict[str, str]]:
    status, code, typ = _CODES[kind]
    return status, {"error": {"code": code, "message": message, "type": typ, "param": param or None}}, {}


FIELDS = {"model", "prompt", "n", "size", "quality", "image_urls", "callback_url"}


def route(req: Req) -> None:
    if req.method == "POST" and req.path == "/images/generations":
        admitted, fault = create_gate(req)
        if not admitted:
            return
        body = accept_fields(req, req.json, FIELDS, ("model", "prompt"))
        if not MODELS.match(str(body["model"])):
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
        req.json_response(
            200,
            {
                "created": int(time.time()),
                "id": job.id,
                "model": job.model,
                "object": "image.generation.task",
                "progress": 0,
                "status": "pending",
                "task_info": {"can_cancel": True, "estimated_time": 45},
                "type": "image",
                "usage": {"billing_rule": "per_call", "credits_reserved": 1.8 * n, "user_group": "default"},
            },
        )
        return
    m = re.match(r"^/tasks/([\w.-]+)$", req.path)
    if req.method == "GET" and m:
        job = polled_job(req, m.group(1), "task")
        if job is None:
            return
        phase = job.phase()
        task: dict[str, Any] = {
            "created": int(time.time()),
            "id": job.id,
            "model": job.model,
            "object": "image.generation.task",
            "type": "image",
        }
        if phase == "queued":
            task.update(status="pending", progress=0)
        elif phase in ("processing", "stuck"):
            task.update(status="processing", progress=min(95, int(100 * job.elapsed() / max(job.latency, 1e-6))))
        elif phase == "failed":
            task.update(
                status="failed", progress=0, error={"code": "service_error", "message": "internal service error"}
            )
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
            items.append(
                {
                    "error": {
                        "code": "content_policy_violation",
                        "message": "the output image was blocked by the content filter",
                    }
                }
            )
        elif "evolink_immediate_b64" in emu.shapes:
            items.append({"b64_json": base64.b64encode(emu.frame_bytes(job, i)).decode()})
        else:
            items.append({"url": emu.frame_url(job, i)})
    req.json_response(200, {"created": int(time.time()), "data": items})
