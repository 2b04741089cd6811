"""The launched app's public API is exactly the typed endpoints (no accidental ones); the old
names stay callable, out of the listing."""

from __future__ import annotations

import httpx

TYPED = ["/compare", "/report", "/run", "/runs", "/vote"]


def test_public_endpoints_are_the_typed_ones(app_url: str) -> None:
    info = httpx.get(app_url + "gradio_api/info", timeout=30).json()
    assert sorted(info["named_endpoints"]) == TYPED
    assert not info.get("unnamed_endpoints")
    run = [p["parameter_name"] for p in info["named_endpoints"]["/run"]["parameters"]]
    assert run == ["prompt", "beats", "frames", "provider", "model", "mode", "seed", "size"]
