"""Where one run's frames land: `RunSink` saves, downloads and previews every frame of a run;
each provider call sees it through a `CallSink` that maps call-local frame indices to run
indices. `Progress` is what a live view gets after each frame.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from playground.base.errors import ProviderError
from playground.base.types import Frame, ProviderCall
from playground.core.download import download_frame
from playground.store.rundir import make_preview, save_frame


@dataclass
class Progress:
    """What a live view needs after each frame: frames so far, in run order."""

    frames_done: int
    frames_requested: int
    elapsed_s: float
    frames: list[Frame]  # in run order, captioned with their beats
    note: str = ""


ProgressCallback = Callable[[Progress], None]


class RunSink:
    """Collects one run's frames from every call: saves, downloads and previews them.

    A frame that cannot be saved, whatever the reason (not an image, a failed download, a
    full disk), becomes that frame's entry in `errors` and the run goes on; a live view whose
    callback raises is noted in `progress_error` and never costs a frame. Nothing raised
    here may escape into the run: every run must end as its one row."""

    def __init__(
        self,
        run_dir: Path,
        max_download_bytes: int,
        requested: int,
        started: float,
        on_progress: ProgressCallback | None,
        beats: Sequence[str] = (),
    ) -> None:
        self.run_dir, self.max_download_bytes = run_dir, max_download_bytes
        self.client: httpx.AsyncClient | None = None  # set once the run's client is open
        self.requested, self.started, self.on_progress = requested, started, on_progress
        self.beats = list(beats)  # the frames' captions
        self.frames: dict[int, Frame] = {}  # by 0-based index in the run
        self.errors: dict[int, str] = {}
        self.first_frame_s: float | None = None
        self.downloads: list[asyncio.Task[None]] = []
        self.progress_error = ""
        # frames a call handed over (saved, or being downloaded): the first one of an index stays
        self.claimed: set[int] = set()
        self.outside: list[int] = []  # frame numbers (call-local, from 1) a call was not asked for: ignored
        self.duplicates: list[int] = []  # run indexes handed over twice (the later ones ignored)
        self.fetching: dict[int, asyncio.Task[None]] = {}  # run index -> its download (a chain waits on it)

    async def landed(self, index: int) -> Frame | None:
        """Frame `index` once its call has ended and its download (if any) is over: None when it
        did not come back."""
        task = self.fetching.get(index)
        if task is not None:
            await asyncio.wait({task})
        return self.frames.get(index)

    async def stop_downloads(self) -> None:
        for task in self.downloads:
            task.cancel()
        await asyncio.gather(*self.downloads, return_exceptions=True)

    def call_failed(self, call: ProviderCall, reason: str) -> None:
        """A failed call: its frames not delivered (or failed) before get the call's reason."""
        for j in range(call.frames):
            self.errors.setdefault(call.first_frame + j, reason)

    def for_call(self, call: ProviderCall) -> CallSink:
        return CallSink(self, call.first_frame, call.frames)

    def claim(self, index: int, frames: int, first: int) -> int | None:
        """The run index of a call's frame `index`, once: None (noted) for an index the call did
        not ask for or one it handed over already, so no more frames land than were asked for
        and two answers never race for one file."""
        if not 0 <= index < frames:
            self.outside.append(index + 1)
            return None
        if first + index in self.claimed:
            self.duplicates.append(first + index)
            return None
        self.claimed.add(first + index)
        return first + index

    def delivery_note(self) -> str:
        """What was ignored of what the provider handed over (empty when nothing was)."""
        notes = []
        if self.outside:
            notes.append(
                f"ignored {len(self.outside)} frame(s) outside those asked for (frame {_listed(self.outside)} "
                "of a call)"
            )
        if self.duplicates:
            notes.append(
                f"ignored {len(self.duplicates)} duplicate frame(s) (frame {_listed([i + 1 for i in self.duplicates])} "
                "sent again; the first one was kept)"
            )
        return "; ".join(notes)

    async def store(self, index: int, data: bytes) -> None:
        if len(data) > self.max_download_bytes:  # a frame sent inline is held to the download cap
            self.errors[index] = (
                f"frame {index + 1}: {len(data)} bytes passes the {self.max_download_bytes}-byte "
                "cap (PLAYGROUND_MAX_DOWNLOAD_MB); not saved"
            )
            return
        try:
            frame = await asyncio.to_thread(save_frame, self.run_dir, index + 1, data)
            await self._add(index, frame)
        except ValueError as exc:  # not a readable image
            self.errors[index] = f"frame {index + 1}: {exc}"
        except Exception as exc:
            self.errors[index] = _not_saved(index, exc)

    async def fetch(self, index: int, url: str) -> None:
        assert self.client is not None, "downloads start only once the run's client is open"
        try:
            frame = await download_frame(self.client, url, self.run_dir, index + 1, self.max_download_bytes)
            await self._add(index, frame)
        except ProviderError as exc:
            self.errors[index] = str(exc)
        except Exception as exc:
            self.errors[index] = _not_saved(index, exc)

    async def _add(self, index: int, path: Path) -> None:
        preview = await asyncio.to_thread(make_preview, path)
        if self.first_frame_s is None:
            self.first_frame_s = time.perf_counter() - self.started
        caption = self.beats[index] if index < len(self.beats) else ""
        self.frames[index] = Frame(index + 1, path, preview, caption)
        self.errors.pop(index, None)
        self.notify()

    def notify(self, note: str = "") -> None:
        """Tell the live view (if any). Its failure is the view's problem, not the run's."""
        if not self.on_progress:
            return
        done = [self.frames[i] for i in sorted(self.frames)]
        try:
            self.on_progress(Progress(len(done), self.requested, time.perf_counter() - self.started, done, note))
        except Exception as exc:
            self.progress_error = self.progress_error or (
                f"the live progress view failed ({type(exc).__name__}: {exc}); the run went on without it"
            )


def _listed(numbers: list[int], most: int = 5) -> str:
    shown = ", ".join(str(n) for n in sorted(set(numbers))[:most])
    return shown + (", …" if len(set(numbers)) > most else "")


def _not_saved(index: int, exc: Exception) -> str:
    """A frame lost to something other than the provider: a full disk, a bug of ours."""
    return f"frame {index + 1}: could not be saved ({type(exc).__name__}: {exc})"


class CallSink:
    """The FrameSink one provider call sees: call-local indices mapped to run indices, each index
    taken once and only within the frames the call asked for (RunSink.claim)."""

    def __init__(self, run: RunSink, first: int, frames: int) -> None:
        self.run, self.first, self.frames = run, first, frames

    async def image(self, index: int, data: bytes) -> None:
        target = self.run.claim(index, self.frames, self.first)
        if target is not None:
            await self.run.store(target, data)

    async def url(self, index: int, url: str) -> None:
        target = self.run.claim(index, self.frames, self.first)
        if target is not None:
            task = asyncio.create_task(self.run.fetch(target, url))
            self.run.downloads.append(task)
            self.run.fetching[target] = task

    async def failed(self, index: int, reason: str) -> None:
        if 0 <= index < self.frames and self.first + index not in self.run.claimed:
            self.run.errors[self.first + index] = reason

    async def progress(self, fraction: float, note: str = "") -> None:
        self.run.notify(note)
