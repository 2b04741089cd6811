"""Price table, overrides, estimates and run cost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from playground.base import pricing
from playground.base.config import Settings
from playground.base.errors import SpendCapError
from playground.base.types import GenerationRequest
from playground.core import Playground
from playground.providers.adapters.local import LocalProvider


def test_run_cost_is_images_billed_times_price() -> None:
    price = pricing.Price(0.035, "seed")
    assert pricing.run_cost(price, "2048x2048", 4) == pytest.approx(0.14)
    assert pricing.run_cost(price, "2048x2048", 10_000) == pytest.approx(350.0)


def test_megapixel_prices_scale_with_size() -> None:
    price = pricing.Price(0.04, "fal", unit="megapixel")
    assert price.per_image("1024x1024") == pytest.approx(0.04 * 1.048576)
    assert pricing.run_cost(price, "1000x1000", 3) == pytest.approx(0.12)


def test_unknown_model_falls_back_to_a_marked_estimate() -> None:
    price = pricing.price_for(
        "acme", "acme-9000", {"acme-1": pricing.Price(0.01, "listed")}, pricing.Price(0.02, "acme list price")
    )
    assert price.estimated and price.usd == 0.02 and "estimate" in price.source


def test_overrides_from_inline_json_and_file(tmp_path: Path) -> None:
    inline = pricing.load_overrides('{"local/procedural-v1": 0.5}')
    assert LocalProvider.price("procedural-v1", inline).usd == 0.5
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"local": {"usd": 0.25}}))
    assert LocalProvider.price("other", pricing.load_overrides(str(path))).usd == 0.25


def test_priced_offline_run_logs_estimate_and_actual(data_dir: Path) -> None:
    pg = Playground(Settings.from_env(env={"PLAYGROUND_PRICES": '{"local/procedural-v1": 0.035}'}, data_dir=data_dir))
    request = pg.resolve(GenerationRequest(prompt="A fox", frames=4))
    assert pg.estimate(request).usd == pytest.approx(0.14)
    baseline = asyncio.run(pg.run(GenerationRequest(prompt="A fox", frames=4, mode="baseline"))).record
    assert baseline.estimate_usd == pytest.approx(0.14) and baseline.cost_usd == pytest.approx(0.14)
    assert baseline.images_billed == 4 and baseline.price_per_image_usd == pytest.approx(0.035)
    assert baseline.price_source == "user override"


def test_per_run_cap_refuses_before_sending(data_dir: Path) -> None:
    env = {"PLAYGROUND_PRICES": '{"local/procedural-v1": 0.035}', "PLAYGROUND_MAX_USD_PER_RUN": "0.1"}
    pg = Playground(Settings.from_env(env=env, data_dir=data_dir))
    with pytest.raises(SpendCapError, match="PLAYGROUND_MAX_USD_PER_RUN"):
        asyncio.run(pg.run(GenerationRequest(prompt="A fox", frames=4)))
    row = pg.log.read().iloc[0]
    assert row["status"] == "error" and int(row["api_calls"]) == 0 and not any(data_dir.glob("runs/*/frame_*"))
