"""Parts 6 and 7: the offline provider's speed, the metrics' cost, and what the gallery sends.

Part 7 runs an 8-frame 2K run through the core (emulator frames, 2048x2048 grainy JPEG,
about real size), turns it into gallery items with the UI's own `gallery_items`, and
passes them through Gradio's Gallery.postprocess: the files it references are what the
browser downloads. The originals stay on disk for downloads and exports.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import BEATS, PROMPT, Row, emulator_process, row


class _CountingSink:
    def __init__(self) -> None:
        self.frames = 0

    async def image(self, index: int, data: bytes) -> None:
        self.frames += 1

    async def url(self, index: int, url: str) -> None:
        self.frames += 1

    async def failed(self, index: int, reason: str) -> None:
        raise RuntimeError(f"offline provider failed frame {index}: {reason}")

    async def progress(self, fraction: float, note: str = "") -> None:
        pass


def _local_fps(frames: int, size: str = "1024x1024") -> float:
    """Frames per second of the local provider alone (one sequence call, as the core sends it)."""
    import httpx

    from playground.base.types import ProviderCall
    from playground.providers.adapters.local import LocalProvider

    provider = LocalProvider()
    call = ProviderCall(
        model=provider.default_model(), prompt=PROMPT, frames=frames, size=size, seed=7, beats=tuple(BEATS[:frames])
    )

    async def go() -> int:
        sink = _CountingSink()
        async with httpx.AsyncClient() as client:
            await provider.generate(call, client, sink)
        return sink.frames

    started = time.perf_counter()
    made = asyncio.run(go())
    return made / (time.perf_counter() - started)


def _score_seconds(fmt: str, repeats: int) -> float:
    """Seconds for metrics.score_frames on 8 frames at 2048x2048 (grainy, about real file size)."""
    from emulator.images import render_image
    from playground.metrics.score import score_frames

    with tempfile.TemporaryDirectory(prefix="pg-bench-score-") as work:
        paths = []
        for i in range(8):
            path = Path(work) / f"frame_{i + 1:02d}.{'jpg' if fmt == 'jpeg' else fmt}"
            path.write_bytes(render_image(2048, 2048, fmt, 64 + i))
            paths.append(path)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            score_frames(paths, deep=False)
            best = min(best, time.perf_counter() - started)
    return best


def speed(quick: bool) -> list[Row]:
    frames = 4 if quick else 8
    _local_fps(1)  # warm-up: fonts and first-use costs
    fps = max(_local_fps(frames) for _ in range(1 if quick else 3))
    jpeg_s = _score_seconds("jpeg", 1 if quick else 3)
    png_s = None if quick else _score_seconds("png", 2)  # drawing 8 grainy 2K PNGs takes a while
    return [
        row(
            "6 offline",
            f"local provider at 1024x1024 ({frames} frames, one call)",
            fps,
            "fps",
            "",
            "drawing only; the core adds saving, previews and metrics",
        ),
        row(
            "6 offline",
            "metrics.score_frames, 8 frames 2048x2048 JPEG",
            jpeg_s,
            "s",
            "",
            f"{1000 * jpeg_s / 8:.0f} ms a frame (JPEG decodes at reduced scale)",
        ),
        row(
            "6 offline",
            "metrics.score_frames, 8 frames 2048x2048 PNG",
            png_s,
            "s",
            "",
            "not run with --quick" if png_s is None else f"{1000 * png_s / 8:.0f} ms a frame (PNG decodes in full)",
        ),
    ]


def delivery(work: Path) -> list[Row]:
    """Bytes the browser gets for an 8-frame 2K run: the gallery's files vs the originals."""
    import gradio as gr

    from bench.remote import playground_for
    from playground.base.types import GenerationRequest
    from playground.present.runs import gallery_items

    with emulator_process(0.2, draw_first=False) as emu:  # sizes are measured here, not times
        playground = playground_for(emu.env, work / "delivery")
        request = GenerationRequest(
            prompt=PROMPT, frames=8, mode="sequence", provider="byteplus", beats=BEATS[:8], size="2048x2048"
        )
        result = asyncio.run(playground.run(request))
    if result.record.status != "ok":
        raise RuntimeError(f"delivery run failed: {result.record.error}")
    served = gr.Gallery().postprocess(gallery_items(result.frames))
    sent = sum(Path(item.image.path).stat().st_size for item in served.root)  # type: ignore[union-attr]
    originals = sum(f.path.stat().st_size for f in result.frames)
    only_previews = all(".preview." in item.image.path for item in served.root)  # type: ignore[union-attr]
    return [
        row(
            "7 UI delivery",
            "8-frame 2K run: bytes the gallery sends",
            sent / 1e6,
            "MB",
            "< 2",
            f"{len(served.root)} WebP previews (640 px)" + ("" if only_previews else "; NOT all previews"),
        ),
        row(
            "7 UI delivery",
            "8-frame 2K run: originals on disk (downloads, exports)",
            originals / 1e6,
            "MB",
            "",
            f"the gallery sends {100 * sent / originals:.1f}% of it",
        ),
    ]
