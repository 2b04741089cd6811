"""Helpers shared by the reliability tests (no tests here): a Playground pointed at the
emulator, the CLI as a subprocess, a tiny loopback file server for hostile downloads,
and a scanner that looks for secrets in files and text."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playground.base.config import Settings
from playground.base.types import GenerationRequest
from playground.core import Playground, RunResult, Session
from support.paths import REPO


def make_playground(env: Mapping[str, str], data_dir: Path, **extra_env: str) -> Playground:
    return Playground(Settings.from_env(env={**env, **extra_env}, data_dir=data_dir))


def run(pg: Playground, session: Session | None = None, **fields: Any) -> RunResult:
    fields.setdefault("prompt", "a red fox in a blue scarf")
    return asyncio.run(pg.run(GenerationRequest(**fields), session))


def rows(pg: Playground) -> list[dict[str, Any]]:
    return pg.log.read().to_dict("records")


def frame_files(run_dir: Path) -> list[str]:
    """Every file a run left in its directory, by name."""
    return sorted(p.name for p in run_dir.iterdir()) if run_dir.exists() else []


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


def cli(args: list[str], env: Mapping[str, str], data_dir: Path, timeout: float = 60.0) -> CliResult:
    """`python -m playground ARGS --data-dir DATA_DIR` with exactly `env` (plus PATH etc.)."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    proc = subprocess.run(
        [sys.executable, "-m", "playground", *args, "--data-dir", str(data_dir)],
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The most (start, end) spans open at one moment: e.g. generations the emulator ran at once."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, step in events:
        current += step
        peak = max(peak, current)
    return peak


# -- hostile images -------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header_only(width: int, height: int) -> bytes:
    """A small PNG file whose header claims width x height (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def tiny_png(side: int = 64, colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class _Server(ThreadingHTTPServer):
    request_queue_size = 64


class FileServer:
    """A loopback server with hostile routes for download tests (and, by POST, streams that
    break off: see `cut_stream`):
    /ok.png, /garbage, /declared-big (Content-Length over any cap), /chunked-big (no length,
    endless), /bomb.png (header claims 100000x100000), /mild-bomb.png (9000x8000: Pillow only
    warns), /stall (headers, then silence), /drip (a byte every 0.05 s, forever), /redirect,
    /missing (404), /text (an HTML page)."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.append(self.path)
                try:
                    server.answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:
                server.hits.append(self.path)
                self.rfile.read(int(self.headers.get("content-length", "0") or 0))
                try:
                    server.cut_stream(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        fixed = {
            "/ok.png": (tiny_png(), "image/png"),
            "/garbage": (os.urandom(5000), "image/png"),
            "/bomb.png": (png_header_only(100_000, 100_000), "image/png"),
            "/mild-bomb.png": (png_header_only(9000, 8000), "image/png"),
            "/text": (b"<html>not an image</html>", "text/html"),
        }
        if path in fixed:
            body, ctype = fixed[path]
            self._send(h, 200, body, ctype)
        elif path == "/declared-big":
            self._begin(h, "Content-Length", str(500 * 1024 * 1024))
            self._endless(h, chunked=False)
        elif path == "/chunked-big":
            self._begin(h, "Transfer-Encoding", "chunked")
            self._endless(h, chunked=True)
        elif path == "/stall":
            self._begin(h, "Content-Length", "100000")
            self._stop.wait(30)
        elif path == "/drip":
            self._begin(h, "Transfer-Encoding", "chunked")
            while not self._stop.wait(0.05):
                h.wfile.write(b"1\r\nx\r\n")
                h.wfile.flush()
        elif path == "/redirect":
            h.send_response(302)
            h.send_header("Location", f"{self.url}/ok.png")
            h.send_header("Content-Length", "0")
            h.end_headers()
        else:
            self._send(h, 404, b"not found", "text/plain")

    def cut_stream(self, h: BaseHTTPRequestHandler) -> None:
        """A Seedream-style event stream that breaks off after one frame: POST /cut/... ends
        cleanly without the completed event, POST /garbled/... ends inside an event's JSON."""
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        frame = {"type": "image_generation.partial_succeeded", "image_index": 0, "url": f"{self.url}/ok.png"}
        h.wfile.write(f"data: {json.dumps(frame)}\n\n".encode())
        if h.path.startswith("/garbled/"):
            h.wfile.write(b'data: {"type": "image_generation.partial_succ\n\n')
        h.wfile.flush()

    @staticmethod
    def _begin(h: BaseHTTPRequestHandler, header: str, value: str) -> None:
        """A 200 image response whose body the caller writes (or withholds)."""
        h.send_response(200)
        h.send_header("Content-Type", "image/png")
        h.send_header(header, value)
        h.end_headers()
        h.wfile.flush()

    def _endless(self, h: BaseHTTPRequestHandler, chunked: bool) -> None:
        block = os.urandom(64 * 1024)
        deadline = time.monotonic() + 20
        while not self._stop.is_set() and time.monotonic() < deadline:
            h.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


# -- secrets ------------------------------------------------------------------------------------------


def files_under(root: Path) -> Iterator[Path]:
    yield from (p for p in root.rglob("*") if p.is_file())


def find_secrets(secrets: list[str], texts: Mapping[str, str | bytes]) -> list[str]:
    """'where: secret' for every secret found in any text (bytes are searched as bytes too)."""
    found = []
    for where, text in texts.items():
        for secret in secrets:
            needle: Any = secret.encode() if isinstance(text, bytes) else secret
            if needle in text:
                found.append(f"{where}: {secret}")
    return found


# -- run-log rows that are hard to write -----------------------------------------------------------------

DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r", "'", "")


def tricky_text(writer: str, index: int, pad: int = 0) -> str:
    """Text with every CSV hazard: a formula-like start, newlines, quotes, commas, non-ASCII."""
    start = DANGEROUS_STARTS[index % len(DANGEROUS_STARTS)]
    return f'{start}SUM(A1:A9), "quoted", line one\nline two\r\nthree — {writer}/{index} ünïcødé 狐狸 🦊{"x" * pad}'


def tricky_record(writer: str, index: int, pad: int = 0) -> Any:
    from playground.base.types import RunRecord

    return RunRecord(
        run_id=f"{writer}-{index:05d}",
        provider="local",
        model="=cmd|' /C calc'!A0",
        prompt=tricky_text(writer, index, pad),
        beats=[f"+beat {index}", "@x"],
        error=f"-{index}",
        seed=-index,
        frames_requested=index % 15 + 1,
        cost_usd=0.001 * index,
        status="ok",
        created_at="2026-01-01T00:00:00Z",
    )


def check_tricky_rows(frame: Any) -> dict[str, int]:
    """Every row read back equals the record it was written from; count rows per writer."""
    from playground.store.codec import record_from_row

    per_writer: dict[str, int] = {}
    for row in frame.to_dict("records"):
        writer, _, index = str(row["run_id"]).rpartition("-")
        pad = len(row["prompt"]) - len(tricky_text(writer, int(index)))
        expected, read = tricky_record(writer, int(index), pad), record_from_row(row)
        for name in ("prompt", "model", "beats", "error", "status", "provider"):
            assert getattr(read, name) == getattr(expected, name), (row["run_id"], name)
        assert read.seed == expected.seed and read.frames_requested == expected.frames_requested
        per_writer[writer] = per_writer.get(writer, 0) + 1
    return per_writer
