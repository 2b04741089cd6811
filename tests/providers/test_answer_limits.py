"""A provider's answer is read with a byte bound (issue 13): an endless JSON answer or event
stream is cut off at `answer_limit` (frames x the download cap as base64, plus 1 MB) and the
run ends as its one row saying so; a frame sent inline over PLAYGROUND_MAX_DOWNLOAD_MB is not
saved, as a download over it is not. Through the CLI against a hostile loopback server that
speaks OpenAI's and BytePlus' routes."""

from __future__ import annotations

import base64
import io
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from playground.providers.http import answer_limit
from playground.store.runlog import RunLog
from support.faults import cli

MB = 1024 * 1024
ENDLESS = 200 * MB  # what the server would send if nobody stopped reading


def noise_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


class HostileProvider:
    """POST /<mode>/...: `huge-json` streams an OpenAI answer whose base64 never ends, `big-frame`
    answers one valid PNG of about 1.5 MB inline, `endless-sse` a BytePlus event stream whose one
    line never ends. `sent[mode]` counts the body bytes written before the client hung up."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.frame = noise_png(720, 720)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0") or 0))
                mode = self.path.strip("/").split("/")[0]
                try:
                    server.answer(self, mode)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, h: BaseHTTPRequestHandler, mode: str) -> None:
        if mode == "big-frame":
            body = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(self.frame).decode()}]}).encode()
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
            return
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream" if mode == "endless-sse" else "application/json")
        h.send_header("Connection", "close")
        h.end_headers()
        head = (
            b'data: {"type": "image_generation.partial_succeeded", "b64_json": "'
            if mode == "endless-sse"
            else b'{"created": 1, "data": [{"b64_json": "'
        )
        h.wfile.write(head)
        block, self.sent[mode] = b"A" * 65536, len(head)
        while self.sent[mode] < ENDLESS:
            h.wfile.write(block)
            self.sent[mode] += len(block)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def hostile() -> Iterator[HostileProvider]:
    server = HostileProvider()
    try:
        yield server
    finally:
        server.close()


def only_row(data_dir: Path) -> dict[str, Any]:
    rows = RunLog(data_dir).read().to_dict("records")
    assert len(rows) == 1
    return rows[0]


def test_an_endless_json_answer_is_cut_off_at_the_bound(hostile: HostileProvider, data_dir: Path) -> None:
    env = {
        "OPENAI_API_KEY": "sk-test-0123456789abcdef",
        "OPENAI_BASE_URL": f"{hostile.url}/huge-json/v1",
        "PLAYGROUND_MAX_DOWNLOAD_MB": "1",
    }
    done = cli(["run", "--provider", "openai", "--frames", "1", "--prompt", "a fox"], env, data_dir, timeout=120)
    assert done.code == 1
    row = only_row(data_dir)
    limit = answer_limit(1, MB)
    assert row["status"] == "error" and f"the answer passed {limit} bytes" in row["error"]
    assert row["cost_source"] == "possibly billed (estimate)"  # the provider answered: it may have billed
    assert hostile.sent["huge-json"] < ENDLESS / 4  # the reader stopped; it did not take 200 MB in


def test_an_endless_event_stream_line_is_cut_off_at_the_bound(hostile: HostileProvider, data_dir: Path) -> None:
    env = {
        "ARK_API_KEY": "ark-test-0123456789",
        "ARK_BASE_URL": f"{hostile.url}/endless-sse/api/v3",
        "PLAYGROUND_MAX_DOWNLOAD_MB": "1",
    }
    done = cli(
        ["run", "--provider", "byteplus", "--frames", "2", "--size", "2048x2048", "--prompt", "a fox"],
        env,
        data_dir,
        timeout=120,
    )
    assert done.code == 1
    row = only_row(data_dir)
    assert row["status"] == "error" and f"the answer passed {answer_limit(2, MB)} bytes" in row["error"]
    assert hostile.sent["endless-sse"] < ENDLESS / 4


def test_a_frame_sent_inline_over_the_download_cap_is_not_saved(hostile: HostileProvider, data_dir: Path) -> None:
    assert MB < len(hostile.frame) and len(base64.b64encode(hostile.frame)) < answer_limit(1, MB)
    env = {
        "OPENAI_API_KEY": "sk-test-0123456789abcdef",
        "OPENAI_BASE_URL": f"{hostile.url}/big-frame/v1",
        "PLAYGROUND_MAX_DOWNLOAD_MB": "1",
    }
    done = cli(["run", "--provider", "openai", "--frames", "1", "--prompt", "a fox"], env, data_dir, timeout=120)
    assert done.code == 1
    row = only_row(data_dir)
    assert row["status"] == "error" and f"passes the {MB}-byte cap (PLAYGROUND_MAX_DOWNLOAD_MB)" in row["frame_errors"]
    run_dir = Path(row["image_dir"])
    assert not [p for p in run_dir.iterdir() if p.name.startswith("frame_")]
