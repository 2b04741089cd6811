"""The SDK conformance tests' helpers: import an official SDK or skip, small images, and a
field-by-field comparison of request bodies."""

from __future__ import annotations

import importlib
import os

import pytest


def sdk(module: str):
    """Import an official SDK, or skip (fail under CI=true, where requirements are installed)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the SDK module {module!r} is missing: {exc}")
        pytest.skip(
            f"official SDK {module!r} not installed (pip install -r tests/conformance/requirements.txt)",
            allow_module_level=True,
        )  # called at import time by the test modules


# -- shared helpers of the SDK tests (the Seedream family's; others may use them) --------------


def png_bytes(colour: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (32, 24)) -> bytes:
    """A small real PNG (a reference image)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def fetched_image(url: str):
    """The image a frame URL serves, decoded (raises when it is not an image)."""
    import io

    import httpx
    from PIL import Image

    resp = httpx.get(url, timeout=10)
    resp.raise_for_status()
    image = Image.open(io.BytesIO(resp.content))
    image.load()
    return image


def body_differences(adapter: dict, sdk: dict) -> dict[str, tuple]:
    """Field by field: {field: (adapter's value, SDK's value)} for every field whose value or JSON
    type differs, a field one side leaves out counting as `<absent>`."""
    absent = "<absent>"
    out: dict[str, tuple] = {}
    for name in sorted(set(adapter) | set(sdk)):
        a, s = adapter.get(name, absent), sdk.get(name, absent)
        if a != s or type(a) is not type(s):
            out[name] = (a, s)
    return out


def reference_image(colour: tuple[int, int, int] = (200, 40, 40), size: tuple[int, int] = (32, 24)):
    """A ReferenceImage as the core makes one (a small real PNG)."""
    import hashlib

    from playground.base.types import ReferenceImage

    data = png_bytes(colour, size)
    return ReferenceImage(
        data=data, mime="image/png", sha256=hashlib.sha256(data).hexdigest(), width=size[0], height=size[1]
    )
