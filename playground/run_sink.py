"""Where one run's frames land: `RunSink` saves, downloads and previews every frame of a run;
each provider call sees it through a `CallSink` that maps call-local frame indices to run
indices. `Progress` is what a live view gets after each frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from playground.errors import ProviderError
from playground.frames import download_frame, make_preview, save_frame

@dataclass
class Progress:
    """What a live view needs after each frame: frames so far, in run order."""

    frames_done: int
    frames_requested: int
    elapsed_s: float
    frames: list[tuple[int, Path, Path]]  # (0-based index, frame path, preview path)
    note: str = ""


ProgressCallback = Callable[[Progress], None]


class RunSink:
    """Collects one run's frames from every call: saves, downloads and previews them."""

    def __init__(self, run_dir: Path, client: httpx.AsyncClient, max_download_bytes: int, requested: int,
                 started: float, on_progress: ProgressCallback | None) -> None:
        self.run_dir, self.client, self.max_download_bytes = run_dir, client, max_download_bytes
        self.requested, self.started, self.on_progress = requested, started, on_progress
        self.frames: dict[int, tuple[Path, Path]] = {}
        self.errors: dict[int, str] = {}
        self.first_frame_s: float | None = None
        self.downloads: list[asyncio.Task[None]] = []

    async def stop_downloads(self) -> None:
        for task in self.downloads:
            task.cancel()
        await asyncio.gather(*self.downloads, return_exceptions=True)

    def for_call(self, first: int) -> CallSink:
        return CallSink(self, first)

    async def store(self, index: int, data: bytes) -> None:
        frame = await asyncio.to_thread(save_frame, self.run_dir, index + 1, data)
        await self._add(index, frame)

    async def fetch(self, index: int, url: str) -> None:
        try:
            frame = await download_frame(self.client, url, self.run_dir, index + 1, self.max_download_bytes)
        except ProviderError as exc:
            self.errors[index] = str(exc)
            return
        await self._add(index, frame)

    async def _add(self, index: int, frame: Path) -> None:
        preview = await asyncio.to_thread(make_preview, frame)
        if self.first_frame_s is None:
            self.first_frame_s = time.perf_counter() - self.started
        self.frames[index] = (frame, preview)
        self.errors.pop(index, None)
        if self.on_progress:
            done = sorted((i, f, p) for i, (f, p) in self.frames.items())
            self.on_progress(Progress(len(done), self.requested, time.perf_counter() - self.started, done))


class CallSink:
    """The FrameSink one provider call sees: call-local indices mapped to run indices."""

    def __init__(self, run: RunSink, first: int) -> None:
        self.run, self.first = run, first

    async def image(self, index: int, data: bytes) -> None:
        try:
            await self.run.store(self.first + index, data)
        except ValueError as exc:
            self.run.errors[self.first + index] = f"frame {self.first + index + 1}: {exc}"

    async def url(self, index: int, url: str) -> None:
        self.run.downloads.append(asyncio.create_task(self.run.fetch(self.first + index, url)))

    async def failed(self, index: int, reason: str) -> None:
        self.run.errors[self.first + index] = reason

    async def progress(self, fraction: float, note: str = "") -> None:
        if self.run.on_progress:
            done = sorted((i, f, p) for i, (f, p) in self.run.frames.items())
            self.run.on_progress(Progress(len(done), self.run.requested,
                                          time.perf_counter() - self.run.started, done, note))
