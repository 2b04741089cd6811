"""Price table, estimates and actual cost.

Each adapter declares its prices beside its protocol (`ModelInfo.price`,
`Provider.fallback_price`), in USD per billing unit (an image, or a megapixel of output for
fal). Users override them with PLAYGROUND_PRICES: a path to a JSON file, or inline JSON,
shaped {"provider/model": 0.03} or {"provider/model": {"usd": 0.03, "unit": "megapixel"}}.
A model id missing from the table gets the provider's fallback price, clearly marked as an
estimate.

Cost of a run = images billed x price (per-megapixel prices x megapixels of each image);
a baseline run costs the sum of its calls. Providers that report a cost (OpenAI bills
tokens) override the table for the actual cost; the estimate still comes from here.

Two figures per image: `per_image` (typical: what the estimate shows) and `most_per_image`
(the most one image can cost at that size: what the spend caps and confirmations check).
They differ where a parameter we do not send decides the price (GPT image models choose
their quality, `auto`, and high costs 4x medium) or where billing rounds up (fal's
megapixels [guess]). A token-billed model also declares its text input rate: the worst case
counts every UTF-8 byte of the prompt as one input token (a token covers at least one byte).
An override in PLAYGROUND_PRICES is the owner's figure for both.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

SizeTable = tuple[tuple[str, float], ...]  # ("WxH", USD per image) pairs, from a provider's price page

# The largest size the shape check lets through (16384 a side): the worst case of a
# per-megapixel price when the size names no pixels ("auto", an unknown preset).
LARGEST_PIXELS = 16384 * 16384


@dataclass(frozen=True)
class Price:
    usd: float  # per unit, typical
    source: str  # where the figure comes from
    unit: str = "image"  # "image" or "megapixel"
    estimated: bool = False  # True when the model is not in the table
    # An "image" price quoted for this size and scaled by area for other sizes (token-billed
    # models whose published per-image prices grow with the pixels); None = one price any size.
    quoted_for: tuple[int, int] | None = None
    by_size: SizeTable = ()  # typical price per listed size (a size not listed: the dearest one)
    # -- the worst case (None / empty: the typical figures are also the most an image costs)
    most: float | None = None  # the most per unit; with `quoted_for` it grows with the area, never shrinks
    most_by_size: SizeTable = ()  # the most per listed size (a size not listed: the dearest one)
    most_for_unknown: tuple[int, int] | None = None  # the pixels a size without pixels ("auto") may get
    most_source: str = ""
    text_in_per_mtok: float = 0.0  # USD per million input text tokens (token-billed models)
    # reference images of a token-billed model (OpenAI's edits): USD per million image input tokens,
    # and the tokens one reference of REFERENCE_QUOTE pixels costs, typical and at most (the most
    # grows with a larger reference's area, never shrinks: reference_usd)
    image_in_per_mtok: float = 0.0
    reference_tokens: int = 0
    reference_tokens_most: int = 0

    def per_image(self, size: str) -> float:
        if self.unit == "megapixel":
            return round(self.usd * megapixels(size), 6)
        if self.by_size:
            return _table(self.by_size, size)
        dims = dimensions(size) if self.quoted_for else None
        if dims and self.quoted_for:
            return round(self.usd * dims[0] * dims[1] / (self.quoted_for[0] * self.quoted_for[1]), 6)
        return self.usd

    def most_per_image(self, size: str) -> float:
        """The most one image of this size can cost: never less than the typical price."""
        typical = self.per_image(size)
        if self.unit == "megapixel":
            dims = dimensions(size)
            pixels = dims[0] * dims[1] if dims else LARGEST_PIXELS
            return max(typical, round((self.most or self.usd) * math.ceil(pixels / 1_000_000 - 1e-9), 6))
        if self.most_by_size:
            return max(typical, _table(self.most_by_size, size))
        if self.most is None:
            return typical
        if not self.quoted_for:
            return max(typical, self.most)
        dims = dimensions(size) or self.most_for_unknown or self.quoted_for
        area = dims[0] * dims[1] / (self.quoted_for[0] * self.quoted_for[1])
        return max(typical, round(self.most * max(1.0, area), 6))


def _table(table: SizeTable, size: str) -> float:
    """The table's price for `size`; a size it does not list ("auto", another WxH) costs the dearest."""
    return dict(table).get(size.lower(), max(usd for _, usd in table))


def parse_wh(size: str) -> tuple[int, int] | None:
    """(w, h) from "WxH" / "W*H"; None for "2K", "auto", presets."""
    w, sep, h = size.lower().replace("*", "x").partition("x")
    if not sep:
        return None
    try:
        return int(w), int(h)
    except ValueError:
        return None


def k_size_px(size: str) -> int | None:
    """ "1K".."4K" -> 1024..4096 (square); None otherwise."""
    s = size.strip().upper()
    if len(s) == 2 and s[0] in "1234" and s[1] == "K":
        return int(s[0]) * 1024
    return None


def dimensions(size: str) -> tuple[int, int] | None:
    """The pixels a size string asks for, read as the adapters send it: "WxH"/"W*H", "nK" ->
    (n x 1024) squared; None for "auto" and unknowns (a provider's named sizes are read by
    Provider.priced_size before a price sees them)."""
    k = k_size_px(size)
    return (k, k) if k else parse_wh(size)


def megapixels(size: str) -> float:
    dims = dimensions(size)
    if dims is None:
        return 1.0  # "auto" or a size we cannot read: assume about one megapixel per image
    return dims[0] * dims[1] / 1_000_000


def load_overrides(spec: str) -> dict[tuple[str, str], Price]:
    """Parse PLAYGROUND_PRICES (a path or inline JSON)."""
    if not spec.strip():
        return {}
    text = spec if spec.lstrip().startswith("{") else Path(spec).read_text(encoding="utf-8")
    raw = json.loads(text)
    out: dict[tuple[str, str], Price] = {}
    for key, value in raw.items():
        provider, _, model = key.partition("/")
        if isinstance(value, Mapping):
            out[(provider, model or "*")] = Price(float(value["usd"]), "user override", value.get("unit", "image"))
        else:
            out[(provider, model or "*")] = Price(float(value), "user override")
    return out


_SNAPSHOT = re.compile(r"^(.+)-(\d{4}-\d{2}-\d{2})$")


def snapshot_base(model: str) -> str | None:
    """ "gpt-image-1.5-2025-12-16" -> "gpt-image-1.5": a dated snapshot of a listed model is
    priced like it; None when the id carries no date suffix."""
    match = _SNAPSHOT.match(model)
    return match.group(1) if match else None


def price_for(
    provider: str,
    model: str,
    listed: Mapping[str, Price],
    fallback: Price | None,
    overrides: Mapping[tuple[str, str], Price] | None = None,
) -> Price:
    """The price of `model`: the owner's override, then the provider's listed price (`listed`: its
    models' class attributes), then a dated snapshot of a listed model priced like it, then the
    override for (provider, "*"), then the provider's `fallback` marked as an estimate."""
    overrides = overrides or {}
    table = {**{m: p for m, p in listed.items()}, **{m: p for (name, m), p in overrides.items() if name == provider}}
    if model in table:
        return table[model]
    base = snapshot_base(model)
    if base and base in table:
        price = table[base]
        return replace(price, source=f"{model} is a dated snapshot of {base}: {price.source}")
    fallback = table.get("*", fallback)
    if fallback is None:
        return Price(0.0, f"no price known for {provider}/{model}: cost shown as 0", estimated=True)
    return replace(fallback, source=f"estimate: {model} not in the price table; {fallback.source}", estimated=True)


def run_cost(price: Price, size: str, images_billed: int) -> float:
    return round(images_billed * price.per_image(size), 6)


REFERENCE_QUOTE = (1024, 1024)  # the reference size Price.reference_tokens are quoted for


def reference_usd(price: Price, dims: tuple[int, int], most: bool = False) -> float:
    """What one reference image of `dims` pixels costs as input (0 where the price has no image
    input rate: a per-image price covers its references). At most: the worst tokens scaled up
    by the area past REFERENCE_QUOTE (never down)."""
    tokens = price.reference_tokens_most if most else price.reference_tokens
    if not tokens or not price.image_in_per_mtok:
        return 0.0
    scale = max(1.0, dims[0] * dims[1] / (REFERENCE_QUOTE[0] * REFERENCE_QUOTE[1])) if most else 1.0
    return tokens * scale * price.image_in_per_mtok / 1_000_000


def largest_size(price: Price) -> tuple[int, int]:
    """The most pixels an image of this price may have when its size has none ("auto"): the
    largest size its tables list, else the size it allows for an unknown one."""
    listed = [d for d in (dimensions(s) for s, _ in (*price.by_size, *price.most_by_size)) if d]
    if listed:
        return max(listed, key=lambda d: d[0] * d[1])
    return price.most_for_unknown or price.quoted_for or REFERENCE_QUOTE


def most_cost(
    price: Price, size: str, images: int, prompt: str = "", references: Sequence[tuple[int, int]] = ()
) -> float:
    """The most one call can cost: `images` at the worst price of their size, plus the prompt's
    input tokens at most (one per UTF-8 byte) and its reference images (their pixels) at most,
    for a token-billed model."""
    prompt_usd = len(prompt.encode("utf-8", "surrogatepass")) * price.text_in_per_mtok / 1_000_000
    references_usd = sum(reference_usd(price, dims, most=True) for dims in references)
    return round(images * price.most_per_image(size) + prompt_usd + references_usd, 6)
