"""The Hub sync tests' plugin and helpers: the `hub` fixture (the stand-in of
support/hub_standin.py with huggingface_hub pointed at it), the settings of a syncing writer
and a few local runs to sync."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from playground.core import Playground
from support.faults import run
from support.hub_standin import HubStandIn, point_library_at

REPO_ID = "team/playground-runs"
WAIT_S = 60.0  # an upper bound for events on a loaded machine, never a sleep


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubStandIn]:
    """The stand-in, with the library's import-time endpoint constants pointed at it."""
    with HubStandIn() as server:
        point_library_at(server.url, monkeypatch)
        yield server


def hub_env(hub: HubStandIn, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PLAYGROUND_HUB_DATASET": REPO_ID,
        "HF_TOKEN": hub.token or "",
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        **extra,
    }


def local_runs(pg: Playground, n: int, tag: str, mode: str = "sequence") -> list[str]:
    return [run(pg, provider="local", frames=2, mode=mode, prompt=f"{tag} fox {i}").record.run_id for i in range(n)]
