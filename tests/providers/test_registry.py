"""The network providers' registration: names, env vars (the README's table is the contract),
model lists, prices with a fallback each, and the README's generated table kept in step."""

from __future__ import annotations

import pytest

from playground.providers import provider_class, provider_names
from support.cases import CASES
from support.paths import REPO

ROOT = REPO


@pytest.mark.parametrize("name", sorted(CASES))
def test_registered_with_the_contract_env_vars(name):
    assert name in provider_names()
    cls, case = provider_class(name), CASES[name]
    assert (cls.key_env, cls.base_url_env, cls.default_base_url, cls.default_model()) == (
        case.key_env,
        case.base_url_env,
        case.default_base_url,
        case.default_model,
    )
    assert cls.protocol and cls.billing_rule and cls.label


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_model_has_a_price_and_the_provider_a_fallback(name):
    cls = provider_class(name)
    assert cls.fallback_price is not None
    for model in cls.models:
        price = cls.price(model.id)
        assert not price.estimated and price.usd > 0 and price.source
    assert cls.price("some-new-model").estimated


def test_seedream_limits():
    for name in ("byteplus", "evolink"):
        for m in provider_class(name).models:
            assert (m.native_sequence, m.max_frames, m.max_references, m.frames_plus_references_max, m.takes_seed) == (
                True,
                15,
                14,
                15,
                False,
            )
    for name in ("wavespeed", "atlascloud"):
        for m in provider_class(name).models:
            assert m.native_sequence and not m.takes_seed
            assert m.max_references == (10 if "edit-sequential" in m.id else 0)
    assert [m.id for m in provider_class("byteplus").models] == [
        "seedream-5-0-260128",
        "seedream-4-5-251128",
        "seedream-4-0-250828",
    ]


def test_single_image_models():
    for name in ("openai", "stability"):
        for m in provider_class(name).models:
            assert not m.native_sequence and m.max_frames == 1
    flux = [m for m in provider_class("fal").models if "flux" in m.id]
    assert all(not m.native_sequence and m.max_frames == 1 for m in flux)
    assert all(m.takes_seed for m in provider_class("fal").models)
    assert provider_class("stability").model("sd3.5-large").takes_seed
    assert [m.id for m in flux] == ["fal-ai/flux-pro/v1.1", "fal-ai/flux-pro"]


def test_the_models_researchers_compare_declare_their_limits():
    """Issue 15: Seedream on fal (up to 6 a generation, up to 10 references through /edit),
    Gemini image models (a series from one prompt; 3 / 14 references), Replicate's schemas."""
    fal = {m.id: m for m in provider_class("fal").models}
    for version in ("v4", "v4.5"):
        for kind in ("text-to-image", "edit"):
            m = fal[f"fal-ai/bytedance/seedream/{version}/{kind}"]
            assert (m.native_sequence, m.max_frames, m.max_references, m.frames_plus_references_max) == (
                True,
                6,
                10,
                15,
            )
    gemini = {m.id: m for m in provider_class("gemini").models}
    assert [gemini[i].max_references for i in ("gemini-2.5-flash-image", "gemini-3-pro-image-preview")] == [3, 14]
    assert all(m.native_sequence and m.takes_seed for m in gemini.values())
    replicate = {
        m.id: (m.native_sequence, m.max_frames, m.max_references, m.takes_seed)
        for m in provider_class("replicate").models
    }
    assert replicate == {
        "bytedance/seedream-4": (True, 15, 10, False),
        "bytedance/seedream-4.5": (True, 15, 14, False),
        "google/nano-banana": (False, 1, 3, False),
        "black-forest-labs/flux-kontext-pro": (False, 1, 1, True),
        "black-forest-labs/flux-1.1-pro": (False, 1, 0, True),
    }


def test_readme_table_lists_every_provider_and_variable():
    text = (ROOT / "README.md").read_text(encoding="utf-8")  # the generated table (docs/providers.md links it)
    for name, case in CASES.items():
        assert f"`{name}`" in text and case.key_env in text and case.base_url_env in text and case.default_model in text
