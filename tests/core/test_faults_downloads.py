"""Result-URL downloads: scheme, size cap while streaming, deadline, image check, bomb
protection, and no partial file left behind; directly and through a whole run."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from playground.base.errors import ProviderError
from playground.base.images import check_image
from playground.core.download import download_frame
from playground.store.codec import record_from_row
from support.faults import (
    FileServer,
    frame_files,
    make_playground,
    png_header_only,
    run,
    tiny_png,
)

CAP = 200_000  # bytes


@pytest.fixture(scope="module")
def files():
    server = FileServer()
    yield server
    server.close()


def download(url: str, run_dir: Path, max_bytes: int = CAP, timeout_s: float = 5.0) -> Path:
    async def go() -> Path:
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
            return await download_frame(client, url, run_dir, 1, max_bytes, timeout_s=timeout_s)

    run_dir.mkdir(parents=True, exist_ok=True)
    return asyncio.run(go())


def test_a_good_frame_is_kept_under_its_frame_name(files, tmp_path):
    path = download(f"{files.url}/ok.png", tmp_path)
    assert path.name == "frame_01.png" and path.read_bytes() == tiny_png()
    assert frame_files(tmp_path) == ["frame_01.png", "frame_01.preview.webp"]  # preview from the same decode


@pytest.mark.parametrize(
    "route, words",
    [
        ("/garbage", "not a readable image"),
        ("/text", "not a readable image"),
        ("/bomb.png", "DecompressionBomb"),
        ("/mild-bomb.png", "DecompressionBomb"),  # Pillow alone would only warn below 2x the limit
        ("/declared-big", "exceeds the 200000-byte cap"),
        ("/chunked-big", "passed the 200000-byte cap"),
        ("/redirect", "HTTP 302"),
        ("/missing", "HTTP 404"),
    ],
)
def test_a_bad_download_is_refused_and_leaves_nothing(files, tmp_path, route, words):
    with pytest.raises(ProviderError) as caught:
        download(f"{files.url}{route}", tmp_path)
    assert words in str(caught.value) and str(caught.value).startswith("frame 1:")
    assert frame_files(tmp_path) == []  # no frame, no .part


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/x.png", "data:image/png;base64,AAAA", "gopher://x", "/relative.png"]
)
def test_only_http_and_https_are_downloaded(files, tmp_path, url):
    with pytest.raises(ProviderError, match="non-http"):
        download(url, tmp_path)
    assert frame_files(tmp_path) == []


@pytest.mark.parametrize(
    "route, words",
    [
        ("/stall", "timed out|took over"),  # headers, then silence
        ("/drip", "took over 0.6 s"),  # a byte every 0.05 s never trips a read timeout; the deadline ends it
    ],
)
def test_a_slow_download_is_stopped_by_its_deadline(files, tmp_path, route, words):
    started = time.monotonic()
    with pytest.raises(ProviderError, match=words):
        download(f"{files.url}{route}", tmp_path, timeout_s=0.6)
    assert time.monotonic() - started < 3
    assert frame_files(tmp_path) == []


def test_check_image_refuses_bombs_and_garbage():
    assert check_image(tiny_png()) == "png"
    for data in (png_header_only(100_000, 100_000), png_header_only(9000, 8000), b"", b"GIF89a", b"\x89PNG\r\n"):
        with pytest.raises(ValueError):
            check_image(data)


# -- through a whole run: the provider hands out hostile URLs ----------------------------------------------


def test_a_run_keeps_good_frames_and_explains_each_bad_one(emulator, data_dir, files, monkeypatch):
    routes = {0: None, 1: "/garbage", 2: "/chunked-big", 3: "/bomb.png", 4: "file:///etc/passwd"}
    real = emulator.frame_url

    def hostile(job, index):
        route = routes[index]
        return real(job, index) if route is None else route if "://" in route else f"{files.url}{route}"

    monkeypatch.setattr(emulator, "frame_url", hostile)
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_MAX_DOWNLOAD_MB="0.25")
    record = run(pg, provider="evolink", frames=5, size="256x256").record
    assert record.status == "partial" and record.frames_returned == 1
    errors = record.frame_errors
    assert set(errors) == {2, 3, 4, 5}
    assert "not a readable image" in errors[2]
    assert f"{int(0.25 * 1024 * 1024)}-byte cap" in errors[3]
    assert "DecompressionBomb" in errors[4]
    assert "non-http" in errors[5]
    assert frame_files(Path(record.image_dir)) == ["frame_01.png", "frame_01.preview.webp"]
    assert record_from_row(pg.log.read().iloc[0].to_dict()).frame_errors == record.frame_errors  # as logged


def test_the_run_deadline_stops_downloads_and_nothing_lands_afterwards(emulator, data_dir, files, monkeypatch):
    monkeypatch.setattr(emulator, "frame_url", lambda job, index: f"{files.url}/drip")
    pg = make_playground(emulator.env(), data_dir, PLAYGROUND_RUN_DEADLINE_S="1")
    started = time.monotonic()
    record = run(pg, provider="evolink", frames=2, size="256x256").record
    assert time.monotonic() - started < 3
    assert record.status == "error" and "1 s deadline" in record.error
    time.sleep(0.3)  # a download still running would write now
    assert frame_files(Path(record.image_dir)) == []
