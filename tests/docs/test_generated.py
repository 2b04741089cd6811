"""The tables written from the code (present/catalog.py: providers, billing rules, configuration;
the conformance requirements from tests/support/cases.py) are as the code is now:
`bash scripts/docs.sh` regenerates them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.paths import REPO

GENERATED = ["README.md", "tests/conformance/requirements.txt"]


def test_the_generated_tables_are_up_to_date() -> None:
    pytest.importorskip("cogapp")
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "-I", ".", "-I", "tests", *GENERATED],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"run `bash scripts/docs.sh`: {done.stdout[-2000:]}{done.stderr[-2000:]}"


def test_a_table_changes_with_the_adapter() -> None:
    from playground.present import catalog
    from playground.providers import provider_class

    table = catalog.provider_table()
    byteplus = provider_class("byteplus")
    assert f"`{byteplus.default_model()}`" in table and f"`{byteplus.key_env}`" in table
    assert f"${byteplus.models[0].price.usd:g}" in table  # type: ignore[union-attr]
