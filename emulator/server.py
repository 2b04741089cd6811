"""A loopback server speaking every provider's wire protocol, for tests, benchmarks and
offline demos. A real HTTP server on 127.0.0.1 (stdlib ThreadingHTTPServer in a thread).

    with Emulator(latency_s=0.2) as emu:
        os.environ.update(emu.env())          # base URLs + fake keys for every provider
        emu.set_fault("byteplus", "rate_limit", count=2, retry_after=1)
        ...
        emu.requests_for("byteplus")[-1].json # exactly what the adapter sent

Routes: one module per provider in emulator/providers, served under its PREFIX (e.g.
/byteplus/api/v3; `env()` names each base URL by the adapter's variable, ARK_BASE_URL); frames
are served from /files/WxH/VARIANT.png|jpeg (real images drawn with Pillow, cached).

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
    job_ended (the job ends in another terminal state, param state=cancelled|timeout|deleted|aborted:
    WaveSpeed/AtlasCloud report it as such, EvoLink as failed, Replicate as canceled or aborted).
    Gemini answers a `content` fault as a blocked prompt (HTTP 200) and Replicate as a failed
    prediction (E005), as those services do. job_failed on a BytePlus stream
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
    (OpenAI's, fal's, Gemini's and Replicate's shapes are listed in their modules: providers/openai.py,
    providers/fal.py, providers/gemini.py, providers/replicate.py)

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

Rate limits, by `Emulator(limits="byteplus=60/min:5,*=:2")` or `set_limits(...)`: requests per
period and generations in progress per key, refused with each provider's 429, Retry-After and
(OpenAI) x-ratelimit-* headers; fal queues instead (emulator/limits.py).

    python -m playground emulator [--port N] [--latency S] [--image-size 2048x2048] [--format png]
                                  [--limits "*=60/min:5"] [--rpm N] [--concurrent N]
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import emulator.providers
from emulator.faults import JOB_FAULTS, PROMPT_FAULT, Fault
from emulator.images import render_image
from emulator.limits import Limits, Slot, parse_limits
from emulator.routes import Invalid, error
from emulator.wire import Hold, Job, Recorded, Req
from playground.providers import provider_class, provider_names


@functools.cache
def provider_modules() -> dict[str, ModuleType]:
    """Every module of emulator/providers by provider name, in the product's listing order (a
    module the product has no adapter for comes last)."""
    found = {
        info.name: importlib.import_module(f"emulator.providers.{info.name}")
        for info in pkgutil.iter_modules(emulator.providers.__path__)
    }
    order = provider_names()
    return dict(sorted(found.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))


def places() -> list[tuple[str, str, Callable[[Req], None], ModuleType]]:
    """(name, path prefix, route, module) of everything served besides /files/."""
    out = []
    for name, module in provider_modules().items():
        out.append((name, module.PREFIX, module.route, module))
        for extra, (prefix, route) in getattr(module, "EXTRA_PLACES", {}).items():
            out.append((extra, prefix, route, module))
    return out


class _Server(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 drops (resets) connections when 20+ runs start at once;
    # 1,000 runs in flight (the bench) open 1,000 connections at once.
    request_queue_size = 2048


class Emulator:
    def __init__(
        self,
        latency_s: float = 0.0,
        image_size: tuple[int, int] | str | None = None,
        image_format: str = "png",
        host: str = "127.0.0.1",
        port: int = 0,
        stuck_s: float = 30.0,
        file_delay_s: float = 0.0,
        textured: bool = False,
        limits: str | Mapping[str, str] | None = None,
    ) -> None:
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
        self._local = threading.local()  # the handler thread's request: its place among the key's generations
        self.limits = Limits({}, stuck_s)
        self.set_limits(limits)
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Emulator:
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
                dispatch(emu, self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

        self._stop.clear()
        self._server = _Server((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="playground-emulator", daemon=True
        )
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
        """Each provider's base URL variable (the adapter's) -> where the emulator serves it."""
        return {
            provider_class(name).base_url_env: f"{self.url}{module.PREFIX}"  # type: ignore[misc]
            for name, module in provider_modules().items()
        }

    def env(self, key_prefix: str = "emu") -> dict[str, str]:
        """Base URLs and a fake key for every provider."""
        keys = {
            provider_class(name).key_env: f"{key_prefix}-{name}-key-0123456789"  # type: ignore[misc]
            for name in provider_modules()
        }
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
            self.limits = Limits({}, self.stuck_s)
        self.release_holds()

    def set_fault(
        self, provider: str | None, fault: str, count: int | None = None, on: str = "create", **params: Any
    ) -> Fault:
        item = Fault(fault, provider, count, on, params)
        with self._lock:
            self.faults.append(item)
        return item

    def set_limits(self, limits: str | Mapping[str, str] | None) -> Limits:
        """Enforce rate limits per provider key from now on (emulator/limits.py), e.g.
        "byteplus=60/min:5,*=:2" or {"*": "60/min:5"}; None or "" for none. Forgets every key's state."""
        specs = parse_limits(limits, list(provider_modules()))
        with self._lock:
            self.limits = Limits(specs, self.stuck_s)
            return self.limits

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
            return sum(
                n
                for job_id, n in self.poll_counts.items()
                if job_id in self.jobs and self.jobs[job_id].provider == provider
            )

    # -- used by the routes --------------------------------------------------------------------
    def take_fault(self, req: Req, on: str) -> Fault | None:
        if on == "create":
            refusal = self.admit(req)
            if refusal is not None:
                return refusal
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
            match = PROMPT_FAULT.search(prompt)
            if match:
                return Fault(match.group(1), req.provider, 1, on, {})
        return None

    def admit(self, req: Req) -> Fault | None:
        """The key's rate limits (emulator/limits.py): a 429 fault, or None with the place taken."""
        key = req.headers.get("authorization") or req.headers.get("x-goog-api-key") or (req.query.get("key") or [""])[0]
        with self._lock:
            self.limits.stuck_s = self.stuck_s
            refusal, slot, headers = self.limits.admit(req.provider, key, self.latency_s)
            self._local.slot = slot
        req.reply_headers.update(headers)
        return refusal

    def end_request(self) -> None:
        """A create that made no job (refused, invalid, failed first) frees the place it took."""
        slot: Slot | None = getattr(self._local, "slot", None)
        self._local.slot = None
        if slot is not None and slot.job is None:
            with self._lock:
                for state in self.limits.keys.values():
                    if slot in state.slots:
                        state.slots.remove(slot)

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

    def new_job(
        self, provider: str, model: str, frames: int, size: tuple[int, int], fault: Fault | None, **extra: Any
    ) -> Job:
        latency = self.latency_s
        if fault and fault.name == "slow":
            latency = float(fault.params.get("latency", max(1.0, latency * 5)))
        job_fault = fault if fault and fault.name in JOB_FAULTS else None
        slot: Slot | None = getattr(self._local, "slot", None)
        job = Job(
            f"{provider[:3]}-{uuid.uuid4().hex[:16]}",
            provider,
            model,
            frames,
            self.frame_size(size),
            max(time.monotonic(), slot.start if slot else 0.0),
            latency,
            job_fault,
            extra=extra,
        )
        with self._lock:
            self.jobs[job.id] = job
            if slot is not None:
                slot.job = job  # the place is held until the job ends (or is cancelled)
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
    path = urlsplit(handler.path).path
    try:
        if path.startswith("/files/"):
            serve_file(emu, handler, path)
            return
        for name, prefix, route, module in places():
            if path == prefix or path.startswith(prefix + "/"):
                req = Req(emu, handler, name, path[len(prefix) :], module)
                req.recorded = req.record()
                with emu._lock:
                    emu.requests.append(req.recorded)
                try:
                    route(req)
                except Invalid as exc:
                    if not req.answered:
                        error(req, exc.kind, exc.message, param=exc.param)
                finally:
                    emu.end_request()
                if not req.answered and not emu._stop.is_set():
                    error(req, "not_found", f"no route for {req.method} {path}")
                return
        handler.send_error(404)
    except (BrokenPipeError, ConnectionResetError):
        pass
