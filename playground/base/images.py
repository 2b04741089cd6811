"""Images checked before they count: every frame, reference and import is decoded whole.

Pillow's decompression-bomb protection stays on and is strict: an image over
MAX_IMAGE_PIXELS is refused (Pillow alone only warns up to twice the limit).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from PIL import Image

Image.MAX_IMAGE_PIXELS = 64_000_000  # 8000x8000: above any provider's output; bombs raise
PREVIEW_SIDE = 640  # gallery previews: web-sized, the originals stay on disk
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}
UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


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
    return decode(data, keep=False)[0]


def decode(data: bytes | Path, keep: bool = True) -> tuple[str, Image.Image | None]:
    """Decode every byte of `data`; the extension and (keep) an RGB copy for the preview. A JPEG
    decodes at preview scale (`draft`): its whole stream is still read and checked, so a
    truncated file still fails, at a third of the CPU; the preview then needs no second decode."""
    source = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with open_checked(source) as image:
            image.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))
            image.load()
            fmt = image.format or ""
            picture = image.convert("RGB") if keep and fmt in EXTENSIONS else None
    except UNREADABLE as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None
    if fmt not in EXTENSIONS:
        raise ValueError(f"unsupported image format {fmt or 'unknown'}")
    return EXTENSIONS[fmt], picture
