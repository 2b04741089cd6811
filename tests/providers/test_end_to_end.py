"""End to end per provider: the core (and once the CLI) against the emulator, base URLs and
fake keys from the environment; frames on disk and the runs.csv row checked, billing
rule included."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.base.types import GenerationRequest
from playground.core import Playground
from support.cases import CASES
from support.paths import REPO

ROOT = REPO


def csv_rows(data_dir: Path) -> list[dict[str, str]]:
    with open(data_dir / "runs.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def frames_on_disk(run_dir: Path) -> list[Path]:
    """The frames themselves (the core keeps web previews beside them as *.preview.*)."""
    return sorted(p for p in run_dir.glob("frame_*") if ".preview" not in p.name and not p.name.endswith(".part"))


def run_core(env: dict[str, str], data_dir: Path, **fields):
    pg = Playground(Settings.from_env(env=env, data_dir=data_dir))
    fields.setdefault("prompt", "a red fox in a blue scarf walks through town")
    return asyncio.run(pg.run(GenerationRequest(**fields)))


def table_price(provider: str, size: str) -> float:
    from playground.providers import provider_class

    cls = provider_class(provider)
    return cls.price(cls.default_model()).per_image(size)


@pytest.mark.parametrize("provider,mode", [(p, m) for p, case in CASES.items() for m in case.modes])
def test_run_through_the_core(emulator, tmp_path, provider, mode):
    case = CASES[provider]
    data_dir = tmp_path / "data"
    result = run_core(emulator.env(), data_dir, provider=provider, mode=mode, frames=4, size=case.size, seed=case.seed)
    record = result.record
    assert record.status == "ok", record.error
    files = frames_on_disk(data_dir / "runs" / record.run_id)
    assert [f.stem for f in files] == ["frame_01", "frame_02", "frame_03", "frame_04"]
    for f in files:
        with Image.open(f) as im:
            assert im.size == tuple(int(x) for x in case.size.split("x"))
    row = csv_rows(data_dir)[-1]
    assert row["run_id"] == record.run_id and row["status"] == "ok" and row["provider"] == provider
    assert int(row["frames_returned"]) == 4 and int(row["images_billed"]) == 4
    ids = json.loads(row["request_ids"])
    assert len(ids) == (1 if mode == "sequence" else 4) and len(set(ids)) == len(ids)
    assert int(row["api_calls"]) == len(ids)
    assert row["cost_source"] == case.cost_source
    if case.cost_source == "price table":
        assert float(row["cost_usd"]) == pytest.approx(4 * table_price(provider, case.size), abs=1e-5)
    else:  # reported by the provider (per provider below): never above what the caps checked
        assert 0 < float(row["cost_usd"]) <= float(row["max_cost_usd"]) + 1e-9
    assert row["seed_sent"] == ("" if case.seed is None else str(case.seed))
    sent = [r for r in emulator.requests if r.provider == provider and r.method in ("POST",)]
    assert len(sent) == len(ids)


def test_fal_reports_the_megapixels_of_its_output(emulator, tmp_path):
    """fal bills megapixels of output: reported from images[].width x height."""
    record = run_core(
        emulator.env(), tmp_path / "data", provider="fal", mode="baseline", frames=4, size="512x384"
    ).record
    assert record.cost_source == "reported"
    assert record.cost_usd == pytest.approx(4 * table_price("fal", "512x384"), abs=1e-6)


def test_openai_reports_the_cost_of_its_usage_tokens(emulator, tmp_path):
    record = run_core(
        emulator.env(), tmp_path / "data", provider="openai", mode="baseline", frames=4, size="1024x1024"
    ).record
    prompts_sent = [r.json["prompt"] for r in emulator.requests_for("openai", "POST")]
    # the emulator's usage: 1056 image output tokens at $32/M, 96 text output tokens at $10/M
    expected = sum((max(1, len(p) // 4) * 5.0 + 1056 * 32.0 + 96 * 10.0) / 1e6 for p in prompts_sent)
    assert record.cost_source == "reported" and record.cost_usd == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("provider", [p for p, case in CASES.items() if case.partial])
def test_partial_sequences_bill_by_the_provider_rule(emulator, tmp_path, provider):
    """BytePlus bills usage.generated_images, EvoLink settles on images generated, WaveSpeed bills
    max_images requested, AtlasCloud like WaveSpeed [guess]: each case names what it expects."""
    fault, returned, billed = CASES[provider].partial  # type: ignore[misc]
    emulator.set_fault(provider, fault, n=2)
    data_dir = tmp_path / "data"
    record = run_core(emulator.env(), data_dir, provider=provider, mode="sequence", frames=4, size="256x256").record
    row = csv_rows(data_dir)[-1]
    assert row["status"] == "partial" and int(row["frames_returned"]) == returned
    assert int(row["images_billed"]) == billed
    assert float(row["cost_usd"]) == pytest.approx(billed * table_price(provider, "256x256"), abs=1e-5)
    if fault == "refused":
        assert "OutputImageSensitiveContentDetected" in json.loads(row["frame_errors"])["2"]
    assert record.run_id == row["run_id"]


def test_fal_run_is_billed_on_the_megapixels_it_returned(emulator, tmp_path):
    emulator.image_size = (2048, 1024)  # larger than asked: the bill follows the output
    data_dir = tmp_path / "data"
    record = run_core(emulator.env(), data_dir, provider="fal", mode="baseline", frames=3, size="1024x1024").record
    assert record.status == "ok" and record.cost_source == "reported"
    assert record.cost_usd == pytest.approx(3 * 2.097152 * 0.04, abs=1e-6)
    assert record.estimate_usd == pytest.approx(3 * 1.048576 * 0.04, abs=1e-6)  # the estimate priced what was asked


def test_fal_reported_cost_follows_a_price_override(emulator, tmp_path):
    """PLAYGROUND_PRICES reaches the adapters that compute a cost themselves, not only the estimate."""
    env = {**emulator.env(), "PLAYGROUND_PRICES": '{"fal/fal-ai/flux-pro/v1.1": {"usd": 0.1, "unit": "megapixel"}}'}
    record = run_core(env, tmp_path / "data", provider="fal", mode="baseline", frames=2, size="1000x500").record
    assert record.status == "ok" and record.cost_source == "reported"
    assert record.cost_usd == pytest.approx(2 * 0.5 * 0.1, abs=1e-6) == pytest.approx(record.estimate_usd, abs=1e-6)


def test_fal_preset_size_runs_and_is_priced_by_its_pixels(emulator, tmp_path):
    data_dir = tmp_path / "data"
    record = run_core(emulator.env(), data_dir, provider="fal", mode="baseline", frames=2, size="landscape_16_9").record
    assert record.status == "ok", record.error
    assert emulator.requests_for("fal", "POST")[-1].json["image_size"] == "landscape_16_9"
    assert record.estimate_usd == pytest.approx(2 * 1024 * 576 / 1e6 * 0.04, abs=1e-6)
    assert record.cost_usd == pytest.approx(2 * 1024 * 576 / 1e6 * 0.04, abs=1e-6)  # the emulator's 1024x576 output


def test_auth_failure_row_names_the_variable_not_the_key(emulator, tmp_path):
    env = {**emulator.env(), "ARK_API_KEY": "invalid-ark-key-123456789"}
    data_dir = tmp_path / "data"
    record = run_core(env, data_dir, provider="byteplus", mode="sequence", frames=3, size="256x256").record
    row = csv_rows(data_dir)[-1]
    assert row["status"] == "error" and "key rejected" in row["error"] and "ARK_API_KEY" in row["error"]
    text = (data_dir / "runs.csv").read_text(encoding="utf-8")
    assert "invalid-ark-key-123456789" not in text and record.images_billed == 0


def test_cli_run_against_the_emulator(emulator, tmp_path):
    env = {**os.environ, **emulator.env(), "PLAYGROUND_DATA_DIR": str(tmp_path / "data")}
    env.pop("PLAYGROUND_PRICES", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "playground",
            "run",
            "--provider",
            "byteplus",
            "--frames",
            "4",
            "--size",
            "256x256",
            "--prompt",
            "a lighthouse keeper's day",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "ok" and out["frames_returned"] == 4 and out["images_billed"] == 4
    assert out["cost_usd"] == pytest.approx(4 * 0.035)
    assert len(frames_on_disk(Path(out["image_dir"]))) == 4
    assert csv_rows(tmp_path / "data")[-1]["run_id"] == out["run_id"]


@pytest.mark.parametrize(
    "provider, rule",
    [("wavespeed", "max_images requested"), ("byteplus", "usage.generated_images"), ("fal", "megapixel")],
)
def test_the_row_records_the_billing_rule_it_applied(emulator, tmp_path, provider, rule):
    mode = "baseline" if provider == "fal" else "sequence"
    record = run_core(
        emulator.env(), tmp_path / "data", provider=provider, mode=mode, frames=2, size="1024x1024"
    ).record
    assert record.status == "ok", record.error
    assert rule in record.billing_rule and rule in csv_rows(tmp_path / "data")[-1]["billing_rule"]


def test_an_unknown_byteplus_model_is_a_clear_not_found_row(emulator, tmp_path):
    record = run_core(
        emulator.env(),
        tmp_path / "data",
        provider="byteplus",
        model="seedream-does-not-exist",
        mode="sequence",
        frames=2,
        size="1024x1024",
    ).record
    assert record.status == "error" and "does not exist or is not activated" in record.error
    assert record.frames_returned == 0 and record.cost_usd == 0
