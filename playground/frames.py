"""Frames on disk: checked downloads, decoded bytes, previews and reference images.

Every frame is checked by decoding it as an image before it counts; a download streams to
a `.part` file with a size cap and is renamed only once it is whole and valid, so a
partial file is never left behind as if it were a frame. Pillow's decompression-bomb
protection stays on (MAX_IMAGE_PIXELS, errors at twice the limit).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import httpx
from PIL import Image, ImageOps

from playground.errors import InputError, ProviderError
from playground.types import ReferenceImage

Image.MAX_IMAGE_PIXELS = 64_000_000  # 8000x8000: above any provider's output; bombs raise
PREVIEW_SIDE = 640  # gallery previews: web-sized, the originals stay on disk
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}
MAX_REFERENCE_BYTES = 10 * 1024 * 1024  # Seedream's documented per-image limit
MAX_REFERENCES = 14


def check_image(data: bytes) -> str:
    """Decode `data` fully; return its file extension or raise ValueError."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            fmt = image.format or ""
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    if fmt not in _EXTENSIONS:
        raise ValueError(f"unsupported image format {fmt or 'unknown'}")
    return _EXTENSIONS[fmt]


def save_frame(run_dir: Path, number: int, data: bytes) -> Path:
    """Check and write frame `number` (1-based) as frame_NN.<ext>, keeping the original bytes."""
    ext = check_image(data)
    path = run_dir / f"frame_{number:02d}.{ext}"
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)
    return path


async def download_frame(client: httpx.AsyncClient, url: str, run_dir: Path, number: int,
                         max_bytes: int, timeout_s: float = 120.0) -> Path:
    """Stream a result URL to disk with a size cap, then check it decodes as an image."""
    if not url.lower().startswith(("http://", "https://")):
        raise ProviderError("malformed", f"frame {number}: refused to download a non-http(s) URL")
    buffer = bytearray()
    try:
        async with client.stream("GET", url, timeout=timeout_s) as response:
            if response.status_code != 200:
                raise ProviderError("server", f"frame {number}: download failed with HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise ProviderError("malformed", f"frame {number}: {declared} bytes exceeds the {max_bytes}-byte cap")
            async for chunk in response.aiter_bytes():
                buffer += chunk
                if len(buffer) > max_bytes:
                    raise ProviderError("malformed", f"frame {number}: download exceeds the {max_bytes}-byte cap")
    except httpx.TimeoutException:
        raise ProviderError("timeout", f"frame {number}: download timed out") from None
    except httpx.TransportError as exc:
        raise ProviderError("network", f"frame {number}: download failed ({type(exc).__name__})") from None
    try:
        return save_frame(run_dir, number, bytes(buffer))
    except ValueError as exc:
        raise ProviderError("malformed", f"frame {number}: {exc}") from None


def make_preview(frame: Path, side: int = PREVIEW_SIDE) -> Path:
    """A small WebP beside the frame for the gallery (a 2K PNG is several MB)."""
    preview = frame.with_name(frame.stem + ".preview.webp")
    with Image.open(frame) as image:
        image.draft("RGB", (side, side))  # JPEG decodes at reduced scale: much faster
        image = image.convert("RGB")
        image.thumbnail((side, side))
        image.save(preview, format="WEBP", quality=80, method=0)
    return preview


def load_reference(path: Path) -> ReferenceImage:
    """Check a reference image, apply EXIF orientation and re-encode it as PNG for upload."""
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(f"reference image {path.name}: cannot be read") from None
    if size > MAX_REFERENCE_BYTES * 4:
        raise InputError(f"reference image {path.name}: {size // 1_000_000} MB is too large")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
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
    else:
        mime = "image/png"
    return ReferenceImage(data=data, mime=mime, sha256=hashlib.sha256(data).hexdigest(),
                          width=image.width, height=image.height)
