"""`local`: the offline stand-in. Not a model: it draws frames procedurally with Pillow so
the whole pipeline (request, frames on disk, cost, log, metrics, UI) runs with no key and
no network.

In one `sequence` call the character (body shape, colours, outfit, hat) is drawn from the
call's prompt and seed, and every frame shows that same character in a different pose and
setting, captioned with the frame's beat. A `baseline` run is N separate calls, and each
call draws its own character from its own prompt, seed and call index: the character
drifts the way independent generations drift. Same inputs, same pixels.

A reference image holds the character, as it does for the models a chain stands in for: a
frame the stand-in drew carries its character in a PNG text chunk, and a call whose first
reference has one draws that character again (a `chain` run keeps frame 1's character); any
other reference image gives a character of its own, the same for every call that sends it.
"""

from __future__ import annotations

import asyncio
import colorsys
import dataclasses
import hashlib
import io
import json
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from playground.base.pricing import Price
from playground.base.types import CallOutcome, ModelInfo, ProviderCall, ReferenceImage
from playground.providers.base import FrameSink, Provider

SIZES = ("512x512", "768x768", "1024x1024", "1536x1024", "1024x1536", "2048x2048")


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


@dataclass(frozen=True)
class Character:
    body: str  # "round", "square", "tall"
    outfit: tuple[int, int, int]
    trim: tuple[int, int, int]
    skin: tuple[int, int, int]
    hat: str  # "none", "cone", "cap", "crown"
    hat_colour: tuple[int, int, int]

    @classmethod
    def draw_from(cls, rng: random.Random) -> Character:
        hue = rng.random()
        return cls(
            body=rng.choice(("round", "square", "tall")),
            outfit=_hsv(hue, 0.75, 0.85),
            trim=_hsv(hue + 0.5, 0.6, 0.95),
            skin=_hsv(0.07 + rng.uniform(-0.03, 0.04), rng.uniform(0.25, 0.6), rng.uniform(0.55, 0.95)),
            hat=rng.choice(("none", "cone", "cap", "crown")),
            hat_colour=_hsv(hue + rng.uniform(0.2, 0.4), 0.8, 0.9),
        )


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except Exception:  # Pillow built without FreeType: the bitmap font still captions
        return ImageFont.load_default()


def _parse_size(size: str) -> tuple[int, int]:
    w, _, h = size.lower().replace("*", "x").partition("x")
    return int(w), int(h)


def _background(w: int, h: int, rng: random.Random) -> Image.Image:
    sky_top, sky_bottom = _hsv(rng.random(), 0.45, 0.95), _hsv(rng.random(), 0.3, 0.75)
    gradient = Image.linear_gradient("L").resize((w, h))
    image = Image.composite(Image.new("RGB", (w, h), sky_bottom), Image.new("RGB", (w, h), sky_top), gradient)
    draw = ImageDraw.Draw(image)
    horizon = int(h * rng.uniform(0.6, 0.75))
    draw.rectangle((0, horizon, w, h), fill=_hsv(rng.random(), 0.5, 0.55))
    for _ in range(rng.randint(2, 5)):  # props of the setting: hills, houses, trees
        x, size = rng.uniform(0, w), rng.uniform(0.06, 0.18) * w
        colour = _hsv(rng.random(), 0.5, rng.uniform(0.4, 0.8))
        kind = rng.choice(("hill", "house", "tree"))
        if kind == "hill":
            draw.ellipse((x - size * 2, horizon - size, x + size * 2, horizon + size), fill=colour)
        elif kind == "house":
            draw.rectangle((x - size / 2, horizon - size, x + size / 2, horizon), fill=colour)
            draw.polygon(
                [(x - size * 0.6, horizon - size), (x, horizon - size * 1.6), (x + size * 0.6, horizon - size)],
                fill=_hsv(rng.random(), 0.6, 0.5),
            )
        else:
            draw.rectangle((x - size * 0.08, horizon - size, x + size * 0.08, horizon), fill=(110, 80, 50))
            draw.ellipse((x - size * 0.5, horizon - size * 1.8, x + size * 0.5, horizon - size * 0.8), fill=colour)
    return image


def _draw_character(
    draw: ImageDraw.ImageDraw, c: Character, cx: float, ground: float, scale: float, pose: random.Random
) -> None:
    body_w, body_h = {"round": (0.9, 1.0), "square": (1.0, 1.0), "tall": (0.7, 1.4)}[c.body]
    bw, bh, head = 160 * scale * body_w, 200 * scale * body_h, 70 * scale
    top = ground - 150 * scale - bh
    for side in (-1, 1):  # legs, then arms at a pose-dependent angle
        draw.line(
            (cx + side * bw * 0.25, top + bh * 0.9, cx + side * bw * (0.25 + pose.uniform(0, 0.3)), ground),
            fill=c.trim,
            width=int(22 * scale),
        )
        arm_y = top + bh * 0.3
        draw.line(
            (
                cx + side * bw * 0.45,
                arm_y,
                cx + side * bw * pose.uniform(0.7, 1.1),
                arm_y + pose.uniform(-1, 1) * bh * 0.5,
            ),
            fill=c.skin,
            width=int(20 * scale),
        )
    box = (cx - bw / 2, top, cx + bw / 2, top + bh)
    if c.body == "round":
        draw.ellipse(box, fill=c.outfit, outline=c.trim, width=int(8 * scale))
    else:
        draw.rounded_rectangle(box, radius=int(30 * scale), fill=c.outfit, outline=c.trim, width=int(8 * scale))
    draw.rectangle((cx - bw / 2, top + bh * 0.55, cx + bw / 2, top + bh * 0.65), fill=c.trim)  # belt
    hx, hy = cx + pose.uniform(-0.1, 0.1) * bw, top - head * 0.9
    draw.ellipse((hx - head, hy - head, hx + head, hy + head), fill=c.skin)
    for side in (-1, 1):
        draw.ellipse(
            (hx + side * head * 0.4 - 9 * scale, hy - 12 * scale, hx + side * head * 0.4 + 9 * scale, hy + 6 * scale),
            fill=(30, 30, 40),
        )
    if c.hat == "cone":
        draw.polygon(
            [(hx - head * 0.8, hy - head * 0.6), (hx, hy - head * 2.2), (hx + head * 0.8, hy - head * 0.6)],
            fill=c.hat_colour,
        )
    elif c.hat == "cap":
        draw.chord((hx - head, hy - head * 1.3, hx + head, hy + head * 0.2), 180, 360, fill=c.hat_colour)
    elif c.hat == "crown":
        pts = (
            [(hx - head * 0.8, hy - head * 0.7)]
            + [(hx - head * 0.8 + i * head * 0.4, hy - head * (1.6 if i % 2 == 0 else 1.1)) for i in range(5)]
            + [(hx + head * 0.8, hy - head * 0.7)]
        )
        draw.polygon(pts, fill=c.hat_colour)


def _caption(image: Image.Image, text: str) -> None:
    if not text:
        return
    w, h = image.size
    font = _font(max(14, h // 28))
    draw = ImageDraw.Draw(image)
    bar = h // 11
    draw.rectangle((0, h - bar, w, h), fill=(20, 20, 28))
    draw.text((w // 40, h - bar + bar // 4), text[:90], fill=(245, 245, 245), font=font)


def render_frame(character: Character, size: str, setting_seed: str, caption: str) -> bytes:
    """Draw one frame and return PNG bytes (fast compression: frames are re-read, not archived)."""
    w, h = _parse_size(size)
    setting = _rng("setting", setting_seed)
    image = _background(w, h, setting)
    scale = min(w, h) / 1024 * setting.uniform(0.8, 1.3)
    ground = h * setting.uniform(0.78, 0.86)
    _draw_character(ImageDraw.Draw(image), character, w * setting.uniform(0.25, 0.75), ground, scale, setting)
    _caption(image, caption)
    info = PngImagePlugin.PngInfo()
    info.add_text(CHARACTER_CHUNK, json.dumps(dataclasses.asdict(character)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1, pnginfo=info)
    return buffer.getvalue()


CHARACTER_CHUNK = "playground-character"  # the PNG text chunk a stand-in frame carries its character in


def character_of(reference: ReferenceImage) -> Character:
    """The character a reference image holds: the one a stand-in frame carries, else one drawn
    from the image's hash."""
    try:
        with Image.open(io.BytesIO(reference.data)) as image:
            text = getattr(image, "text", {}).get(CHARACTER_CHUNK)
        fields = json.loads(text) if text else None
        if isinstance(fields, dict):
            values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
            return Character(**values)
    except (OSError, ValueError, TypeError):
        pass  # not a stand-in frame: its hash stands for its character
    return Character.draw_from(_rng("character", reference.sha256))


class LocalProvider(Provider):
    name = "local"
    label = "Local (offline stand-in, not a model)"
    models = (
        ModelInfo(
            id="procedural-v1",
            label="Procedural stand-in (offline)",
            native_sequence=True,
            max_frames=15,
            sizes=SIZES,
            default_size="1024x1024",
            max_references=14,
            takes_seed=True,
            frames_plus_references_max=15,
            price=Price(0.0, "offline stand-in, free"),
        ),
    )
    fallback_price = Price(0.0, "offline stand-in, free")
    listing_order = 0
    max_concurrency = 2  # drawing is CPU-bound: two cores here
    protocol = "in-process, no network"
    billing_rule = "free"
    accepts_custom_models = False

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        character = (
            character_of(call.references[0])
            if call.references
            else Character.draw_from(_rng("character", call.prompt, call.seed, call.call_index))
        )
        for i in range(call.frames):
            caption = call.beats[i] if i < len(call.beats) else ""
            frame_key = f"{call.prompt}|{call.seed}|{call.first_frame + i}|{caption}"
            png = await asyncio.to_thread(render_frame, character, call.size, frame_key, caption)
            await sink.image(i, png)
        return CallOutcome(
            request_id=f"local-{call.call_index}", images_billed=call.frames, cost_rule="free", seed_sent=call.seed
        )


ADAPTER = LocalProvider
