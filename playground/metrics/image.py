"""Frames as the metrics see them: decoded at a working size, as RGB arrays and in CIELAB."""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image

ImageSource = pathlib.Path | str | Image.Image  # a frame's file, or the image itself


WORK_SIDE = 256  # every frame is scored on a copy whose longest side is this


# sRGB (D65) -> XYZ, and the D65 white point, for the CIELAB conversion
_RGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]],
    dtype=np.float32,
)


_D65_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


_SRGB_TO_LINEAR = np.where(
    np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92, ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4
).astype(np.float32)


def load_frame(frame: ImageSource, side: int = WORK_SIDE) -> np.ndarray:
    """An RGB uint8 array whose longest side is at most `side`.

    Decoding dominates for large files: a JPEG we open ourselves decodes at reduced size
    (`draft`); then an integer box reduction and a final antialiased resize. A caller's
    Image is never modified."""
    if isinstance(frame, Image.Image):
        image = frame
    else:
        image = Image.open(frame)
        image.draft("RGB", (side, side))
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGBA" if image.mode in ("P", "PA", "LA") else "RGB")
    width, height = image.size
    scale = side / max(width, height)
    if scale < 1:
        factor = int(1 / scale / 2)  # keep 2x headroom so the last resize still smooths
        if factor >= 2:
            image = image.reduce(factor)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image.convert("RGB"))


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L in [0, 100], a and b roughly [-100, 100]) of an RGB uint8 array."""
    linear = _SRGB_TO_LINEAR[rgb]
    xyz = linear @ _RGB_TO_XYZ.T / _D65_WHITE
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def resize_array(array: np.ndarray, side: int) -> np.ndarray:
    """A float array (H, W) or (H, W, C) resized so that its longest side is `side`."""
    height, width = array.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    channels = [array] if array.ndim == 2 else [array[..., c] for c in range(array.shape[2])]
    resized = [
        np.asarray(Image.fromarray(c.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))
        for c in channels
    ]
    return resized[0] if array.ndim == 2 else np.stack(resized, axis=-1)
