"""The launched app's public API is exactly the documented endpoints (no accidental ones)."""

from __future__ import annotations

import httpx


def test_public_endpoints_are_the_documented_ones(app_url: str) -> None:
    info = httpx.get(app_url + "gradio_api/info", timeout=30).json()
    assert sorted(info["named_endpoints"]) == ["/analysis", "/compare", "/generate", "/open_run"]
    assert not info.get("unnamed_endpoints")
