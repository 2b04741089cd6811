"""What the web app serves and how much it accepts from a visitor.

Served files: only frames, previews and exports, i.e. DATA_DIR/runs/ (each run's frames,
previews and exports/) and DATA_DIR/exports/ (Analysis tables). The run log and its side
files (runs.csv, runs.csv.idx, reservations.json, ratings.csv, ...) sit in DATA_DIR itself,
outside both, and are blocked by name as well: they hold server paths, request ids and
every visitor's prompts, which the History tab shows only in part.

Sizes: an uploaded file may have MAX_UPLOAD_BYTES (Gradio's `max_file_size`, checked as it
streams, HTTP 413), an upload request MAX_UPLOAD_REQUEST_BYTES in all (several files), and
any other request body MAX_BODY_BYTES (a prompt is at most a few KB; the largest bodies are a
History table sent back by a click). `BodyLimit` refuses a larger body with HTTP 413 before
the app reads it whole.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from playground.core.references import MAX_REFERENCE_FILE_BYTES
from playground.experiments.importer import MAX_IMPORT_BYTES

MAX_UPLOAD_BYTES = max(MAX_IMPORT_BYTES, MAX_REFERENCE_FILE_BYTES)  # one file: the largest the app takes
MAX_UPLOAD_REQUEST_BYTES = 256 * 1024 * 1024  # one upload request (the files of one widget)
MAX_BODY_BYTES = 4 * 1024 * 1024  # any other request
UPLOAD_PATH = "/gradio_api/upload"
# Files of DATA_DIR that are never served (a second guard: they are outside the served folders).
DATA_FILES = tuple(
    f"{name}{side}"
    for name in ("runs.csv", "ratings.csv", "reservations.json", "annotations.csv")
    for side in ("", ".idx", ".lock", ".torn", ".damaged", ".migrating")
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def served_paths(data_dir: Path) -> list[str]:
    """The folders Gradio may serve files from (launch's allowed_paths)."""
    root = Path(data_dir).resolve()
    return [str(root / "runs"), str(root / "exports")]


def blocked_paths(data_dir: Path) -> list[str]:
    """The data files Gradio must never serve (launch's blocked_paths)."""
    root = Path(data_dir).resolve()
    return [str(root / name) for name in DATA_FILES]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over its limit gets HTTP 413 with a one-line reason. A
    declared Content-Length is checked before anything is read; a streamed body is counted as
    it arrives and cut off at the limit."""

    def __init__(
        self,
        app: Callable[[Scope, Receive, Send], Awaitable[None]],
        body_bytes: int = MAX_BODY_BYTES,
        upload_bytes: int = MAX_UPLOAD_REQUEST_BYTES,
    ) -> None:
        self.app, self.body_bytes, self.upload_bytes = app, body_bytes, upload_bytes

    def limit(self, path: str) -> int:
        return self.upload_bytes if path.rstrip("/").endswith(UPLOAD_PATH) else self.body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(str(scope.get("path", "")))
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if over:  # the app's answer to a body cut off (FastAPI makes it a 400): ours instead
                if not started and message["type"] == "http.response.start":
                    started = True
                    await _refuse(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await _refuse(send, limit)


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"error": f"request too large: the limit is {limit // (1024 * 1024)} MB"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
