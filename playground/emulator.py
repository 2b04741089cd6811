"""A loopback server speaking every provider's wire protocol, for tests, benchmarks and
offline demos. A real HTTP server on 127.0.0.1 (stdlib ThreadingHTTPServer in a thread).

    with Emulator(latency_s=0.2) as emu:
        os.environ.update(emu.env())          # base URLs + fake keys for every provider
        emu.set_fault("byteplus", "rate_limit", count=2, retry_after=1)
        ...
        emu.requests_for("byteplus")[-1].json # exactly what the adapter sent

Routes (prefix -> base URL env var): /byteplus/api/v3 ARK_BASE_URL, /evolink/v1
EVOLINK_BASE_URL, /wavespeed/api/v3 WAVESPEED_BASE_URL, /atlascloud/api/v1
ATLASCLOUD_BASE_URL, /openai/v1 OPENAI_BASE_URL, /stability/v2beta STABILITY_BASE_URL, /fal
FAL_QUEUE_URL; frames are served from /files/WxH/VARIANT.png|jpeg (real images drawn with
Pillow, cached).

Validation is stricter than the real services on purpose: a field a protocol does not
document is refused with the provider's 400 body, so contract tests catch adapters that
send undocumented fields. Keys starting with "invalid" are rejected (401).

Faults, by `set_fault(provider | None, fault, count=None, on="create", **params)`, by an
`X-Emulator-Fault: NAME` request header, or by `[fault:NAME]` in the prompt:
    auth (401), forbidden (403), invalid (the provider's 400/422), redirect (307 to /moved/...),
    rate_limit (429; params retry_after=seconds or None for no
    header), server (500), reset (connection reset), malformed (truncated JSON), content
    (prompt refused, 400), quota (402/403 as the provider does), slow (params latency=S),
    body_error (HTTP 200 with {"code", "message", "data": null}, the WaveSpeed envelope; params
    code=500, message=...);
    job faults, decided at create: job_failed, stuck (never finishes; sync providers hang),
    fewer (params n=frames to return), refused (one frame refused for content), lost_frame
    (frame `index`, default 1, is generated and billed but its URL answers 404), stream_error
    (BytePlus stream: a top-level {"error": ...} event instead of frame `after`, default 1),
    job_ended (the job ends in another terminal state, param state=cancelled|timeout|deleted:
    WaveSpeed/AtlasCloud report it as such, EvoLink as failed). job_failed on a BytePlus stream
    takes hold=True: the connection then stays open after the failed frame.

Answer shapes, by `emu.shapes = {...}` (several documented shapes of one answer):
    bare_prediction       WaveSpeed/AtlasCloud answers without the {"code","message","data"} envelope
    created_at            BytePlus says `created_at` (the SDK's name) instead of `created`
    sse_event_lines       BytePlus stream events also carry an `event: TYPE` line
    sse_type_in_event_only  the type only in the `event:` line, not in the JSON
    completed_then_hold   after `completed` no `data: [DONE]`, and the connection stays open
    evolink_immediate     EvoLink answers the POST at once with {"created", "data": [{"url"}...]}
                          (the seed guide's sample), per-item {"error"} for a refused frame
    evolink_immediate_b64 the same with {"b64_json"} items
    (OpenAI's and fal's shapes are listed in emulator_images.py: OPENAI_SHAPES, FAL_SHAPES)
Holds, by `hold(provider, after=0)`: the create requests of a provider beyond the first `after`
wait at the emulator (after auth and the fault check) until `Hold.release()` or the server
stops; `Hold.arrived` is set when the first one waits. Tests use it to act while a request is
known to be in flight, instead of hoping a latency is long enough.

`on` picks the request the fault hits: "create", "poll" (status GETs), "result" (fal's
result GET), "upload" (WaveSpeed's upload POST), "storage" (the PUT of the bytes to the
upload URL; set it with provider "storage") or "any". `count` = how many requests it hits
(None: all).

Request fields: `null` counts as absent (the BytePlus SDK sends every parameter, null when
unset). A field the protocol does not know is recorded in `Recorded.unknown_fields`; with
`strict_fields` (the default, and the tests') it is refused with the provider's 400, so
contract tests catch adapters that send undocumented fields; with `strict_fields = False`
it is accepted, as the real services are assumed to do [guess].

WaveSpeed uploads: POST /media/uploads (JSON ticket) answers a PUT URL on this server's
/storage/ path (another host in reality) and the download URL; the PUT must carry only the
headers the ticket gave (an Authorization header is refused, as a presigned storage URL
does). `wavespeed_upload_path` switches to the older documented multipart paths.
WaveSpeed/AtlasCloud `enable_sync_mode` answers when the job is done, or after
`sync_wait_s` with status "processing" and "Sync mode timed out" (the SDK's words);
`enable_base64_output` answers outputs as naked base64 [doc wavespeed.ai/docs/base64-output].

    python -m playground.emulator [--port N] [--latency S] [--image-size 2048x2048] [--format png]
"""

from __future__ import annotations

import argparse
import colorsys
import email.parser
import email.policy
import io
import json
import re
import socket
import struct
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image, ImageDraw

PREFIXES = {
    "byteplus": ("ARK_BASE_URL", "/byteplus/api/v3", "ARK_API_KEY"),
    "evolink": ("EVOLINK_BASE_URL", "/evolink/v1", "EVOLINK_API_KEY"),
    "wavespeed": ("WAVESPEED_BASE_URL", "/wavespeed/api/v3", "WAVESPEED_API_KEY"),
    "atlascloud": ("ATLASCLOUD_BASE_URL", "/atlascloud/api/v1", "ATLASCLOUD_API_KEY"),
    "openai": ("OPENAI_BASE_URL", "/openai/v1", "OPENAI_API_KEY"),
    "stability": ("STABILITY_BASE_URL", "/stability/v2beta", "STABILITY_API_KEY"),
    "fal": ("FAL_QUEUE_URL", "/fal", "FAL_KEY"),
}
JOB_FAULTS = frozenset({"job_failed", "stuck", "fewer", "refused", "lost_frame", "stream_error", "job_ended"})
ENDED_STATES = frozenset({"cancelled", "timeout", "deleted"})  # job_ended: terminal states besides failed
# Documented answer shapes the emulator can switch to (Emulator.shapes), so contract tests run
# over each over real HTTP: see the module docstring.
SHAPES = frozenset({"bare_prediction", "created_at", "sse_event_lines", "sse_type_in_event_only",
                    "completed_then_hold", "evolink_immediate", "evolink_immediate_b64"})
_PROMPT_FAULT = re.compile(r"\[fault:([a-z_]+)\]")


@lru_cache(maxsize=96)
def render_image(width: int, height: int, fmt: str, variant: int) -> bytes:
    """A cheap real image: flat colour, a rectangle, a circle; `variant` changes colours/placement.
    Variants 64 and up add photo-like grain, so files weigh what real 2K frames weigh (benchmarks)."""
    hue = (variant * 0.137) % 1.0
    bg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.45, 0.9))
    fg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.8, 0.6))
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    u = min(width, height)
    x = int(width * (0.15 + 0.1 * (variant % 5)))
    draw.rectangle((x, height // 2, x + u // 4, height // 2 + u // 3), fill=fg)
    draw.ellipse((width // 2, u // 10, width // 2 + u // 4, u // 10 + u // 4), fill=(250, 250, 250))
    if variant >= 64:
        image = Image.blend(image, Image.effect_noise((width, height), 60).convert("RGB"), 0.3)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=85)
    elif fmt == "webp":  # OpenAI's output_format webp
        image.save(buffer, format="WEBP", quality=80)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class _Server(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 drops (resets) connections when 20+ runs start at once.
    request_queue_size = 256


@dataclass
class Fault:
    name: str
    provider: str | None = None
    count: int | None = None
    on: str = "create"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hold:
    """Create requests of `provider` beyond the first `after` wait until released (Emulator.hold)."""

    provider: str
    after: int = 0
    seen: int = 0  # create requests of the provider that reached the hold
    arrived: threading.Event = field(default_factory=threading.Event)  # set when one waits
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()


@dataclass
class Recorded:
    """One request as the emulator saw it (the auth header's value is reduced to its scheme)."""

    provider: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    content_type: str = ""
    # every file part in order, (field name, metadata): `files` keeps only the last part of a
    # repeated name such as OpenAI's `image[]`
    parts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)  # body fields the protocol does not know
    body_size: int = 0


@dataclass
class Job:
    id: str
    provider: str
    model: str
    frames: int  # frames it will return (before faults)
    size: tuple[int, int]
    created: float
    latency: float
    fault: Fault | None = None
    cancelled: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.monotonic() - self.created

    def phase(self) -> str:
        """queued -> processing -> done | failed | stuck | cancelled | timeout | deleted."""
        if self.cancelled:
            return "cancelled"
        fault = self.fault.name if self.fault else ""
        if fault == "stuck":
            return "queued" if self.elapsed() < self.latency * 0.3 else "processing"
        if self.elapsed() < self.latency * 0.3:
            return "queued"
        if self.elapsed() < self.latency:
            return "processing"
        if fault == "job_ended":
            state = str(self.fault.params.get("state", "cancelled"))  # type: ignore[union-attr]
            return state if state in ENDED_STATES else "cancelled"
        return "failed" if fault == "job_failed" else "done"

    def returned(self) -> int:
        """How many frames come back (fewer/refused faults)."""
        if self.fault and self.fault.name == "fewer":
            return max(0, min(self.frames, int(self.fault.params.get("n", max(1, self.frames - 1)))))
        return self.frames

    def refused_index(self) -> int | None:
        if self.fault and self.fault.name == "refused":
            return min(1, self.returned() - 1)
        return None


class Req:
    """One incoming request, parsed, with helpers to answer it."""

    def __init__(self, emu: Emulator, handler: BaseHTTPRequestHandler, provider: str, path: str) -> None:
        self.emu, self.h, self.provider, self.path = emu, handler, provider, path
        parts = urlsplit(handler.path)
        self.query = parse_qs(parts.query)
        self.method = handler.command
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(self.headers.get("content-length", "0") or 0)
        self.body = handler.rfile.read(length) if length else b""
        self.content_type = self.headers.get("content-type", "")
        self.json: Any = None
        self.json_error = False
        self.form: dict[str, str] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.parts: list[tuple[str, dict[str, Any]]] = []  # all file parts, repeated names kept
        if self.body and self.content_type.startswith("application/json"):
            try:
                self.json = json.loads(self.body)
            except ValueError:
                self.json_error = True
        elif self.body and self.content_type.startswith("multipart/form-data"):
            self._parse_multipart()
        self.answered = False
        self.reply_headers: dict[str, str] = {}  # sent with every answer (BytePlus echoes X-Client-Request-Id)
        self.recorded: Recorded | None = None  # this request's entry in the log, once logged

    def _parse_multipart(self) -> None:
        raw = f"Content-Type: {self.content_type}\r\n\r\n".encode() + self.body
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            filename = part.get_param("filename", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if filename is not None:
                self.files[str(name)] = {"filename": filename, "content_type": part.get_content_type(),
                                         "size": len(payload), "data": payload}
                self.parts.append((str(name), self.files[str(name)]))
            else:
                self.form[str(name)] = payload.decode("utf-8", "replace")

    def record(self) -> Recorded:
        headers = dict(self.headers)
        if "authorization" in headers:
            headers["authorization"] = headers["authorization"].split(" ", 1)[0] + " <redacted>"
        def meta(part: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in part.items() if k != "data"}

        files = {k: meta(v) for k, v in self.files.items()}
        return Recorded(self.provider, self.method, self.path, self.query, headers, self.json,
                        dict(self.form), files, self.content_type, [(k, meta(v)) for k, v in self.parts],
                        body_size=len(self.body))

    # -- auth --------------------------------------------------------------------------------
    def key(self, scheme: str = "Bearer") -> str | None:
        value = self.headers.get("authorization", "")
        prefix = f"{scheme} "
        if not value.startswith(prefix) or not value[len(prefix):].strip():
            return None
        key = value[len(prefix):].strip()
        return None if key.startswith("invalid") else key

    # -- answers -----------------------------------------------------------------------------
    def send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.answered = True
        h = self.h
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in {**self.reply_headers, **(headers or {})}.items():
            h.send_header(k, v)
        h.end_headers()
        if self.method != "HEAD":
            h.wfile.write(body)

    def json_response(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(obj).encode(), "application/json", headers)

    def malformed(self) -> None:
        body = b'{"id": "x", "data": [{"url": "http://127.0.0.1/tr'
        self.send(200, body, "application/json")

    def reset(self) -> None:
        """Close the connection with RST and no answer."""
        self.answered = True
        self.h.close_connection = True
        try:
            self.h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.h.connection.close()
        except OSError:
            pass

    def start_sse(self, headers: dict[str, str] | None = None) -> None:
        self.answered = True
        h = self.h
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.send_header("Connection", "close")
        for k, v in {**self.reply_headers, **(headers or {})}.items():
            h.send_header(k, v)
        h.end_headers()

    def sse(self, data: str, event: str | None = None) -> None:
        chunk = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        self.h.wfile.write(chunk.encode())
        self.h.wfile.flush()

    def fault(self, on: str) -> Fault | None:
        return self.emu.take_fault(self, on)


class Emulator:
    def __init__(self, latency_s: float = 0.0, image_size: tuple[int, int] | str | None = None,
                 image_format: str = "png", host: str = "127.0.0.1", port: int = 0, stuck_s: float = 30.0,
                 file_delay_s: float = 0.0, textured: bool = False) -> None:
        self.latency_s = latency_s
        self.file_delay_s = file_delay_s  # benchmark option: a CDN's time to first byte per frame download
        self.textured = textured  # benchmark option: grainy frames, sized like real ones
        if isinstance(image_size, str):
            w, _, h = image_size.lower().partition("x")
            image_size = (int(w), int(h))
        self.image_size = image_size
        self.image_format = image_format
        self.host, self.port = host, port
        self.stuck_s = stuck_s
        self.requests: list[Recorded] = []
        self.poll_counts: Counter[str] = Counter()
        self.cancelled: list[str] = []
        self.jobs: dict[str, Job] = {}
        self.uploads: dict[str, tuple[str, bytes]] = {}  # id -> (content type, bytes)
        self.upload_tickets: dict[str, dict[str, Any]] = {}  # id -> the ticket's content type and size
        # WaveSpeed's upload path: "/media/uploads" (JSON ticket, then PUT; SDK >= 1.0.11), or one of
        # the older documented ones, "/media/upload/binary" (multipart -> data.download_url, SDK
        # <= 1.0.10) and "/upload" (-> data.url); the others answer 404
        self.wavespeed_upload_path = "/media/uploads"
        self.shapes: set[str] = set()  # answer shapes from SHAPES
        self.strict_fields = True  # refuse fields a protocol does not know (see the module docstring)
        self.sync_wait_s = 30.0  # WaveSpeed/AtlasCloud enable_sync_mode: the longest a POST waits
        self.faults: list[Fault] = []
        self.holds: list[Hold] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Emulator:
        from playground import emulator_routes

        emu = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()  # headers and body go out in separate writes: no Nagle delay
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _dispatch(self) -> None:
                if emu.file_delay_s and self.path.startswith("/files/"):
                    emu.wait(emu.file_delay_s)
                emulator_routes.dispatch(emu, self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

        self._stop.clear()
        self._server = _Server((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="playground-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.release_holds()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def base_urls(self) -> dict[str, str]:
        return {env: f"{self.url}{prefix}" for env, prefix, _ in PREFIXES.values()}

    def env(self, key_prefix: str = "emu") -> dict[str, str]:
        """Base URLs and a fake key for every provider."""
        keys = {key_env: f"{key_prefix}-{name}-key-0123456789" for name, (_, _, key_env) in PREFIXES.items()}
        return {**self.base_urls(), **keys}

    # -- state for tests -----------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.poll_counts.clear()
            self.cancelled.clear()
            self.jobs.clear()
            self.uploads.clear()
            self.upload_tickets.clear()
            self.faults.clear()
        self.release_holds()

    def set_fault(self, provider: str | None, fault: str, count: int | None = None, on: str = "create",
                  **params: Any) -> Fault:
        item = Fault(fault, provider, count, on, params)
        with self._lock:
            self.faults.append(item)
        return item

    def hold(self, provider: str, after: int = 0) -> Hold:
        """Hold the create requests of `provider` beyond the first `after` (see the module docstring)."""
        item = Hold(provider, after)
        with self._lock:
            self.holds.append(item)
        return item

    def release_holds(self) -> None:
        with self._lock:
            holds, self.holds = self.holds, []
        for item in holds:
            item.release()

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_for(self, provider: str, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.provider == provider and (method is None or r.method == method)]

    def polls(self, provider: str) -> int:
        with self._lock:
            return sum(n for job_id, n in self.poll_counts.items()
                       if job_id in self.jobs and self.jobs[job_id].provider == provider)

    # -- used by the routes --------------------------------------------------------------------
    def take_fault(self, req: Req, on: str) -> Fault | None:
        header = req.headers.get("x-emulator-fault")
        if header:
            name, _, arg = header.partition(":")
            params = {"retry_after": float(arg)} if name == "rate_limit" and arg else {}
            return Fault(name.strip(), req.provider, 1, on, params)
        with self._lock:
            for item in self.faults:
                if item.provider not in (None, req.provider) or item.on not in (on, "any"):
                    continue
                if item.count is not None:
                    if item.count <= 0:
                        continue
                    item.count -= 1
                return item
        if on == "create":
            prompt = ""
            if isinstance(req.json, dict):
                prompt = str(req.json.get("prompt", ""))
            prompt = prompt or req.form.get("prompt", "")
            match = _PROMPT_FAULT.search(prompt)
            if match:
                return Fault(match.group(1), req.provider, 1, on, {})
        return None

    def held(self, req: Req) -> bool:
        """Wait while a hold covers this create request; True when the server stopped meanwhile."""
        with self._lock:
            hold = next((h for h in self.holds if h.provider == req.provider and not h.released.is_set()), None)
            if hold is None:
                return False
            hold.seen += 1
            if hold.seen <= hold.after:
                return False
        hold.arrived.set()
        hold.released.wait()
        return self._stop.is_set()

    def new_job(self, provider: str, model: str, frames: int, size: tuple[int, int],
                fault: Fault | None, **extra: Any) -> Job:
        latency = self.latency_s
        if fault and fault.name == "slow":
            latency = float(fault.params.get("latency", max(1.0, latency * 5)))
        job_fault = fault if fault and fault.name in JOB_FAULTS else None
        job = Job(f"{provider[:3]}-{uuid.uuid4().hex[:16]}", provider, model, frames, self.frame_size(size),
                  time.monotonic(), latency, job_fault, extra=extra)
        with self._lock:
            self.jobs[job.id] = job
        return job

    def job(self, job_id: str, count_poll: bool = True) -> Job | None:
        with self._lock:
            job = self.jobs.get(job_id)
            if job is not None and count_poll:
                self.poll_counts[job_id] += 1
            return job

    def frame_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return self.image_size or size

    def frame_variant(self, job: Job, index: int) -> int:
        n = int(job.id[-6:], 16) + index
        return 64 + n % 8 if self.textured else n % 64  # 8 grainy variants: each is slow to draw

    def frame_url(self, job: Job, index: int) -> str:
        if job.fault and job.fault.name == "lost_frame" and index == int(job.fault.params.get("index", 1)):
            return f"{self.url}/files/expired/{job.id}-{index}.{self.image_format}"  # generated, billed, 404
        w, h = job.size
        return f"{self.url}/files/{w}x{h}/{self.frame_variant(job, index)}.{self.image_format}"

    def frame_bytes(self, job: Job, index: int, fmt: str | None = None) -> bytes:
        """The frame's bytes, in `fmt` when the request chose a format (OpenAI output_format)."""
        w, h = job.size
        return render_image(w, h, fmt or self.image_format, self.frame_variant(job, index))

    def wait(self, seconds: float) -> bool:
        """Sleep, waking early when the server stops; True when it stopped."""
        return self._stop.wait(max(0.0, seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground.emulator",
                                     description="Loopback server speaking every provider's protocol")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = a free port")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds each generation takes")
    parser.add_argument("--image-size", default=None, help="force every frame to WxH, e.g. 2048x2048")
    parser.add_argument("--format", default="png", choices=("png", "jpeg"))
    parser.add_argument("--file-delay", type=float, default=0.0, help="seconds before each frame download starts (a CDN)")
    parser.add_argument("--textured", action="store_true", help="grainy frames, sized like real ones (benchmarks)")
    args = parser.parse_args(argv)
    emu = Emulator(latency_s=args.latency, image_size=args.image_size, image_format=args.format,
                   host=args.host, port=args.port, file_delay_s=args.file_delay, textured=args.textured).start()
    print(f"# provider emulator on {emu.url} (Ctrl-C to stop). Use it with:")
    for name, value in emu.env().items():
        print(f"export {name}={value}")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
