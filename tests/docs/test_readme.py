"""The README documents every environment variable the code reads, and its two commands."""

from __future__ import annotations

from playground.base.config import ENV_VARS
from playground.providers import provider_class, provider_names
from support.paths import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_configuration_table_lists_every_variable() -> None:
    names = set(ENV_VARS)
    for name in provider_names():
        cls = provider_class(name)
        names.update(v for v in (cls.key_env, cls.base_url_env) if v)
    missing = sorted(n for n in names if f"`{n}`" not in README)
    assert not missing, f"README configuration table misses {missing}"


def test_two_commands_and_ci_use_the_same_test_command() -> None:
    assert "python -m pip install -r requirements.txt && python app.py" in README
    assert "bash scripts/test.sh" in README
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nbash scripts/test.sh" in ci
