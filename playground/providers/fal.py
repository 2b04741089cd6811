"""`fal`: FLUX Pro on fal.ai's queue (one image per call).

Wire protocol ([doc] docs.fal.ai queue page, [sdk] fal-client 1.0.3, [3p], [guess]):
- POST {FAL_QUEUE_URL}/{model_id}, `Authorization: Key FAL_KEY` [sdk, doc].
- Body: prompt, num_images (= frames = 1), image_size {"width", "height"} (a preset name
  such as "square_hd" passes through; "2K" becomes 2048x2048, ours), seed when the run has
  one [doc]. output_format / safety options stay at their defaults.
- Answer: {"request_id", "status_url", "response_url", "cancel_url"}: **use the returned
  URLs** [doc] (only when they are on the configured host, so the key never leaves it;
  otherwise they are rebuilt as {base}/{owner}/{app}/requests/{id}[/status|/cancel], the
  model's subpath dropped [doc]).
- Status GET: IN_QUEUE (queue_position), IN_PROGRESS, COMPLETED (may carry `error`) [doc];
  FAILED / CANCELED appear in a published schema [3p] and are read as failures.
- Result GET response_url: {"images": [{"url", "width", "height", "content_type"}], "seed",
  "has_nsfw_concepts", "timings"} [doc]. An image flagged in has_nsfw_concepts is reported
  as a failed frame (the safety checker blanks it) [guess], still billed [guess].
- Cancel PUT cancel_url (works while queued) [doc]: sent when the deadline passes.
- Errors {"detail": "..." | [{"loc", "msg", "type"}]} [sdk, doc].
- Billing: per megapixel of output [doc]; the price table unit is "megapixel". The call's
  cost is reported from the result's images[].width x height (CallOutcome.cost_usd); the
  estimate prices the size sent ("2K" = 2048x2048, a preset by its pixels [guess: the
  commonly cited preset sizes, which the emulator serves too]).
"""

from __future__ import annotations

from typing import Any

import httpx

from playground import pricing
from playground.pricing import Price
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, same_origin, scrub
from playground.types import CallOutcome, ModelInfo, ProviderCall

# fal's named sizes and their pixels [doc: fal image_size enum; the emulator serves the same]
PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024), "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}
pricing.register_size_presets(PRESETS)

pricing.register_prices({
    # worst case: the higher of the two published figures, megapixels rounded up [guess]
    ("fal", "fal-ai/flux-pro/v1.1"): Price(0.04, "fal FLUX1.1 [pro] $0.04/megapixel (sources say $0.04 or $0.055) [3p]",
                                           "megapixel", most=0.055, most_source="$0.055/megapixel, the higher source [3p]"),
    ("fal", "fal-ai/flux-pro"): Price(0.05, "fal FLUX.1 [pro] $0.05/megapixel [guess]", "megapixel"),
    ("fal", "*"): Price(0.04, "fal fallback $0.04/megapixel [3p]", "megapixel"),
})

_FLUX = dict(takes_seed=True, max_frames=1, native_sequence=False, max_references=0, default_size="1024x1024")


def image_size(size: str) -> Any:
    """A preset name as it is; "WxH" / "nK" as {width, height} (the pixels pricing.dimensions
    reads, so the estimate prices what is sent); anything else as it is (fal answers 422)."""
    if size in PRESETS:
        return size
    dims = pricing.dimensions(size)
    return {"width": dims[0], "height": dims[1]} if dims else size


class FalProvider(HttpProvider):
    name = "fal"
    label = "fal.ai"
    key_env = "FAL_KEY"
    base_url_env = "FAL_QUEUE_URL"
    default_base_url = "https://queue.fal.run"
    auth_scheme = "Key"
    size_presets = tuple(PRESETS)  # sent by name; priced by their pixels (pricing.SIZE_PRESETS)
    models = (
        ModelInfo(id="fal-ai/flux-pro/v1.1", label="FLUX1.1 [pro] (fal)", **_FLUX),
        ModelInfo(id="fal-ai/flux-pro", label="FLUX.1 [pro] (fal)", **_FLUX),
    )
    max_concurrency = 4
    protocol = "queue: POST /{model_id} -> status_url / response_url / cancel_url; poll status, GET result"
    billing_rule = "per megapixel of output [doc]"
    model_id_segments = 6  # owner/app[/path...], e.g. fal-ai/bytedance/seedream/v4/text-to-image [doc]

    def body(self, call: ProviderCall) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": call.prompt, "num_images": call.frames}
        if call.size:
            body["image_size"] = image_size(call.size)
        if call.seed is not None:
            body["seed"] = call.seed
        return body

    def _app_url(self, model: str, request_id: str) -> str:
        app = "/".join(model.split("/")[:2])  # the subpath (/v1.1) is not part of status/result paths
        return f"{self.base_url}/{app}/requests/{request_id}"

    def _url(self, answer: dict[str, Any], key: str, fallback: str) -> str:
        url = answer.get(key)
        return url if isinstance(url, str) and same_origin(url, self.base_url) else fallback

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = self.body(call)
        outcome = CallOutcome(seed_sent=call.seed, sent_fields=scrub(body))
        answer, _ = await self.create(client, f"{self.base_url}/{call.model}", call, body)
        request_id = str(answer.get("request_id", "")) if isinstance(answer, dict) else ""
        if not request_id:
            raise self.ctx(call).error("malformed", "no request_id in the answer", may_be_billed=True)
        outcome.request_id = request_id
        base = self._app_url(call.model, request_id)
        status_url = self._url(answer, "status_url", f"{base}/status")
        response_url = self._url(answer, "response_url", base)
        cancel_url = self._url(answer, "cancel_url", f"{base}/cancel")

        async def fetch() -> dict[str, Any]:
            state = await self.fetch(client, status_url, call)
            state = state if isinstance(state, dict) else {}
            status = str(state.get("status", ""))
            if status == "IN_QUEUE":
                await sink.progress(0.05, f"queued, position {state.get('queue_position', '?')}")
            elif status == "IN_PROGRESS":
                await sink.progress(0.5, "in progress")
            return state

        def done(state: dict[str, Any]) -> bool:
            status = str(state.get("status", ""))
            if status in ("FAILED", "CANCELED", "CANCELLED") or (status == "COMPLETED" and state.get("error")):
                raise self.ctx(call).error("job_failed", f"request {request_id} "
                                           f"{'failed' if status == 'COMPLETED' else status.lower()}: "
                                           f"{self.ctx(call).clean(str(state.get('error') or 'no error text'))}",
                                           may_be_billed=False)
            return status == "COMPLETED"

        async def cancel() -> None:
            resp = await self.request(client, "PUT", cancel_url, call, repeatable=True)
            await resp.aclose()
            if resp.status_code >= 300:  # e.g. 400 ALREADY_COMPLETED: the poller says "could not cancel it"
                raise self.error(resp, call, may_be_billed=True)

        await self.poll(fetch, done, call, cancel=cancel, job=request_id)
        result = await self.fetch(client, response_url, call)
        images = result.get("images") if isinstance(result, dict) else None
        if not isinstance(images, list):
            raise self.ctx(call).error("malformed", "result has no images list", may_be_billed=True)
        flags = result.get("has_nsfw_concepts") or []
        for i, image in enumerate(images):
            url = image.get("url") if isinstance(image, dict) else None
            if i < len(flags) and flags[i]:
                await sink.failed(i, "flagged by the provider's safety checker (has_nsfw_concepts)")
            elif url:
                await sink.url(i, url)
            else:
                await sink.failed(i, "no image URL in the result")
        outcome.images_billed = len(images)
        outcome.cost_usd, outcome.cost_rule = self.output_cost(call, images)
        return outcome

    def output_cost(self, call: ProviderCall, images: list[Any]) -> tuple[float, str]:
        """fal bills per megapixel of OUTPUT [doc]: each returned image's width x height x the
        price per megapixel. An image without dimensions counts at the requested size."""
        price = self.price(call.model)
        per_mp = price.usd if price.unit == "megapixel" else None
        if per_mp is None:  # an override priced per image: nothing to scale
            return round(price.usd * len(images), 6), "images returned x price per image (override)"
        total_mp, guessed = 0.0, 0
        for image in images:
            w = image.get("width") if isinstance(image, dict) else None
            h = image.get("height") if isinstance(image, dict) else None
            if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
                total_mp += w * h / 1_000_000
            else:
                total_mp += pricing.megapixels(call.size)
                guessed += 1
        rule = f"megapixels of output (images[].width x height, {total_mp:.3f} MP) x ${per_mp:g}/MP"
        if guessed:
            rule += f"; {guessed} image(s) without dimensions counted at the requested size"
        return round(total_mp * per_mp, 6), rule
