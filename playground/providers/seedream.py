"""Seedream (ByteDance) as the BytePlus-shaped APIs serve it: the limits every Seedream 4.x/5.x
model shares, and the request fields those APIs share (BytePlus, and the gateways that copy
its shape)."""

from __future__ import annotations

from typing import Any

from playground.base.types import ModelInfo, ProviderCall

# Seedream 4.0 / 4.5 / 5.0 Lite limits [doc]: up to 14 references, up to 15 images per call,
# references + generated <= 15. No seed. A template: each adapter's models copy it
# (dataclasses.replace) with their id, label and price.
SEEDREAM = ModelInfo(
    id="",
    label="",
    native_sequence=True,
    max_frames=15,
    max_references=14,
    frames_plus_references_max=15,
    takes_seed=False,
    default_size="2048x2048",
)


def seedream_body(call: ProviderCall) -> dict[str, Any]:
    """The Seedream fields shared by BytePlus-shaped APIs."""
    body: dict[str, Any] = {"model": call.model, "prompt": call.prompt, "size": call.size}
    if call.references:
        urls = [r.data_url() for r in call.references]
        body["image"] = urls[0] if len(urls) == 1 else urls
    if call.frames > 1:
        body["sequential_image_generation"] = "auto"
        body["sequential_image_generation_options"] = {"max_images": call.frames}
    else:
        body["sequential_image_generation"] = "disabled"
    body["response_format"] = "url"
    body["watermark"] = False
    return body
