"""What every provider route shares: its error answer (the body is the provider module's
error_body), request-level faults, the auth and fault gate of a generation, job lookup, field
checks (unknown fields refused, so contract tests catch drift) and the Seedream size forms.
Shapes follow docs/providers.md."""

from __future__ import annotations

import base64
import re
from typing import Any

from emulator.faults import Fault
from emulator.wire import Job, Req

# The HTTP status of each error kind where a provider's docs give no other (its module's
# error_body may), and the message when the route gives none.
STATUS = {
    "auth": 401,
    "forbidden": 403,
    "rate_limit": 429,
    "server": 500,
    "content": 400,
    "quota": 402,
    "invalid": 400,
    "missing": 400,
    "not_found": 404,
}
_MESSAGES = {
    "auth": "the API key {key} is not valid",
    "forbidden": "access denied for this model",
    "rate_limit": "too many requests, slow down",
    "server": "internal error, try again later",
    "content": "the prompt may contain sensitive content",
    "quota": "account balance is insufficient",
    "invalid": "invalid parameter",
    "missing": "missing parameter",
    "not_found": "not found",
}


def error(req: Req, kind: str, message: str = "", *, param: str = "", headers: dict[str, str] | None = None) -> None:
    """Answer with the provider's documented error body for `kind` (its module's error_body)."""
    message = message or _MESSAGES[kind].format(key=repr(_raw_key(req)))
    status, body, own = req.module.error_body(req, kind, message, param)  # type: ignore[union-attr]
    req.json_response(status, body, {**own, **(headers or {})})


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
        headers = dict(fault.params.get("headers") or {})  # the key's x-ratelimit-* (emulator/limits.py)
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        error(req, "rate_limit", str(fault.params.get("message", "")), headers=headers)
    elif name == "reset":
        req.reset()
    elif name == "malformed":
        req.malformed()
    elif name == "redirect":  # a gateway or a moved base URL: an HTML page pointing elsewhere
        req.send(307, b"<html><body>Moved</body></html>", "text/html", {"Location": f"{req.emu.url}/moved{req.path}"})
    elif name == "body_error":  # WaveSpeed/AtlasCloud: an error in an HTTP 200 envelope
        req.json_response(
            200,
            {
                "code": int(fault.params.get("code", 500)),
                "data": None,
                "message": str(fault.params.get("message", "the prediction has expired")),
            },
        )
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
WSTAR = re.compile(r"^(\d{2,5})\*(\d{2,5})$")
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


# -- BytePlus ModelArk --------------------------------------------------------------------------


# -- EvoLink ------------------------------------------------------------------------------------


# -- WaveSpeed / AtlasCloud ---------------------------------------------------------------------


def answered_job(req: Req, provider: str, model: str, n: int, dims: tuple[int, int], fault: Fault | None) -> Job | None:
    """A synchronous generation after its latency; None when it hangs (stuck) or the server stops."""
    job = req.emu.new_job(provider, model, n, dims, fault)
    if job.fault and job.fault.name == "stuck":
        hang(req)
        return None
    return None if req.emu.wait(job.latency) else job
