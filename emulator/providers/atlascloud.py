"""AtlasCloud (Seedream sequential models, WaveSpeed-like): POST /model/generateImage -> a
prediction polled at /model/prediction/{id}; docs/providers.md."""

from __future__ import annotations

import re

from emulator.predictions import SEEDREAM_MODELS as MODELS
from emulator.predictions import answer_submit, enveloped, error_body, prediction, submit_prediction
from emulator.routes import accept_fields, create_gate, polled_job
from emulator.wire import Req

PREFIX = "/atlascloud/api/v1"
__all__ = ["FIELDS", "MODELS", "PREFIX", "error_body", "route"]
FIELDS = {"model", "prompt", "size", "max_images", "images", "enable_base64_output", "enable_sync_mode", "seed"}


def route(req: Req) -> None:
    base = f"{req.emu.url}{PREFIX}"
    m = re.match(r"^/model/prediction/([\w.-]+)$", req.path)
    if req.method == "GET" and m:
        job = polled_job(req, m.group(1), "prediction")
        if job is None:
            return
        data = prediction(req, job, f"{base}/model/prediction/{job.id}")
        if data["status"] == "created":
            data["status"] = "processing"  # AtlasCloud lists processing|completed|succeeded|failed [doc]
        elif data["status"] == "completed":
            data["status"] = ("completed", "succeeded")[int(job.id[-1], 16) % 2]  # both documented
        req.json_response(200, enveloped(req, data))
        return
    if (req.method, req.path) != ("POST", "/model/generateImage"):
        return
    admitted, fault = create_gate(req)
    if not admitted:
        return
    body = accept_fields(req, req.json, FIELDS, ("model", "prompt"))
    limit = 14 if str(body["model"]).startswith("bytedance/seedream-v4/") else 15
    job = submit_prediction(req, body, str(body["model"]), fault, limit)
    answer_submit(req, body, job, f"{base}/model/prediction/{job.id}", {"status": "processing"})
