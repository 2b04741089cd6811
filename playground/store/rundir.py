"""The run folder, DATA_DIR/runs/<run_id>/: the one place that knows its file names.

    frame_NN.<ext>          a frame, the original bytes as received (NN from 01, gaps where a frame failed)
    frame_NN.preview.webp   its web-sized preview (the gallery shows these)
    frame_NN.part           a download in progress: never a frame
    exports/                ZIP, sheet and GIF made from the run

A frame file is written under a `.part` name and renamed once whole and valid, so a partial
file is never left behind as if it were a frame; a frame whose file or preview cannot be
written (a full disk) is removed with its `.part`, so nothing on disk disagrees with the log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from playground.base.images import PREVIEW_SIDE, decode
from playground.base.types import Frame

RUNS = "runs"  # DATA_DIR/runs/<run_id>/: every run's folder


def run_folder(data_dir: Path, run_id: str) -> Path:
    return Path(data_dir) / RUNS / run_id


def frame_path(run_dir: Path, number: int, ext: str) -> Path:
    return run_dir / f"frame_{number:02d}.{ext}"


def part_path(run_dir: Path, number: int) -> Path:
    """Where frame `number` is downloaded to before it is checked."""
    return run_dir / f"frame_{number:02d}.part"


def commit_frame(part: Path, run_dir: Path, number: int, ext: str, picture: Image.Image) -> Path:
    """Rename a checked download to its frame name and write its preview (from the decode that
    checked it); on failure neither is left (not on cancel: the caller's thread may still write)."""
    path = frame_path(run_dir, number, ext)
    try:
        os.replace(part, path)
        write_preview(picture, path)
    except Exception:
        remove_frame(path)
        raise
    return path


def save_frame(run_dir: Path, number: int, data: bytes) -> Path:
    """Check and write frame `number` (1-based) as frame_NN.<ext>, keeping the original bytes,
    and its preview from the same decode."""
    ext, picture = decode(data)
    path = frame_path(run_dir, number, ext)
    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
        write_preview(picture, path)  # type: ignore[arg-type]
    except BaseException:
        remove_frame(path)
        raise
    finally:
        part.unlink(missing_ok=True)  # already renamed on success; a leftover is never a frame
    return path


def remove_frame(path: Path) -> None:
    """A frame that could not be completely written (disk full, ...) is not a frame of the run:
    remove it and any preview started for it, so nothing on disk disagrees with the log."""
    for leftover in (path, preview_path(path)):
        try:
            leftover.unlink(missing_ok=True)
        except OSError:
            pass


def preview_path(frame: Path) -> Path:
    return frame.with_name(frame.stem + ".preview.webp")


def write_preview(picture: Image.Image, frame: Path, side: int = PREVIEW_SIDE) -> Path:
    preview = preview_path(frame)
    picture.thumbnail((side, side))
    picture.save(preview, format="WEBP", quality=80, method=0)
    return preview


def make_preview(frame: Path, side: int = PREVIEW_SIDE) -> Path:
    """A small WebP beside the frame for the gallery (a 2K PNG is several MB). save_frame and
    download_frame already wrote it from their own decode: kept unless the frame is newer."""
    preview = preview_path(frame)
    if side == PREVIEW_SIDE and preview.exists() and preview.stat().st_mtime_ns >= frame.stat().st_mtime_ns:
        return preview
    with Image.open(frame) as image:
        image.draft("RGB", (side, side))  # JPEG decodes at reduced scale: much faster
        return write_preview(image.convert("RGB"), frame, side)


FRAME_NAME = re.compile(r"^frame_(\d+)\.(png|jpg|webp|gif|bmp|tiff)$")


def frame(path: Path, number: int, beats: Sequence[str] = ()) -> Frame:
    """The typed frame of a frame file: its preview when one was written, its beat as caption."""
    preview = preview_path(path)
    caption = beats[number - 1] if 0 < number <= len(beats) else ""
    return Frame(number, path, preview if preview.exists() else None, caption)


def stored_frames(run_dir: Path, beats: Sequence[str] = ()) -> list[Frame]:
    """The run's frames in frame order (previews and unfinished .part files are not frames),
    captioned with their beats."""
    found = []
    for path in run_dir.glob("frame_*.*") if run_dir.is_dir() else []:
        match = FRAME_NAME.match(path.name)
        if match:
            found.append(frame(path, int(match.group(1)), beats))
    return sorted(found, key=lambda f: f.number)


def first_preview(run_dir: Path) -> Path | None:
    """The preview of the run's first frame (History's thumbnail), or None: never an original."""
    frames = stored_frames(run_dir)
    return frames[0].preview if frames and frames[0].preview else None
