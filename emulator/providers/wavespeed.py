"""WaveSpeedAI (Seedream sequential models): POST /{model_id} -> a prediction polled at
/predictions/{id}/result; references uploaded first (a JSON ticket, then a PUT to a storage
URL, which this module also stands in for); docs/providers.md."""

from __future__ import annotations

import re
import uuid
from typing import Any

from emulator.predictions import SEEDREAM_MODELS as MODELS
from emulator.predictions import answer_submit, enveloped, error_body, prediction, submit_prediction
from emulator.routes import Invalid, accept_fields, answer_fault, check_auth, error, int_field, polled_job
from emulator.wire import Req

PREFIX = "/wavespeed/api/v3"
__all__ = ["FIELDS", "MODELS", "PREFIX", "error_body", "route"]
FIELDS = {"prompt", "size", "max_images", "images", "enable_base64_output", "enable_sync_mode", "output_format"}


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
        req.json_response(
            200,
            enveloped(
                req,
                {
                    "upload": {
                        "method": "PUT",
                        "url": f"{req.emu.url}/storage/{upload_id}?X-Signature=emu-{upload_id[:8]}",
                        "headers": {"Content-Type": ctype},
                    },
                    "download_url": f"{req.emu.url}/files/upload/{upload_id}",
                    "filename": ticket["filename"],
                },
            ),
        )
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
    req.json_response(200, enveloped(req, data))


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
        req.send(
            400,
            b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
            "application/xml",
        )
    elif req.content_type != ticket["content_type"]:
        req.send(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
    elif len(req.body) != ticket["size"]:
        req.send(400, b"<Error><Code>IncompleteBody</Code></Error>", "application/xml")
    else:
        req.emu.uploads[req.path.strip("/")] = (ticket["content_type"], req.body)
        req.send(200, b"", "application/xml", {"ETag": f'"{uuid.uuid4().hex}"'})


def route(req: Req) -> None:
    base = f"{req.emu.url}{PREFIX}"
    if (req.method, req.path) == ("POST", req.emu.wavespeed_upload_path):
        _wavespeed_upload(req)
        return
    m = re.match(r"^/predictions/([\w.-]+)(/result)?$", req.path)
    if req.method == "GET" and m:
        job = polled_job(req, m.group(1), "prediction")
        if job is None:
            return
        req.json_response(200, enveloped(req, prediction(req, job, f"{base}/predictions/{job.id}/result")))
        return
    if req.method != "POST":
        return
    if not check_auth(req):
        return
    if not MODELS.match(req.path.lstrip("/")):  # e.g. an upload path this setting does not serve
        error(req, "not_found", f"no model or endpoint at {req.path}")
        return
    fault = req.fault("create")
    if answer_fault(req, fault) or req.emu.held(req):
        return
    body = accept_fields(req, req.json, FIELDS, ("prompt",))
    job = submit_prediction(req, body, req.path.lstrip("/"), fault, 15)
    answer_submit(req, body, job, f"{base}/predictions/{job.id}/result", {"status": "created"})


EXTRA_PLACES = {"storage": ("/storage", storage)}  # the upload URL's host (S3-style storage in reality)
