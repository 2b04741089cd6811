"""The Gradio queue protocol by hand, as a stranger calls it (no helpers): POST
/gradio_api/queue/join with an fn_index, then read the event's messages from
/gradio_api/queue/data. It reaches events marked private in the API docs too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

SPACE = {"SPACE_ID": "owner/playground"}  # the Space defaults: spend caps on


@pytest.fixture
def space_app(data_dir: Path) -> Iterator[str]:
    """The app launched as on a public Space (SPACE_ID set), on the test's DATA_DIR; its URL."""
    from playground.base.config import Settings
    from support.app import launch_app

    app, url = launch_app(Settings.from_env(env=SPACE, data_dir=data_dir))
    try:
        yield url
    finally:
        app.close()


@dataclass
class Answer:
    success: bool
    output: list[Any] | None  # the outputs' values (None when the event failed)
    error: str = ""
    warnings: list[str] = field(default_factory=list)  # gr.Warning messages sent to the page


def fn_index(url: str, api_name: str) -> int:
    """The fn_index of the event named `api_name` in /config (private events have names too)."""
    config = httpx.get(url + "config", timeout=30).json()
    found = [d["id"] for d in config["dependencies"] if d.get("api_name") == api_name]
    assert found, f"no event named {api_name!r}"
    return found[0]


def join(url: str, body: bytes) -> httpx.Response:
    """POST raw bytes to /gradio_api/queue/join."""
    return httpx.post(
        url + "gradio_api/queue/join", content=body, timeout=60, headers={"content-type": "application/json"}
    )


def upload(url: str, paths: list[Path]) -> list[dict[str, Any]]:
    """Upload files as the page does; their FileData values, ready to pass as an input."""
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    resp = httpx.post(url + "gradio_api/upload", files=files, timeout=60)
    resp.raise_for_status()
    return [
        {"path": server_path, "orig_name": p.name, "meta": {"_type": "gradio.FileData"}}
        for server_path, p in zip(resp.json(), paths)
    ]


def call(url: str, api_name: str, data: list[Any], timeout: float = 120.0, raw_json: str | None = None) -> Answer:
    """Run one event through the queue and wait for it to end. `raw_json` replaces the JSON
    text of `data` (to send what json.dumps would not, such as a lone surrogate's escape)."""
    session = uuid.uuid4().hex[:11]
    payload = {
        "data": data,
        "fn_index": fn_index(url, api_name),
        "session_hash": session,
        "event_data": None,
        "trigger_id": None,
    }
    body = json.dumps(payload)
    if raw_json is not None:
        body = body.replace(json.dumps(data), raw_json, 1)
    joined = join(url, body.encode("utf-8"))
    assert joined.status_code == 200, joined.text
    event_id = joined.json()["event_id"]
    warnings: list[str] = []
    with httpx.stream("GET", url + f"gradio_api/queue/data?session_hash={session}", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") not in (None, event_id):
                continue
            if message.get("msg") == "log" and message.get("level") == "warning":
                warnings.append(str(message.get("log")))
            if message.get("msg") == "process_completed":
                output = message.get("output") or {}
                ok = bool(message.get("success"))
                return Answer(ok, output.get("data") if ok else None, str(output.get("error") or ""), warnings)
    raise AssertionError("the event stream ended without process_completed")
