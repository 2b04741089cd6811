"""The emulator itself: a real server, real images, request log, faults, CLI."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time

import httpx
import pytest
from PIL import Image

from emulator import Emulator
from emulator.images import render_image
from support.cases import CASES
from support.paths import REPO

ROOT = REPO


def test_base_urls_cover_every_provider(emulator):
    urls = emulator.base_urls()
    assert set(urls) == {case.base_url_env for case in CASES.values()}
    assert all(u.startswith("http://127.0.0.1:") for u in urls.values())
    assert urls["ARK_BASE_URL"] == f"{emulator.url}/byteplus/api/v3" and urls["FAL_QUEUE_URL"] == f"{emulator.url}/fal"
    # host roots, as the official clients read them: the adapters append the version paths
    assert urls["GOOGLE_GEMINI_BASE_URL"] == f"{emulator.url}/gemini"
    assert urls["REPLICATE_BASE_URL"] == f"{emulator.url}/replicate"
    env = emulator.env()
    assert env["ARK_API_KEY"] and env["FAL_KEY"] and env["OPENAI_API_KEY"] != env["FAL_KEY"]


@pytest.mark.parametrize("fmt,size", [("png", (300, 200)), ("jpeg", (64, 96))])
def test_serves_real_images(emulator, fmt, size):
    url = f"{emulator.url}/files/{size[0]}x{size[1]}/3.{fmt}"
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.headers["content-type"] == f"image/{fmt}"
    image = Image.open(io.BytesIO(resp.content))
    assert image.size == size and image.format == fmt.upper()
    assert httpx.get(f"{emulator.url}/files/nope").status_code == 404


def test_variants_differ_and_are_cached():
    assert render_image(64, 64, "png", 1) != render_image(64, 64, "png", 2)
    assert render_image(64, 64, "png", 1) is render_image(64, 64, "png", 1)


def test_request_log_hides_the_key(emulator):
    url = emulator.base_urls()["OPENAI_BASE_URL"] + "/images/generations"
    httpx.post(
        url,
        json={"model": "gpt-image-1.5", "prompt": "x", "size": "1024x1024"},
        headers={"Authorization": "Bearer sk-very-secret"},
    )
    rec = emulator.requests_for("openai")[-1]
    assert rec.headers["authorization"] == "Bearer <redacted>" and "sk-very-secret" not in repr(rec)
    assert rec.json["prompt"] == "x"


def test_missing_or_malformed_auth_is_401_with_provider_body(emulator):
    base = emulator.base_urls()
    r = httpx.post(base["ARK_BASE_URL"] + "/images/generations", json={"model": "seedream-x", "prompt": "p"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "AuthenticationError"
    r = httpx.post(
        base["FAL_QUEUE_URL"] + "/fal-ai/flux-pro/v1.1", json={"prompt": "p"}, headers={"Authorization": "Bearer k"}
    )  # fal wants "Key"
    assert r.status_code == 401 and "detail" in r.json()
    r = httpx.post(base["STABILITY_BASE_URL"] + "/stable-image/generate/sd3", files={"prompt": (None, "p")})
    assert r.status_code == 401 and r.json()["name"] == "unauthorized"


def test_unknown_fields_are_refused(emulator):
    url = emulator.base_urls()["ARK_BASE_URL"] + "/images/generations"
    r = httpx.post(
        url, json={"model": "seedream-4-0-250828", "prompt": "p", "seed": 3}, headers={"Authorization": "Bearer k"}
    )
    assert (
        r.status_code == 400
        and r.json()["error"]["code"] == "InvalidParameter"
        and "seed" in r.json()["error"]["message"]
    )


def test_fault_count_header_and_prompt_keyword(emulator):
    url = emulator.base_urls()["WAVESPEED_BASE_URL"] + "/bytedance/seedream-v4/sequential"
    headers = {"Authorization": "Bearer k"}
    body = {"prompt": "p", "size": "64*64", "max_images": 1}
    emulator.set_fault("wavespeed", "rate_limit", count=1, retry_after=7)
    r = httpx.post(url, json=body, headers=headers)
    assert r.status_code == 429 and r.headers["retry-after"] == "7" and r.json()["code"] == 429
    assert httpx.post(url, json=body, headers=headers).status_code == 200  # count used up
    r = httpx.post(url, json=body, headers={**headers, "X-Emulator-Fault": "server"})
    assert r.status_code == 500
    r = httpx.post(url, json={**body, "prompt": "a fox [fault:quota]"}, headers=headers)
    assert r.status_code == 402
    emulator.set_fault("evolink", "server")  # another provider's fault does not leak
    assert httpx.post(url, json=body, headers=headers).status_code == 200


def test_async_states_move_with_latency(emulator):
    emulator.latency_s = 1.0
    base = emulator.base_urls()["EVOLINK_BASE_URL"]
    headers = {"Authorization": "Bearer k"}
    task = httpx.post(
        base + "/images/generations",
        json={"model": "doubao-seedream-4.0", "prompt": "p", "n": 2, "size": "64x64"},
        headers=headers,
    ).json()
    assert task["status"] == "pending"
    seen = []
    for _ in range(200):
        state = httpx.get(f"{base}/tasks/{task['id']}", headers=headers).json()
        if not seen or seen[-1] != state["status"]:
            seen.append(state["status"])
        if state["status"] == "completed":
            break
        time.sleep(0.03)
    assert seen[0] == "pending" and seen[-1] == "completed" and set(seen) <= {"pending", "processing", "completed"}
    assert "processing" in seen and len(state["results"]) == 2  # 0.3 s pending, 0.7 s processing
    assert emulator.poll_counts[task["id"]] >= 3


def test_image_size_override_for_benchmarks():
    with Emulator(image_size="2048x2048", image_format="jpeg") as emu:
        url = emu.base_urls()["ARK_BASE_URL"] + "/images/generations"
        r = httpx.post(
            url,
            json={"model": "seedream-4-0-250828", "prompt": "p", "size": "64x64", "stream": False},
            headers={"Authorization": "Bearer k"},
        )
        frame = httpx.get(r.json()["data"][0]["url"])
        image = Image.open(io.BytesIO(frame.content))
        assert image.size == (2048, 2048) and image.format == "JPEG"
    with pytest.raises(httpx.ConnectError):
        httpx.get(emu.url + "/files/8x8/1.png", timeout=1)


def test_cli_prints_exports():
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--latency", "0"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        lines = []
        while not lines or lines[-1] not in ("# ready\n", ""):  # the exports end with "# ready"
            lines.append(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = "".join(lines)
    for case in CASES.values():
        assert f"export {case.base_url_env}=http://127.0.0.1:" in text and f"export {case.key_env}=" in text
    # host roots, as the official clients read them: the adapters append the version paths
    assert re.search(r"^export GOOGLE_GEMINI_BASE_URL=http://127\.0\.0\.1:\d+/gemini$", text, re.M)
    assert re.search(r"^export REPLICATE_BASE_URL=http://127\.0\.0\.1:\d+/replicate$", text, re.M)


# -- answer shapes (Emulator.shapes): each switch really changes the answer ---------------------


def _byteplus_stream_text(emulator) -> str:
    body = {
        "model": "seedream-5-0-260128",
        "prompt": "p",
        "size": "64x64",
        "stream": True,
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": 2},
    }
    resp = httpx.post(
        emulator.base_urls()["ARK_BASE_URL"] + "/images/generations",
        json=body,
        headers={"Authorization": "Bearer k-123"},
        timeout=10,
    )
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/event-stream"
    return resp.text


def test_sse_shapes(emulator):
    plain = _byteplus_stream_text(emulator)
    assert "event:" not in plain and '"type": "image_generation.partial_succeeded"' in plain
    assert '"created":' in plain and plain.rstrip().endswith("data: [DONE]")
    emulator.shapes = {"sse_event_lines", "created_at"}
    lined = _byteplus_stream_text(emulator)
    assert "event: image_generation.partial_succeeded\ndata: {" in lined and '"created_at":' in lined
    assert '"type": "image_generation.partial_succeeded"' in lined
    emulator.shapes = {"sse_type_in_event_only"}
    only = _byteplus_stream_text(emulator)
    assert "event: image_generation.completed" in only and '"type"' not in only


def test_stream_error_event_shape(emulator):
    emulator.set_fault("byteplus", "stream_error", after=1)
    text = _byteplus_stream_text(emulator)
    events = [line for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1].startswith('data: {"error": {"code": "InternalServiceError"') and "[DONE]" not in text


def test_bare_prediction_shape(emulator):
    url = emulator.base_urls()["WAVESPEED_BASE_URL"] + "/bytedance/seedream-v4.5/sequential"
    auth = {"Authorization": "Bearer k-123"}
    wrapped = httpx.post(url, json={"prompt": "p", "max_images": 1}, headers=auth).json()
    assert wrapped["code"] == 200 and wrapped["data"]["status"] == "created"
    emulator.shapes = {"bare_prediction"}
    bare = httpx.post(url, json={"prompt": "p", "max_images": 1}, headers=auth).json()
    assert "data" not in bare and "code" not in bare and bare["status"] == "created"
    polled = httpx.get(bare["urls"]["get"], headers=auth).json()
    assert "data" not in polled and polled["id"] == bare["id"]
