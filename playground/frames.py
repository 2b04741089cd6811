"""Frames on disk: checked downloads, decoded bytes, previews and reference images.

Every frame is checked by decoding it as an image before it counts; a download streams to
a `.part` file with a size cap and an overall deadline, and is renamed only once it is
whole and valid, so a partial file is never left behind as if it were a frame (a failed
download deletes its `.part`; a frame whose file or preview cannot be written, say on a full
disk, is removed with its `.part`). Pillow's decompression-bomb protection stays on and is
strict: an image over MAX_IMAGE_PIXELS is refused (Pillow alone only warns up to twice
the limit).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from pathlib import Path
from typing import IO

import httpx
from PIL import Image, ImageOps

from playground.errors import InputError, ProviderError
from playground.types import ReferenceImage

Image.MAX_IMAGE_PIXELS = 64_000_000  # 8000x8000: above any provider's output; bombs raise
PREVIEW_SIDE = 640  # gallery previews: web-sized, the originals stay on disk
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}
MAX_REFERENCE_BYTES = 10 * 1024 * 1024  # Seedream's documented per-image limit
MAX_REFERENCE_FILE_BYTES = 40_000_000  # the file as uploaded, before re-encoding
MAX_REFERENCES = 14  # the most any provider accepts (Seedream)
DOWNLOAD_TIMEOUT_S = 120.0  # one frame, start to end (a slow drip cannot hold a run)
_UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def open_checked(source: Path | IO[bytes]) -> Image.Image:
    """Image.open with the pixel limit as a hard error. (Pillow raises only above twice the
    limit and warns below; the warnings filter is process-global, so check the size here.)"""
    image = Image.open(source)
    width, height = image.size
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        image.close()
        raise Image.DecompressionBombError(f"{width}x{height} pixels is over the {Image.MAX_IMAGE_PIXELS} limit")
    return image


def check_image(data: bytes | Path) -> str:
    """Decode `data` (bytes or a file) fully; return its file extension or raise ValueError."""
    return _decode(data, keep=False)[0]


def _decode(data: bytes | Path, keep: bool = True) -> tuple[str, Image.Image | None]:
    """Decode every byte of `data`; the extension and (keep) an RGB copy for the preview. A JPEG
    decodes at preview scale (`draft`): its whole stream is still read and checked, so a
    truncated file still fails, at a third of the CPU; the preview then needs no second decode."""
    source = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with open_checked(source) as image:
            image.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))
            image.load()
            fmt = image.format or ""
            picture = image.convert("RGB") if keep and fmt in _EXTENSIONS else None
    except _UNREADABLE as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    if fmt not in _EXTENSIONS:
        raise ValueError(f"unsupported image format {fmt or 'unknown'}")
    return _EXTENSIONS[fmt], picture


def _frame_path(run_dir: Path, number: int, ext: str) -> Path:
    return run_dir / f"frame_{number:02d}.{ext}"


def save_frame(run_dir: Path, number: int, data: bytes) -> Path:
    """Check and write frame `number` (1-based) as frame_NN.<ext>, keeping the original bytes,
    and its preview from the same decode."""
    ext, picture = _decode(data)
    path = _frame_path(run_dir, number, ext)
    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
        _write_preview(picture, path)  # type: ignore[arg-type]
    except BaseException:
        _remove_frame(path)
        raise
    finally:
        part.unlink(missing_ok=True)  # already renamed on success; a leftover is never a frame
    return path


def _remove_frame(path: Path) -> None:
    """A frame that could not be completely written (disk full, ...) is not a frame of the run:
    remove it and any preview started for it, so nothing on disk disagrees with the log."""
    for leftover in (path, _preview_path(path)):
        try:
            leftover.unlink(missing_ok=True)
        except OSError:
            pass


async def download_frame(client: httpx.AsyncClient, url: str, run_dir: Path, number: int,
                         max_bytes: int, timeout_s: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Stream a result URL to `frame_NN.part` with a size cap and a deadline, check that it
    decodes as an image, then rename it to its frame name. Any failure removes the .part."""
    if not url.lower().startswith(("http://", "https://")):
        raise ProviderError("malformed", f"frame {number}: refused to download a non-http(s) URL")
    part = run_dir / f"frame_{number:02d}.part"
    try:
        async with asyncio.timeout(timeout_s):
            await _stream_to(client, url, part, number, max_bytes)
        try:
            ext, picture = await asyncio.to_thread(_decode, part)
        except ValueError as exc:
            raise ProviderError("malformed", f"frame {number}: {exc}") from None
        path = _frame_path(run_dir, number, ext)
        try:
            os.replace(part, path)
            await asyncio.to_thread(_write_preview, picture, path)  # type: ignore[arg-type]
        except Exception:  # (not on cancel: the preview's thread may still be writing)
            _remove_frame(path)
            raise
        return path
    except TimeoutError:
        raise ProviderError("timeout", f"frame {number}: download took over {timeout_s:g} s") from None
    except httpx.TimeoutException:
        raise ProviderError("timeout", f"frame {number}: download timed out") from None
    except httpx.TransportError as exc:
        raise ProviderError("network", f"frame {number}: download failed ({type(exc).__name__})") from None
    finally:
        part.unlink(missing_ok=True)  # already renamed on success; a leftover is never a frame


async def _stream_to(client: httpx.AsyncClient, url: str, part: Path, number: int, max_bytes: int) -> None:
    async with client.stream("GET", url, follow_redirects=False) as response:
        if response.status_code != 200:
            raise ProviderError("server", f"frame {number}: download failed with HTTP {response.status_code}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ProviderError("malformed", f"frame {number}: {int(declared)} bytes exceeds the {max_bytes}-byte "
                                "cap (PLAYGROUND_MAX_DOWNLOAD_MB)")
        received = 0
        with open(part, "wb") as out:
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_bytes:  # a missing or false content-length is caught here
                    raise ProviderError("malformed", f"frame {number}: download passed the {max_bytes}-byte cap "
                                        "(PLAYGROUND_MAX_DOWNLOAD_MB)")
                out.write(chunk)


def _preview_path(frame: Path) -> Path:
    return frame.with_name(frame.stem + ".preview.webp")


def _write_preview(picture: Image.Image, frame: Path, side: int = PREVIEW_SIDE) -> Path:
    preview = _preview_path(frame)
    picture.thumbnail((side, side))
    picture.save(preview, format="WEBP", quality=80, method=0)
    return preview


def make_preview(frame: Path, side: int = PREVIEW_SIDE) -> Path:
    """A small WebP beside the frame for the gallery (a 2K PNG is several MB). save_frame and
    download_frame already wrote it from their own decode: kept unless the frame is newer."""
    preview = _preview_path(frame)
    if side == PREVIEW_SIDE and preview.exists() and preview.stat().st_mtime_ns >= frame.stat().st_mtime_ns:
        return preview
    with Image.open(frame) as image:
        image.draft("RGB", (side, side))  # JPEG decodes at reduced scale: much faster
        return _write_preview(image.convert("RGB"), frame, side)


def load_reference(path: Path) -> ReferenceImage:
    """Check a reference image, apply EXIF orientation and re-encode it as PNG for upload."""
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(f"reference image {path.name}: cannot be read") from None
    if size > MAX_REFERENCE_FILE_BYTES:
        raise InputError(f"reference image {path.name}: {size / 1e6:.1f} MB is over the "
                         f"{MAX_REFERENCE_FILE_BYTES // 1_000_000} MB limit")
    try:
        with open_checked(path) as image:
            fmt = image.format or "unknown"
            if fmt not in _EXTENSIONS:
                raise InputError(f"reference image {path.name}: {fmt} is not accepted; use "
                                 f"{', '.join(_EXTENSIONS)}")
            image = ImageOps.exif_transpose(image).convert("RGB")  # orientation applied, metadata dropped
    except _UNREADABLE:
        raise InputError(f"reference image {path.name}: not a readable image") from None
    if min(image.size) <= 14:
        raise InputError(f"reference image {path.name}: sides must be over 14 pixels")
    image.thumbnail((4096, 4096))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    data = buffer.getvalue()
    if len(data) > MAX_REFERENCE_BYTES:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        data, mime = buffer.getvalue(), "image/jpeg"
        if len(data) > MAX_REFERENCE_BYTES:
            raise InputError(f"reference image {path.name}: still over {MAX_REFERENCE_BYTES // 2**20} MB after "
                             "re-encoding; use a smaller image")
    else:
        mime = "image/png"
    return ReferenceImage(data=data, mime=mime, sha256=hashlib.sha256(data).hexdigest(),
                          width=image.width, height=image.height)
