"""The one interface every provider implements.

A provider maps a `ProviderCall` (already composed by the core) to its wire protocol and
hands each frame to the `FrameSink` as soon as it has it: bytes it decoded, or a URL the
core downloads (concurrently, with size cap and image check). It returns a `CallOutcome`
with ids and billing, or raises `ProviderError`. Baseline mode, timing, cost, storage and
logging are the core's job, not the provider's.
"""

from __future__ import annotations

import abc
import dataclasses
import os
from collections.abc import Mapping
from typing import ClassVar, Protocol

import httpx

from playground.base import pricing
from playground.base.errors import InputError
from playground.base.pricing import Price
from playground.base.types import CallOutcome, ModelInfo, ProviderCall


def check_size_limits(size: str, info: ModelInfo, where: str) -> None:
    """A WxH within the model's declared side, pixel and aspect limits (gpt-image-2)."""
    dims = pricing.dimensions(size)
    if dims is None or not (info.max_side or info.max_pixels or info.max_aspect):
        return
    w, h = dims
    if (
        (info.max_side and max(w, h) > info.max_side)
        or (info.max_pixels and w * h > info.max_pixels)
        or (info.max_aspect and max(w, h) > info.max_aspect * min(w, h))
    ):
        limits = [
            f"at most {info.max_side} px a side" if info.max_side else "",
            f"{info.max_pixels:,} pixels" if info.max_pixels else "",
            f"a ratio up to {info.max_aspect:g}:1" if info.max_aspect else "",
        ]
        raise InputError(f"size {size!r} is too large for {where}: {', '.join(x for x in limits if x)}")


class FrameSink(Protocol):
    """Receives a call's frames as they arrive. `index` is the frame's index within the call."""

    async def image(self, index: int, data: bytes) -> None: ...

    async def url(self, index: int, url: str) -> None: ...

    async def failed(self, index: int, reason: str) -> None: ...

    async def progress(self, fraction: float, note: str = "") -> None: ...


class Provider(abc.ABC):
    """Subclasses set the class attributes and implement `generate`."""

    name: ClassVar[str]
    label: ClassVar[str]
    key_env: ClassVar[str | None] = None  # None: needs no key
    base_url_env: ClassVar[str | None] = None
    default_base_url: ClassVar[str] = ""
    models: ClassVar[tuple[ModelInfo, ...]]
    max_concurrency: ClassVar[int] = 4  # concurrent calls per run/comparison to this provider
    protocol: ClassVar[str] = ""  # one line for the README's provider table
    billing_rule: ClassVar[str] = ""  # as each run's row records it (the billing_rule column)
    billing_details: ClassVar[str] = ""  # the rule at length with its evidence, for the tables (default: billing_rule)
    accepts_custom_models: ClassVar[bool] = True  # model ids change: let users type new ones
    # named sizes the protocol takes as they are (fal: square_hd, ...) and their pixels, which price them
    size_presets: ClassVar[Mapping[str, tuple[int, int]]] = {}
    model_id_segments: ClassVar[int] = 1  # '/'-separated segments a model id may have (core.plan.check_model_id)
    fallback_price: ClassVar[Price | None] = None  # the price of a model id not listed, shown as an estimate
    price_note: ClassVar[str] = ""  # how to read the listed prices, for the generated tables (e.g. "x max_images")
    listing_order: ClassVar[int] = 100  # where the provider shows in lists and tables (new ones come last)
    max_frame_bytes: int = 40 * 1024 * 1024  # the download cap per frame (the core sets PLAYGROUND_MAX_DOWNLOAD_MB)

    def __init__(self, base_url: str = "") -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        # PLAYGROUND_PRICES as the core parsed it, for adapters that compute a cost themselves
        # (fal: megapixels of output); the core sets it, the default is the listed prices.
        self.price_overrides: Mapping[tuple[str, str], Price] = {}

    @classmethod
    def model(cls, model_id: str) -> ModelInfo:
        """The model's info. An id the table does not know (ids change) takes the limits of its
        closest listed kin: the model whose last path segment is the same (".../edit-sequential"
        takes references like the listed edit-sequential models), the longest shared start
        breaking ties; with no such kin, the first model's, with references up to the provider's
        most (the provider has the last word on a model we cannot know)."""
        for info in cls.models:
            if info.id == model_id:
                return info
        kin = [m for m in cls.models if m.id.rsplit("/", 1)[-1] == model_id.rsplit("/", 1)[-1]]
        if kin:
            template = max(kin, key=lambda m: (not m.retired, len(os.path.commonprefix([m.id, model_id]))))
            references = template.max_references
        else:
            template, references = cls.models[0], max(m.max_references for m in cls.models)
        return dataclasses.replace(
            template,
            id=model_id,
            label=f"{model_id} (not in the model list)",
            max_references=references,
            retired=False,
            price=None,
            note="",
        )

    @classmethod
    def text_to_image_id(cls, model_id: str) -> str | None:
        """For a model that only edits (it needs a reference image in every call): its
        text-to-image twin; None for a model that does not need one."""
        return None

    @classmethod
    def price(cls, model: str, overrides: Mapping[tuple[str, str], Price] | None = None) -> Price:
        """The price of a model id: PLAYGROUND_PRICES, the listed price, a dated snapshot's, the
        fallback (pricing.price_for)."""
        listed = {m.id: m.price for m in cls.models if m.price is not None}
        return pricing.price_for(cls.name, model, listed, cls.fallback_price, overrides)

    @classmethod
    def priced_size(cls, size: str) -> str:
        """The size as prices read it: a named size (size_presets) as its WxH, any other as it is."""
        dims = cls.size_presets.get(size)
        return f"{dims[0]}x{dims[1]}" if dims else size

    @classmethod
    def default_model(cls) -> str:
        return next(m.id for m in cls.models if not m.retired)

    def validate(self, call: ProviderCall) -> None:
        """Check the call against the model's documented limits before anything is sent."""
        info = self.model(call.model)
        if call.frames > info.max_frames:
            raise InputError(f"{self.name}/{call.model} returns at most {info.max_frames} frame(s) per call")
        check_size_limits(call.size, info, f"{self.name}/{call.model}")
        if info.sizes and call.size not in info.sizes and call.size not in self.size_presets:
            raise InputError(
                f"size {call.size!r} is not allowed for {self.name}/{call.model}; allowed: {', '.join(info.sizes)}"
            )
        refs = call.reference_count  # a chain's frame to come counts
        chained = " (the chained frame included)" if call.chain_from is not None else ""
        if refs > info.max_references:
            if info.max_references == 0:
                raise InputError(
                    f"{self.name}/{call.model} takes no reference images: remove them or pick a model that does"
                )
            raise InputError(
                f"{self.name}/{call.model} accepts at most {info.max_references} reference image(s), "
                f"got {refs}{chained}"
            )
        limit = info.frames_plus_references_max
        if limit is not None and call.frames + refs > limit:
            raise InputError(
                f"{self.name}/{call.model}: reference images + frames must be <= {limit}, got "
                f"{refs} + {call.frames}{chained}"
            )

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        """Images this call is billed for under the provider's rule (default: what came back)."""
        return outcome.images_billed if outcome.images_billed is not None else frames_returned

    @abc.abstractmethod
    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        """Send the call, deliver frames to the sink, return ids and billing."""
