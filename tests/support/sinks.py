"""A FrameSink for provider tests: it records what a call delivers, and when."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image


@dataclass
class CollectingSink:
    """A FrameSink that records what arrives and when (monotonic seconds)."""

    events: list[tuple[str, int, Any, float]] = field(default_factory=list)
    images: dict[int, bytes] = field(default_factory=dict)
    urls: dict[int, str] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    progress_notes: list[tuple[float, str]] = field(default_factory=list)

    async def image(self, index: int, data: bytes) -> None:
        self.images[index] = data
        self.events.append(("image", index, len(data), time.monotonic()))

    async def url(self, index: int, url: str) -> None:
        self.urls[index] = url
        self.events.append(("url", index, url, time.monotonic()))

    async def failed(self, index: int, reason: str) -> None:
        self.failures[index] = reason
        self.events.append(("failed", index, reason, time.monotonic()))

    async def progress(self, fraction: float, note: str = "") -> None:
        self.progress_notes.append((fraction, note))

    @property
    def frame_indices(self) -> list[int]:
        return [i for kind, i, _, _ in self.events if kind in ("image", "url")]

    async def download(self, client: httpx.AsyncClient) -> dict[int, Image.Image]:
        """Fetch every URL frame (as the core would) and decode all frames as images."""
        out: dict[int, Image.Image] = {}
        for index, data in self.images.items():
            out[index] = _decode(data)
        for index, url in self.urls.items():
            resp = await client.get(url)
            resp.raise_for_status()
            out[index] = _decode(resp.content)
        return out


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def generate(provider: Any, call: Any, sink: CollectingSink, timeout: float = 10.0) -> Any:
    """One adapter call over real HTTP (a fresh client), as the core makes it: its CallOutcome."""
    import asyncio

    async def go() -> Any:
        async with httpx.AsyncClient(timeout=timeout) as http:
            return await provider.generate(call, http, sink)

    return asyncio.run(go())
