"""The frames the emulator serves: real images drawn with Pillow, cached."""

from __future__ import annotations

import colorsys
import io
from functools import lru_cache

from PIL import Image, ImageDraw


@lru_cache(maxsize=96)
def render_image(width: int, height: int, fmt: str, variant: int) -> bytes:
    """A cheap real image: flat colour, a rectangle, a circle; `variant` changes colours/placement.
    Variants 64 and up add photo-like grain, so files weigh what real 2K frames weigh (benchmarks)."""
    hue = (variant * 0.137) % 1.0
    bg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.45, 0.9))
    fg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.8, 0.6))
    image = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(image)
    u = min(width, height)
    x = int(width * (0.15 + 0.1 * (variant % 5)))
    draw.rectangle((x, height // 2, x + u // 4, height // 2 + u // 3), fill=fg)
    draw.ellipse((width // 2, u // 10, width // 2 + u // 4, u // 10 + u // 4), fill=(250, 250, 250))
    if variant >= 64:
        image = Image.blend(image, Image.effect_noise((width, height), 60).convert("RGB"), 0.3)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=85)
    elif fmt == "webp":  # OpenAI's output_format webp
        image.save(buffer, format="WEBP", quality=80)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
