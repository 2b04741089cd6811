"""Reference images: checked, oriented (EXIF) and re-encoded before upload, within the
limits every provider documents."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import ImageOps

from playground.base.errors import InputError
from playground.base.images import EXTENSIONS, UNREADABLE, open_checked
from playground.base.types import ReferenceImage

MAX_REFERENCE_BYTES = 10 * 1024 * 1024  # Seedream's documented per-image limit


MAX_REFERENCE_FILE_BYTES = 40_000_000  # the file as uploaded, before re-encoding


MAX_REFERENCES = 14  # the most any provider accepts (Seedream)


def load_reference(path: Path) -> ReferenceImage:
    """Check a reference image, apply EXIF orientation and re-encode it as PNG for upload."""
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(f"reference image {path.name}: cannot be read") from None
    if size > MAX_REFERENCE_FILE_BYTES:
        raise InputError(
            f"reference image {path.name}: {size / 1e6:.1f} MB is over the "
            f"{MAX_REFERENCE_FILE_BYTES // 1_000_000} MB limit"
        )
    try:
        with open_checked(path) as image:
            fmt = image.format or "unknown"
            if fmt not in EXTENSIONS:
                raise InputError(f"reference image {path.name}: {fmt} is not accepted; use {', '.join(EXTENSIONS)}")
            image = ImageOps.exif_transpose(image).convert("RGB")  # orientation applied, metadata dropped
    except UNREADABLE:
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
            raise InputError(
                f"reference image {path.name}: still over {MAX_REFERENCE_BYTES // 2**20} MB after "
                "re-encoding; use a smaller image"
            )
    else:
        mime = "image/png"
    return ReferenceImage(
        data=data, mime=mime, sha256=hashlib.sha256(data).hexdigest(), width=image.width, height=image.height
    )


def frame_reference(path: Path) -> ReferenceImage:
    """A generated frame as a chain's reference: its own bytes when they are a PNG or JPEG within
    the reference limits (so every chained call carries frame 1 byte for byte), otherwise (WebP,
    too large) checked and re-encoded like a reference the user gave (load_reference)."""
    data = path.read_bytes()
    try:
        with open_checked(io.BytesIO(data)) as image:
            fmt, width, height = image.format, image.width, image.height
            image.load()
    except UNREADABLE:
        raise InputError(f"frame {path.name}: not a readable image") from None
    mime = {"PNG": "image/png", "JPEG": "image/jpeg"}.get(fmt or "")
    if mime is None or len(data) > MAX_REFERENCE_BYTES or min(width, height) <= 14 or max(width, height) > 4096:
        return load_reference(path)
    return ReferenceImage(data=data, mime=mime, sha256=hashlib.sha256(data).hexdigest(), width=width, height=height)
