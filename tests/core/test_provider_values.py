"""Every value a provider reports is checked before it is logged or counted (issue 13, finding 4).

A hostile provider on loopback answers in the providers' own shapes (BytePlus JSON and event
stream, OpenAI Images JSON, EvoLink tasks) with values no honest answer has: negative or infinite
token counts, `generated_images: -1000`, 40 frames for a request of 2, frame indexes twice or out
of range. The row must say what was wrong, cost what the call could cost at most, and hold no
more frames than were asked for; the caps must count that worst case."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from playground.base.errors import SpendCapError
from support.faults import cli, frame_files, make_playground, rows, run

KEY = "hostile-test-key-0123456789"


def png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]


class HostileProvider:
    """POST anything -> `self.answer(path, body)` = (content type, bytes); GET /frame/N.png -> a PNG
    of colour N (mod 4)."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.answer: Callable[[str, Any], tuple[str, bytes]] = lambda path, body: ("application/json", b"{}")
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/frame/"):
                    n = int(self.path.split("/")[-1].split(".")[0])
                    self._send("image/png", png(COLOURS[n % len(COLOURS)]))
                elif self.path.startswith("/evolink/v1/tasks/"):
                    self._send(*provider.answer(self.path, None))
                else:
                    self._send("text/plain", b"not found", 404)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                provider.posts.append(self.path)
                self._send(*provider.answer(self.path, body))

            def _send(self, ctype: str, data: bytes, status: int = 200) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def frame(self, n: int) -> str:
        return f"{self.url}/frame/{n}.png"

    def env(self) -> dict[str, str]:
        return {
            "ARK_API_KEY": KEY,
            "ARK_BASE_URL": f"{self.url}/byteplus",
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": f"{self.url}/openai",
            "EVOLINK_API_KEY": KEY,
            "EVOLINK_BASE_URL": f"{self.url}/evolink/v1",
        }

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def hostile() -> Iterator[HostileProvider]:
    server = HostileProvider()
    yield server
    server.close()


def as_json(data: Any) -> tuple[str, bytes]:
    return "application/json", json.dumps(data).encode()  # json.dumps writes Infinity and NaN as JS does


def seedream_json(hostile: HostileProvider, frames: int, **usage: Any) -> Callable[[str, Any], tuple[str, bytes]]:
    return lambda path, body: as_json(
        {"created": 1, "data": [{"url": hostile.frame(i), "size": "64x64"} for i in range(frames)], "usage": usage}
    )


def seedream_stream(events: list[dict[str, Any]]) -> Callable[[str, Any], tuple[str, bytes]]:
    text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return lambda path, body: ("text/event-stream", text.encode())


def gpt_image(usage: dict[str, Any], images: int = 1) -> Callable[[str, Any], tuple[str, bytes]]:
    data = [{"b64_json": base64.b64encode(png(COLOURS[i % 4])).decode()} for i in range(images)]
    return lambda path, body: as_json({"created": 1, "data": data, "usage": usage})


SEQ = dict(provider="byteplus", frames=2, size="256x256")  # $0.035 an image
GPT = dict(provider="openai", model="gpt-image-1.5", mode="baseline", frames=1, size="1024x1024")


def saved_frames(record: Any) -> list[str]:
    return [name for name in frame_files(Path(record.image_dir)) if not name.endswith(".preview.webp")]


# -- counts -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("generated", [-1000, 40, 2.5, True, "2"])
def test_a_billed_image_count_outside_the_request_counts_the_worst_case(hostile, data_dir, generated):
    hostile.answer = seedream_json(hostile, 2, generated_images=generated)
    record = run(make_playground(hostile.env(), data_dir), **SEQ).record
    assert record.frames_returned == 2 and record.status == "ok"
    assert record.images_billed == 2 and record.cost_usd == pytest.approx(0.07)  # all it asked for
    assert "generated_images" in record.error and "worst case" in record.error
    assert record.cost_source.startswith("worst case")
    assert rows(make_playground({}, data_dir))[0]["cost_usd"] == pytest.approx(0.07)


def test_a_negative_count_makes_no_room_under_the_day_cap(hostile, data_dir):
    hostile.answer = seedream_json(hostile, 2, generated_images=-1000)
    pg = make_playground(hostile.env(), data_dir, PLAYGROUND_MAX_USD_PER_DAY="0.10")
    run(pg, **SEQ)
    with pytest.raises(SpendCapError, match="PLAYGROUND_MAX_USD_PER_DAY"):
        run(pg, **SEQ)  # $0.07 counted + $0.07 passes $0.10
    assert len(hostile.posts) == 1


def test_never_more_frames_saved_than_asked_for(hostile, data_dir):
    hostile.answer = seedream_json(hostile, 40, generated_images=40)
    record = run(make_playground(hostile.env(), data_dir), **SEQ).record
    assert (record.frames_requested, record.frames_returned) == (2, 2) and record.status == "ok"
    assert saved_frames(record) == ["frame_01.png", "frame_02.png"]
    assert "38 frame(s)" in record.error and record.images_billed == 2


def test_duplicate_and_out_of_range_frame_indexes_are_ignored_with_a_note(hostile, data_dir):
    frame = "image_generation.partial_succeeded"
    hostile.answer = seedream_stream(
        [
            {"type": frame, "image_index": 0, "url": hostile.frame(0)},
            {"type": frame, "image_index": 0, "url": hostile.frame(2)},  # frame 1 again: the first one stays
            {"type": frame, "image_index": 7, "url": hostile.frame(3)},  # a frame that was never asked for
            {"type": frame, "image_index": 1, "url": hostile.frame(1)},
            {"type": "image_generation.completed", "usage": {"generated_images": 2}},
        ]
    )
    record = run(make_playground(hostile.env(), data_dir), **SEQ).record
    assert record.status == "ok" and record.frames_returned == 2
    assert saved_frames(record) == ["frame_01.png", "frame_02.png"]
    first = Image.open(Path(record.image_dir) / "frame_01.png").convert("RGB").getpixel((5, 5))
    assert first == COLOURS[0]
    assert "duplicate" in record.error and "outside" in record.error


def test_evolink_results_beyond_n_are_not_saved_nor_trusted(hostile, data_dir):
    def answer(path: str, body: Any) -> tuple[str, bytes]:
        if path.endswith("/images/generations"):
            return as_json({"id": "task-unified-1", "status": "pending"})
        return as_json(
            {
                "id": "task-unified-1",
                "status": "completed",
                "progress": 100,
                "results": [hostile.frame(i) for i in range(10)],
            }
        )

    hostile.answer = answer
    record = run(make_playground(hostile.env(), data_dir), provider="evolink", frames=2, size="256x256").record
    assert record.frames_returned == 2 and record.images_billed == 2
    assert record.cost_usd == pytest.approx(2 * 0.032)


# -- costs and token counts ---------------------------------------------------------------------------------

WORST_GPT_15 = 0.133  # gpt-image-1.5 at 1024x1024, high quality [3p]; plus the prompt's input tokens at most


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 10, "output_tokens": -5_000_000, "total_tokens": 0},  # a negative cost
        {"input_tokens": 10, "output_tokens": float("inf"), "total_tokens": 0},  # an infinite one
        {"input_tokens": 10, "output_tokens": float("nan"), "total_tokens": 0},
        {"input_tokens": 10, "input_tokens_details": {"text_tokens": -10_000}, "output_tokens": 10_000},  # looks fine
        {"input_tokens": 10, "output_tokens": 1e12, "total_tokens": 0},  # beyond any image
        {"input_tokens": "10", "output_tokens": True},
    ],
)
def test_a_token_count_out_of_range_counts_the_worst_case(hostile, data_dir, usage):
    hostile.answer = gpt_image(usage)
    record = run(make_playground(hostile.env(), data_dir), **GPT).record
    assert record.status == "ok" and record.frames_returned == 1
    assert WORST_GPT_15 < record.cost_usd < WORST_GPT_15 + 0.01 and record.cost_usd == record.max_cost_usd
    assert "worst case" in record.error and "usage" in record.error
    logged = rows(make_playground({}, data_dir))[0]
    assert logged["cost_usd"] == pytest.approx(record.cost_usd)


def test_honest_tokens_still_give_the_reported_cost(hostile, data_dir):
    hostile.answer = gpt_image(
        {
            "input_tokens": 10,
            "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
            "output_tokens": 1056,
            "total_tokens": 1066,
        }
    )
    record = run(make_playground(hostile.env(), data_dir), **GPT).record
    assert record.cost_source == "reported" and 0 < record.cost_usd < WORST_GPT_15
    assert record.error == ""


def test_more_images_than_asked_in_one_answer(hostile, data_dir):
    hostile.answer = gpt_image({"input_tokens": 10, "output_tokens": 1056, "total_tokens": 1066}, images=40)
    record = run(make_playground(hostile.env(), data_dir), **GPT).record
    assert record.frames_returned == 1 and saved_frames(record) == ["frame_01.png"]
    assert record.images_billed == 1 and "39 frame(s)" in record.error


def test_through_the_cli_the_row_and_the_json_agree(hostile, data_dir):
    hostile.answer = seedream_json(hostile, 40, generated_images=-1000)
    result = cli(
        ["run", "--provider", "byteplus", "--frames", "2", "--size", "256x256", "--prompt", "a fox", "--json"],
        hostile.env(),
        data_dir,
    )
    out = result.json()
    assert result.code == 0 and out["frames_returned"] == 2 and out["cost_usd"] == pytest.approx(0.07)
    assert "generated_images" in out["error"] and "38 frame(s)" in out["error"]
    assert len(saved_frames(type("R", (), {"image_dir": out["image_dir"]}))) == 2
