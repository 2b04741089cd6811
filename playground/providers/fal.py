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
- Billing: per megapixel of output [doc]; the price table unit is "megapixel".
"""

from __future__ import annotations

from typing import Any

import httpx

from playground import pricing
from playground.pricing import Price
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, k_size_px, parse_wh, same_origin, scrub
from playground.types import CallOutcome, ModelInfo, ProviderCall

PRESETS = ("square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9")

pricing.register_prices({
    ("fal", "fal-ai/flux-pro/v1.1"): Price(0.04, "fal FLUX1.1 [pro] $0.04/megapixel (sources say $0.04 or $0.055) [3p]", "megapixel"),
    ("fal", "fal-ai/flux-pro"): Price(0.05, "fal FLUX.1 [pro] $0.05/megapixel [guess]", "megapixel"),
    ("fal", "*"): Price(0.04, "fal fallback $0.04/megapixel [3p]", "megapixel"),
})

_FLUX = dict(takes_seed=True, max_frames=1, native_sequence=False, max_references=0, default_size="1024x1024")


def image_size(size: str) -> Any:
    if size in PRESETS:
        return size
    wh = parse_wh(size)
    if wh:
        return {"width": wh[0], "height": wh[1]}
    k = k_size_px(size)
    if k:
        return {"width": k, "height": k}
    return size


class FalProvider(HttpProvider):
    name = "fal"
    label = "fal.ai"
    key_env = "FAL_KEY"
    base_url_env = "FAL_QUEUE_URL"
    default_base_url = "https://queue.fal.run"
    auth_scheme = "Key"
    models = (
        ModelInfo(id="fal-ai/flux-pro/v1.1", label="FLUX1.1 [pro] (fal)", **_FLUX),
        ModelInfo(id="fal-ai/flux-pro", label="FLUX.1 [pro] (fal)", **_FLUX),
    )
    max_concurrency = 4
    protocol = "queue: POST /{model_id} -> status_url / response_url / cancel_url; poll status, GET result"
    billing_rule = "per megapixel of output [doc]"

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
        outcome = CallOutcome(cost_rule="megapixels of output x price per megapixel", seed_sent=call.seed,
                              sent_fields=scrub(body))
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
        return outcome
