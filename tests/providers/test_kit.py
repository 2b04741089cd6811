"""The provider kit is complete: every provider is an adapter module, an emulator module and one
entry in tests/support/cases.py (and an SDK conformance test where it names an SDK). A provider
added in part fails here, with the missing part named (docs/adding-a-provider.md)."""

from __future__ import annotations

import importlib
import re

import pytest

from emulator.server import provider_modules
from playground.providers import ADAPTERS, provider_class, provider_names
from support.cases import CASES
from support.paths import REPO

NETWORK = [name for name in provider_names() if provider_class(name).base_url_env]
EVIDENCE = re.compile(r"\[(doc|sdk|3p|guess)\b")


def test_every_network_provider_has_a_case_and_every_case_a_provider() -> None:
    assert set(CASES) == set(NETWORK), "add the provider's entry to tests/support/cases.py (or remove a stale one)"


@pytest.mark.parametrize("name", provider_names())
def test_the_adapter_module_is_named_as_its_provider_and_declares_it(name: str) -> None:
    module = importlib.import_module(f"{ADAPTERS}.{name}")
    cls = module.ADAPTER
    assert cls.name == name and cls.label and cls.protocol and cls.billing_rule
    assert EVIDENCE.search(module.__doc__ or "") or name == "local", (
        "the adapter's docstring marks its wire facts as [doc ...], [sdk ...], [3p] or [guess]"
    )


@pytest.mark.parametrize("name", provider_names())
def test_every_listed_model_has_a_price_with_its_source_and_the_provider_a_fallback(name: str) -> None:
    cls = provider_class(name)
    assert cls.fallback_price is not None and cls.fallback_price.source
    for model in cls.models:
        assert model.price is not None and model.price.source, f"{name}/{model.id} has no price"


@pytest.mark.parametrize("name", NETWORK)
def test_every_network_provider_has_an_emulator_module(name: str) -> None:
    modules = provider_modules()
    assert name in modules, f"add emulator/providers/{name}.py"
    module = modules[name]
    for attribute in ("PREFIX", "FIELDS", "MODELS", "error_body", "route"):
        assert hasattr(module, attribute), f"emulator/providers/{name}.py declares no {attribute}"


def test_every_emulator_module_stands_for_a_provider() -> None:
    assert set(provider_modules()) <= set(NETWORK)


@pytest.mark.parametrize("name", [n for n, case in CASES.items() if case.sdk])
def test_a_provider_with_an_official_sdk_has_its_conformance_test(name: str) -> None:
    assert (REPO / "tests" / "conformance" / f"test_{name}_sdk.py").is_file()


def test_the_listing_order_is_unambiguous() -> None:
    orders = [provider_class(n).listing_order for n in provider_names()]
    assert orders == sorted(orders)
