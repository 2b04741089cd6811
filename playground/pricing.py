"""Price table, estimates and actual cost.

One table, per provider and model, in USD per billing unit (an image, or a megapixel of
output for fal). Users override it with PLAYGROUND_PRICES: a path to a JSON file, or
inline JSON, shaped {"provider/model": 0.03} or {"provider/model": {"usd": 0.03, "unit":
"megapixel"}}. A model id missing from the table gets the provider's default price,
clearly marked as an estimate.

Cost of a run = images billed x price (per-megapixel prices x megapixels of each image);
a baseline run costs the sum of its calls. Providers that report a cost (OpenAI bills
tokens) override the table for the actual cost; the estimate still comes from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Price:
    usd: float  # per unit
    source: str  # where the figure comes from
    unit: str = "image"  # "image" or "megapixel"
    estimated: bool = False  # True when the model is not in the table

    def per_image(self, size: str) -> float:
        if self.unit == "megapixel":
            return round(self.usd * megapixels(size), 6)
        return self.usd


# (provider, model) -> Price. ("provider", "*") is that provider's fallback for unknown ids.
PRICES: dict[tuple[str, str], Price] = {
    ("local", "*"): Price(0.0, "offline stand-in, free"),
    ("local", "procedural-v1"): Price(0.0, "offline stand-in, free"),
}


def register_prices(entries: Mapping[tuple[str, str], Price]) -> None:
    """Provider modules add their entries here at import, so the table lives beside the protocol."""
    PRICES.update(entries)


def megapixels(size: str) -> float:
    try:
        w, _, h = size.lower().replace("*", "x").partition("x")
        return int(w) * int(h) / 1_000_000
    except ValueError:
        return 1.0  # sizes such as "2K" or "auto": assume about one megapixel per image


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


def price_for(provider: str, model: str, overrides: Mapping[tuple[str, str], Price] | None = None) -> Price:
    table = {**PRICES, **(overrides or {})}
    if (provider, model) in table:
        return table[(provider, model)]
    fallback = table.get((provider, "*"))
    if fallback is None:
        return Price(0.0, f"no price known for {provider}/{model}: cost shown as 0", estimated=True)
    return Price(fallback.usd, f"estimate: {model} not in the price table; {fallback.source}",
                 fallback.unit, estimated=True)


def run_cost(price: Price, size: str, images_billed: int) -> float:
    return round(images_billed * price.per_image(size), 6)
