"""A bare reference client: plain httpx, no playground code, one protocol style per function.

It does what a short script would do: send the same requests as the playground, read the
answer, then download the frames one after another and write them to disk. No retries, no
previews, no metrics, no log. The benchmark compares the playground with it twice: called
in-process (against one in-process `Playground.run`) and as a script in a fresh interpreter,
`python -m bench.reference STYLE FRAMES OUT_DIR` with the emulator's settings in the
environment (against the CLI, `python -m playground run`, started the same way).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
from pathlib import Path

import httpx

from bench.story import BEATS, PROMPT

REFERENCE_POLL_S = 0.25  # the reference polls 4 times a second: it notices a finished job within 0.25 s


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _download_all(client: httpx.Client, urls: list[str], out: Path) -> int:
    for i, url in enumerate(urls):
        response = client.get(url)
        response.raise_for_status()
        (out / f"frame_{i + 1:02d}.jpg").write_bytes(response.content)
    return len(urls)


def openai_sync(env: dict[str, str], frames: int, out: Path) -> int:
    """Sync JSON: one POST per frame (n=1), each answering a base64 image."""
    with httpx.Client(timeout=120) as client:
        for i in range(frames):
            response = client.post(
                f"{env['OPENAI_BASE_URL']}/images/generations",
                headers=_auth(env["OPENAI_API_KEY"]),
                json={"model": "gpt-image-1.5", "prompt": f"{PROMPT} {BEATS[i]}", "n": 1, "size": "1024x1024"},
            )
            response.raise_for_status()
            data = base64.b64decode(response.json()["data"][0]["b64_json"])
            (out / f"frame_{i + 1:02d}.img").write_bytes(data)
    return frames


def byteplus_stream(env: dict[str, str], frames: int, out: Path) -> int:
    """SSE stream: one POST with stream=true; frame URLs arrive as events; then download them."""
    body = {
        "model": "seedream-5-0-260128",
        "prompt": f"{PROMPT}: " + "; ".join(BEATS[:frames]),
        "size": "2048x2048",
        "sequential_image_generation": "auto",
        "sequential_image_generation_options": {"max_images": frames},
        "response_format": "url",
        "watermark": False,
        "stream": True,
    }
    urls: list[str] = []
    with httpx.Client(timeout=120) as client:
        with client.stream(
            "POST", f"{env['ARK_BASE_URL']}/images/generations", headers=_auth(env["ARK_API_KEY"]), json=body
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if event.get("type") == "image_generation.partial_succeeded":
                    urls.append(event["url"])
        return _download_all(client, urls, out)


def wavespeed_job(env: dict[str, str], frames: int, out: Path) -> int:
    """Async job in sync mode, as the playground sends it (issue 16): the POST answers when the
    prediction is done; were the sync wait to run out, poll its result URL; then download."""
    base = env["WAVESPEED_BASE_URL"]
    with httpx.Client(timeout=120, headers=_auth(env["WAVESPEED_API_KEY"])) as client:
        created = client.post(
            f"{base}/bytedance/seedream-v5.0-lite/sequential",
            json={
                "prompt": f"{PROMPT}: " + "; ".join(BEATS[:frames]),
                "size": "2048*2048",
                "max_images": frames,
                "enable_sync_mode": True,
            },
        )
        created.raise_for_status()
        if created.json()["data"]["status"] == "completed":
            return _download_all(client, created.json()["data"]["outputs"], out)
        status_url = created.json()["data"]["urls"]["get"]
        while True:
            state = client.get(status_url)
            state.raise_for_status()
            data = state.json()["data"]
            if data["status"] == "completed":
                return _download_all(client, data["outputs"], out)
            if data["status"] == "failed":
                raise RuntimeError(f"reference job failed: {data.get('error')}")
            time.sleep(REFERENCE_POLL_S)


CLIENTS = {"openai": openai_sync, "byteplus": byteplus_stream, "wavespeed": wavespeed_job}


def main(argv: list[str] | None = None) -> int:
    """The script form: base URLs and keys from the environment, as the CLI takes them."""
    parser = argparse.ArgumentParser(prog="python -m bench.reference", description=__doc__.splitlines()[0])
    parser.add_argument("style", choices=sorted(CLIENTS), help="the provider whose protocol style to run")
    parser.add_argument("frames", type=int)
    parser.add_argument("out", type=Path, help="directory the frames are written to")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(CLIENTS[args.style](dict(os.environ), args.frames, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
