"""Every file or folder of this repository the README and docs/ name exists (a path such as
`playground/store/runlog.py`, `tests/core/test_plan.py` or a link to docs/x.md), so the docs
follow the code when it moves."""

from __future__ import annotations

import re

import pytest

from support.paths import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# a repository path: a top-level folder of ours, then path characters (a glob or a placeholder stops it)
PATH = re.compile(
    r"(?<![\w./-])((?:playground|emulator|bench|tests|docs|scripts|presets|experiments)/[\w./-]*[\w/])(?![\w./<>*{}-])"
)


def named_paths(text: str) -> set[str]:
    return {m.group(1).rstrip("/.") for m in PATH.finditer(text) if not re.search(r"[*<>{}]", m.group(1))}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_path_named_in_the_docs_exists(doc) -> None:
    text = doc.read_text(encoding="utf-8")
    missing = sorted(p for p in named_paths(text) if not (REPO / p).exists())
    assert not missing, f"{doc.name} names {missing}"
