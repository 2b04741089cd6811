"""The network providers' registration: names, env vars (providers.md is the contract),
model lists, prices with a fallback each, and docs/providers.md kept in step."""

from __future__ import annotations

import pytest

from playground.base import pricing
from playground.providers import provider_class, provider_names
from support.paths import REPO

ROOT = REPO

EXPECTED = {  # name: (key env, base url env, default base url, default model)
    "byteplus": ("ARK_API_KEY", "ARK_BASE_URL", "https://ark.ap-southeast.bytepluses.com/api/v3", "seedream-5-0-260128"),
    "evolink": ("EVOLINK_API_KEY", "EVOLINK_BASE_URL", "https://api.evolink.ai/v1", "doubao-seedream-5.0-lite"),
    "wavespeed": ("WAVESPEED_API_KEY", "WAVESPEED_BASE_URL", "https://api.wavespeed.ai/api/v3",
                  "bytedance/seedream-v5.0-lite/sequential"),
    "atlascloud": ("ATLASCLOUD_API_KEY", "ATLASCLOUD_BASE_URL", "https://api.atlascloud.ai/api/v1",
                   "bytedance/seedream-v4.5/sequential"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1", "gpt-image-1.5"),
    "stability": ("STABILITY_API_KEY", "STABILITY_BASE_URL", "https://api.stability.ai/v2beta", "sd3.5-large"),
    "fal": ("FAL_KEY", "FAL_QUEUE_URL", "https://queue.fal.run", "fal-ai/flux-pro/v1.1"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registered_with_the_contract_env_vars(name):
    assert name in provider_names()
    cls = provider_class(name)
    assert (cls.key_env, cls.base_url_env, cls.default_base_url, cls.default_model()) == EXPECTED[name]
    assert cls.protocol and cls.billing_rule and cls.label


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_model_has_a_price_and_the_provider_a_fallback(name):
    cls = provider_class(name)
    assert (name, "*") in pricing.PRICES
    for model in cls.models:
        price = pricing.price_for(name, model.id)
        assert not price.estimated and price.usd > 0 and price.source
    assert pricing.price_for(name, "some-new-model").estimated


def test_seedream_limits():
    for name in ("byteplus", "evolink"):
        for m in provider_class(name).models:
            assert (m.native_sequence, m.max_frames, m.max_references, m.frames_plus_references_max, m.takes_seed) == \
                   (True, 15, 14, 15, False)
    for name in ("wavespeed", "atlascloud"):
        for m in provider_class(name).models:
            assert m.native_sequence and not m.takes_seed
            assert m.max_references == (10 if "edit-sequential" in m.id else 0)
    assert [m.id for m in provider_class("byteplus").models] == [
        "seedream-5-0-260128", "seedream-4-5-251128", "seedream-4-0-250828"]


def test_single_image_models():
    for name in ("openai", "stability", "fal"):
        for m in provider_class(name).models:
            assert not m.native_sequence and m.max_frames == 1
    assert all(m.takes_seed for m in provider_class("fal").models)
    assert provider_class("stability").model("sd3.5-large").takes_seed
    assert [m.id for m in provider_class("fal").models] == ["fal-ai/flux-pro/v1.1", "fal-ai/flux-pro"]


def test_docs_table_lists_every_provider_and_variable():
    text = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    for name, (key, base, _, model) in EXPECTED.items():
        assert f"`{name}`" in text and key in text and base in text and model in text
