"""What a public Space serves and accepts, tried over raw HTTP as a stranger would (issue 13):
only frames, previews and exports are served (never runs.csv, its index, the reservations or
the ratings), an upload and a request body are bounded with HTTP 413, and a refused huge
prompt never reaches the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx

from playground.base.config import Settings
from playground.store.runlog import RunLog
from playground.ui.limits import MAX_BODY_BYTES, MAX_UPLOAD_BYTES
from support.gradio_raw import SPACE, fn_index, join


def fetch(url: str, path: Path | str) -> httpx.Response:
    return httpx.get(f"{url}gradio_api/file={path}", timeout=30)


def test_data_files_are_not_served_and_frames_previews_and_exports_are(space_app: str, data_dir: Path) -> None:
    from gradio_client import Client

    job = Client(space_app, verbose=False).submit(
        "a fox", "", 2, "local", "", "sequence", 7, "", [], api_name="/generate"
    )
    job.result()
    run_dir = Path(RunLog(data_dir).latest(1).iloc[0]["image_dir"])
    from playground.core import Playground
    from playground.experiments.export import run_exports

    exports = run_exports(Playground(Settings.from_env(env=SPACE, data_dir=data_dir)), run_dir.name)
    (data_dir / "reservations.json").write_text('{"r": {"usd": 1.0}}')
    (data_dir / "ratings.csv").write_text("rated_at,run_id\n2026-01-01,r\n")
    secret = ["runs.csv", "runs.csv.idx", "runs.csv.lock", "reservations.json", "ratings.csv"]
    for name in secret:
        assert (data_dir / name).exists()
        assert fetch(space_app, (data_dir / name).resolve()).status_code != 200, name
    for sneaky in (run_dir / ".." / ".." / "runs.csv", f"{run_dir.resolve()}/../../runs.csv.idx"):
        assert fetch(space_app, sneaky).status_code != 200, sneaky
    frame = run_dir / "frame_01.png"
    served = [frame, run_dir / "frame_01.preview.webp", *exports.values()]
    for path in served:
        answer = fetch(space_app, path.resolve())
        assert answer.status_code == 200 and answer.content == path.read_bytes(), path


def test_an_upload_over_the_limit_is_refused_with_413(space_app: str, tmp_path: Path) -> None:
    config = httpx.get(space_app + "config", timeout=30).json()
    assert config["max_file_size"] == MAX_UPLOAD_BYTES  # the page refuses it before sending, too
    big = tmp_path / "big.png"
    with open(big, "wb") as f:  # sparse: no disk used
        f.truncate(MAX_UPLOAD_BYTES + 1024 * 1024)
    with open(big, "rb") as stream:
        answer = httpx.post(
            space_app + "gradio_api/upload", files=[("files", ("big.png", stream, "image/png"))], timeout=120
        )
    assert answer.status_code == 413
    small = httpx.post(
        space_app + "gradio_api/upload", files=[("files", ("ok.png", b"\x89PNG", "image/png"))], timeout=30
    )
    assert small.status_code == 200


def queue_body(url: str, prompt: str) -> bytes:
    data = [prompt, "", 2, "local", "", "sequence", 7, "", [], None, None, None]
    return json.dumps({"data": data, "fn_index": fn_index(url, "generate"), "session_hash": "stranger01"}).encode()


def test_a_request_body_over_the_limit_is_refused_and_logs_nothing(space_app: str, data_dir: Path) -> None:
    runs = data_dir / "runs.csv"
    answer = join(space_app, queue_body(space_app, "x" * 20_000_000))  # a 20 MB prompt
    assert answer.status_code == 413 and "the limit is" in answer.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        body = queue_body(space_app, "y" * (MAX_BODY_BYTES + 1))
        for at in range(0, len(body), 65536):
            yield body[at : at + 65536]

    streamed = httpx.post(
        space_app + "gradio_api/queue/join", content=chunks(), timeout=60, headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert not runs.exists() or b"xxxxxxxxxx" not in runs.read_bytes()
    assert httpx.get(space_app + "config", timeout=30).status_code == 200  # the app goes on
