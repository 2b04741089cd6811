"""Sizes for the APIs that take an aspect ratio and a size class instead of pixels (Stability,
Gemini, the Replicate models): a WxH read as the documented ratio nearest to it, and as the
nearest "1K"/"2K"/"4K" class."""

from __future__ import annotations

import math
from collections.abc import Sequence

from playground.base.pricing import dimensions, k_size_px, parse_wh


def nearest_ratio(size: str, ratios: Sequence[str]) -> str | None:
    """The ratio of `ratios` ("W:H") nearest to a WxH size (smallest |log(w/h) - log(ratio)|);
    None when `size` is not a WxH."""
    wh = parse_wh(size)
    if not wh or wh[0] <= 0 or wh[1] <= 0:
        return None
    target = math.log(wh[0] / wh[1])

    def distance(ratio: str) -> float:
        a, b = (int(x) for x in ratio.split(":"))
        return abs(math.log(a / b) - target)

    return min(ratios, key=distance)


def size_class(size: str, classes: Sequence[str] = ("1K", "2K", "4K")) -> str | None:
    """The smallest class of `classes` that has about the pixels of `size` (at least 80% of its
    area; "1K" is 1024x1024 pixels, "2K" 2048x2048, "4K" 4096x4096), else the largest: a
    1920x1080 asks for 2K, 1344x768 for 1K. "nK" itself when listed; None for "auto" or a size
    without pixels."""
    if size.strip().upper() in classes:
        return size.strip().upper()
    dims = dimensions(size)
    if dims is None or dims[0] <= 0 or dims[1] <= 0:
        return None
    ranked = sorted(classes, key=lambda name: k_size_px(name) or 0)
    return next((name for name in ranked if (k_size_px(name) or 0) ** 2 >= 0.8 * dims[0] * dims[1]), ranked[-1])
