"""WaveSpeedAI's official SDK (`wavespeed`) against the emulator over real HTTP: run (polling
and sync mode), upload (the JSON ticket, then the PUT to the storage URL), get_result, the
terminal states and error bodies; then the adapter's requests and the SDK's for one logical
run (an edit-sequential run with two uploaded references), compared field by field.

Pointing it here: `Client(api_key=..., base_url="http://HOST:PORT/wavespeed")`: the SDK appends
/api/v3 itself, so plain http works as it is (no adaptation). The SDK has no typed objects: it
returns dicts ({"outputs": [...]}, the raw answer of get_result) and raises RuntimeError /
TimeoutError with the answer's text."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from playground.base.types import ReferenceImage
from support.sdk import body_differences, fetched_image, png_bytes, sdk

wavespeed = sdk("wavespeed")

T2I = "bytedance/seedream-v4.5/sequential"
EDIT = "bytedance/seedream-v4.5/edit-sequential"


def client(emulator) -> wavespeed.Client:
    return wavespeed.Client(
        api_key="sdk-key-0123456789",
        base_url=f"{emulator.url}/wavespeed",
        max_connection_retries=3,
        retry_interval=0.01,
    )


def run(emulator, model=T2I, **kw):
    payload = {
        "prompt": "Generate a series of 3 images: a fox's day",
        "size": "96*64",
        "max_images": 3,
        **kw.pop("input", {}),
    }
    return client(emulator).run(model, payload, poll_interval=0.02, timeout=20, **kw)


def reference_file(tmp_path: Path, name: str, colour) -> Path:
    path = tmp_path / name
    path.write_bytes(png_bytes(colour))
    return path


# -- the calls -------------------------------------------------------------------------------


def test_run_polls_until_completed(emulator):
    emulator.latency_s = 0.2
    out = run(emulator)
    assert len(out["outputs"]) == 3 and all(fetched_image(u).size == (96, 64) for u in out["outputs"])
    gets = emulator.requests_for("wavespeed", "GET")
    assert gets and all(re.fullmatch(r"/predictions/wav-\w+/result", r.path) for r in gets)


def test_sync_mode_answers_completed_in_the_post(emulator):
    emulator.latency_s = 0.2
    out = run(emulator, enable_sync_mode=True)
    assert len(out["outputs"]) == 3 and not emulator.requests_for("wavespeed", "GET")
    assert emulator.requests_for("wavespeed", "POST")[-1].json["enable_sync_mode"] is True


def test_sync_mode_that_runs_out_gives_the_task_id_and_get_result_fetches_it(emulator):
    """The SDK's sync-timeout reading: status "processing" with "Sync mode timed out" -> an error
    naming the task id and result URL (run) / status "processing" (run_no_throw); get_result then
    fetches the finished prediction."""
    emulator.latency_s, emulator.sync_wait_s = 1.5, 0.05  # the job outlasts the sync wait by far
    with pytest.raises(RuntimeError, match=r"Sync mode timed out \(task_id: wav-\w+\).*Query the result later"):
        run(emulator, enable_sync_mode=True)
    no_throw = client(emulator).run_no_throw(
        T2I, {"prompt": "p", "size": "64*64", "max_images": 1}, enable_sync_mode=True
    )
    assert no_throw["status"] == "processing" and no_throw["task_id"].startswith("wav-")
    for _ in range(1000):  # the job ends 1.5 s after it was created
        result = client(emulator).get_result(no_throw["task_id"])
        if result["data"]["status"] == "completed":
            break
        emulator.wait(0.02)
    assert result["code"] == 200 and len(result["data"]["outputs"]) == 1


def test_base64_outputs(emulator):
    out = run(emulator, input={"enable_base64_output": True}, enable_sync_mode=True)
    assert len(out["outputs"]) == 3
    assert Image.open(io.BytesIO(__import__("base64").b64decode(out["outputs"][0]))).size == (96, 64)


def test_upload_ticket_then_put_then_download_url(emulator, tmp_path):
    path = reference_file(tmp_path, "reference_1.png", (10, 120, 200))
    url = client(emulator).upload(str(path))
    ticket = emulator.requests_for("wavespeed", "POST")[-1]
    assert ticket.path == "/media/uploads" and ticket.headers["authorization"] == "Bearer <redacted>"
    assert ticket.json == {"filename": "reference_1.png", "size": path.stat().st_size, "content_type": "image/png"}
    put = emulator.requests_for("storage", "PUT")[-1]
    assert "authorization" not in put.headers and put.content_type == "image/png"
    assert httpx.get(url).content == path.read_bytes()
    out = run(emulator, EDIT, input={"images": [url], "max_images": 2})  # the download URL is the model input
    assert len(out["outputs"]) == 2


def test_upload_error_in_the_body(emulator, tmp_path):
    emulator.set_fault("wavespeed", "body_error", on="upload", code=400, message="unsupported file type")
    with pytest.raises(RuntimeError, match="Upload failed: unsupported file type"):
        client(emulator).upload(str(reference_file(tmp_path, "r.png", (1, 2, 3))))


@pytest.mark.parametrize("state", ["cancelled", "timeout", "deleted", "failed"])
def test_terminal_states_end_the_wait(emulator, state):
    """failed, cancelled, timeout, deleted: terminal for the SDK [sdk wavespeed 2.0.5
    wavespeed/api/client.py Client._wait], and the emulator answers each."""
    if state == "failed":
        emulator.set_fault("wavespeed", "job_failed")
    else:
        emulator.set_fault("wavespeed", "job_ended", state=state)
    with pytest.raises(RuntimeError, match=rf"Prediction {state} \(task_id: wav-\w+\)"):
        run(emulator)


def test_poll_errors_are_retried_by_the_sdk(emulator):
    emulator.set_fault("wavespeed", "server", count=2, on="poll")
    assert len(run(emulator)["outputs"]) == 3
    assert len(emulator.requests_for("wavespeed", "GET")) >= 3


@pytest.mark.parametrize("fault,status", [("auth", 401), ("quota", 402), ("rate_limit", 429), ("invalid", 400)])
def test_error_bodies_reach_the_sdk_error(emulator, fault, status):
    """A submit is never re-sent [sdk]: one POST, the status and the body's message in the error."""
    emulator.set_fault("wavespeed", fault)
    with pytest.raises(RuntimeError, match=rf"Failed to submit prediction: HTTP {status}: .*\"code\": {status}"):
        run(emulator)
    assert len(emulator.requests_for("wavespeed", "POST")) == 1


@pytest.mark.parametrize("strict", [True, False])
def test_an_unknown_optional_field(emulator, strict):
    emulator.strict_fields = strict
    if strict:
        with pytest.raises(RuntimeError, match="HTTP 400.*unknown parameter"):
            run(emulator, input={"future_option": 1})
    else:
        assert len(run(emulator, input={"future_option": 1})["outputs"]) == 3
    assert emulator.requests_for("wavespeed", "POST")[0].unknown_fields == ["future_option"]


# -- same requests: the adapter's and the SDK's, field by field --------------------------------

# Every remaining difference, with its reason (docs/providers.md lists the same).
KNOWN_HEADER_DIFFERENCES = {
    "x-client-name": "the SDK's channel attribution (wavespeed-python); the adapter is not the SDK",
    "x-client-version": "the same (the SDK's version)",
    "x-client-os": "the same (the machine's OS)",
    "user-agent": "each HTTP library names itself",
}
GET_ONLY_DIFFERENCE = {"content-type": "the SDK declares a JSON body on its GETs too; the adapter's GETs have no body"}


def _reference(data: bytes) -> ReferenceImage:
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return ReferenceImage(
        data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=width, height=height
    )


def _steps(emulator, since: int) -> list:
    """The run's requests as (provider, method, path with ids blanked), polls counted once."""
    steps = []
    for r in emulator.requests[since:]:
        path = re.sub(r"(wav|ati)-\w+", "{id}", r.path)
        path = re.sub(r"^/[0-9a-f]{32}$", "/{upload}", path)
        step = (r.provider, r.method, path)
        if not (steps and steps[-1] == step and r.method == "GET"):
            steps.append(step)
    return steps


def test_same_requests_as_the_sdk(emulator, make_provider, make_call, sink, tmp_path):
    colours = ((200, 40, 40), (0, 0, 200))
    refs = tuple(_reference(png_bytes(c)) for c in colours)
    emulator.latency_s = 0.2
    p = make_provider("wavespeed")
    call = make_call(
        p, model=EDIT, prompt="Generate a series of 3 images: a fox's day", frames=3, size="96x64", references=refs
    )

    async def adapter_run():
        async with httpx.AsyncClient(timeout=10) as http:
            return await p.generate(call, http, sink)

    start = len(emulator.requests)
    asyncio.run(adapter_run())
    middle = len(emulator.requests)
    c = client(emulator)
    urls = [
        c.upload(str(reference_file(tmp_path, f"reference_{i + 1}.png", colour))) for i, colour in enumerate(colours)
    ]
    c.run(
        EDIT, {"prompt": call.prompt, "size": "96*64", "max_images": 3, "images": urls}, poll_interval=0.02, timeout=20
    )
    ours, theirs = emulator.requests[start:middle], emulator.requests[middle:]

    # the same steps: ticket, PUT, ticket, PUT, submit, polls of the result path
    expected = [("wavespeed", "POST", "/media/uploads"), ("storage", "PUT", "/{upload}")] * 2 + [
        ("wavespeed", "POST", f"/{EDIT}"),
        ("wavespeed", "GET", "/predictions/{id}/result"),
    ]
    assert _steps(emulator, start)[: len(expected)] == expected
    assert _steps(emulator, middle) == expected
    by_step = lambda log, method, prefix: [r for r in log if r.method == method and r.path.startswith(prefix)]  # noqa: E731
    # upload tickets: the same fields, values and formats
    for a, s in zip(by_step(ours, "POST", "/media/uploads"), by_step(theirs, "POST", "/media/uploads")):
        assert body_differences(a.json, s.json) == {}
    # PUTs: only the ticket's headers, no key, the same bytes
    for a, s in zip(by_step(ours, "PUT", "/"), by_step(theirs, "PUT", "/")):
        assert "authorization" not in a.headers and "authorization" not in s.headers
        assert a.content_type == s.content_type == "image/png" and a.body_size == s.body_size
    # the submit: the same fields and value formats; the images are each side's own download URLs
    a, s = by_step(ours, "POST", "/bytedance/"), by_step(theirs, "POST", "/bytedance/")
    assert len(a) == len(s) == 1
    diff = body_differences(a[0].json, s[0].json)
    assert set(diff) == {"images"} and all(len(v) == 2 for v in diff["images"])
    assert all(u.startswith(f"{emulator.url}/files/upload/") for u in a[0].json["images"] + s[0].json["images"])
    # every API call carries the key the same way; the differing headers are the listed ones
    for log in (ours, theirs):
        assert all(r.headers.get("authorization") == "Bearer <redacted>" for r in log if r.provider == "wavespeed")
    assert _differing(a[0].headers, s[0].headers) == set(KNOWN_HEADER_DIFFERENCES)
    a_get, s_get = by_step(ours, "GET", "/predictions/")[0], by_step(theirs, "GET", "/predictions/")[0]
    assert _differing(a_get.headers, s_get.headers) == set(KNOWN_HEADER_DIFFERENCES) | set(GET_ONLY_DIFFERENCE)


def _differing(ours: dict[str, str], theirs: dict[str, str]) -> set[str]:
    """Headers whose values differ (those of the connection itself left aside)."""
    return {
        h
        for h in set(ours) | set(theirs)
        if h not in ("content-length", "host", "connection") and ours.get(h) != theirs.get(h)
    }
