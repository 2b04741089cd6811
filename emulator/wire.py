"""What goes over the wire: a request as the emulator received it (Req, with helpers to
answer it), its record in the request log (Recorded), a generation job (Job) and a hold
(Hold)."""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from emulator.faults import ENDED_STATES, Fault

if TYPE_CHECKING:
    from emulator.server import Emulator


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

    def __init__(
        self, emu: Emulator, handler: BaseHTTPRequestHandler, provider: str, path: str, module: ModuleType | None = None
    ) -> None:
        self.emu, self.h, self.provider, self.path = emu, handler, provider, path
        self.module = module  # the provider's module in emulator/providers (its error bodies)
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
                self.files[str(name)] = {
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "size": len(payload),
                    "data": payload,
                }
                self.parts.append((str(name), self.files[str(name)]))
            else:
                self.form[str(name)] = payload.decode("utf-8", "replace")

    def record(self) -> Recorded:
        headers = dict(self.headers)
        if "authorization" in headers:
            headers["authorization"] = headers["authorization"].split(" ", 1)[0] + " <redacted>"
        if "x-goog-api-key" in headers:  # Gemini's key header
            headers["x-goog-api-key"] = "<redacted>"

        def meta(part: dict[str, Any]) -> dict[str, Any]:  # the bytes as their hash (a chain's tests compare it)
            return {
                **{k: v for k, v in part.items() if k != "data"},
                "sha256": hashlib.sha256(part["data"]).hexdigest(),
            }

        files = {k: meta(v) for k, v in self.files.items()}
        return Recorded(
            self.provider,
            self.method,
            self.path,
            self.query,
            headers,
            self.json,
            dict(self.form),
            files,
            self.content_type,
            [(k, meta(v)) for k, v in self.parts],
            body_size=len(self.body),
        )

    # -- auth --------------------------------------------------------------------------------
    def key(self, scheme: str = "Bearer") -> str | None:
        value = self.headers.get("authorization", "")
        prefix = f"{scheme} "
        if not value.startswith(prefix) or not value[len(prefix) :].strip():
            return None
        key = value[len(prefix) :].strip()
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
