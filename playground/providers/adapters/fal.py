"""`fal`: FLUX Pro on fal.ai's queue (one image per call).

Wire protocol. Checked by the official client against the emulator (tests/conformance/
test_fal_sdk.py), marked [sdk fal-client 1.0.3 fal_client/client.py]; otherwise [doc]
docs.fal.ai, [3p] or [guess]:
- POST {FAL_QUEUE_URL}/{model_id}, `Authorization: Key FAL_KEY` [sdk, doc]. Body: prompt,
  num_images (= frames = 1), image_size {"width", "height"} (a preset name such as
  "square_hd" passes through; "2K" becomes 2048x2048, ours), seed when the run has one [doc]:
  the same JSON the SDK sends for the same arguments (compared field by field).
- Answer: {"request_id", "status_url", "response_url", "cancel_url"}: **use the returned
  URLs**, as the SDK does [sdk, doc] (only when they are on the configured host, so the key
  never leaves it; otherwise they are rebuilt as {base}/{owner}/{app}/requests/{id}
  [/status|/cancel], the model's subpath dropped [doc]).
- Status GET status_url?logs=false (the SDK's default; logs=true|1 adds runner log lines):
  IN_QUEUE (queue_position), IN_PROGRESS (logs), COMPLETED (logs, metrics, and error +
  error_type when the request failed or was cancelled) [sdk `_parse_status`]; the SDK raises
  on any other state, and so does the adapter (malformed, may be billed). FAILED / CANCELED,
  seen in a third-party schema only [3p], are read as failures.
- Result GET response_url: {"images": [{"url", "width", "height", "content_type"}], "seed",
  "has_nsfw_concepts", "timings"} [doc]; an image url may be a data URI (what `sync_mode`
  answers [doc]): decoded here. An image flagged in has_nsfw_concepts is reported as a failed
  frame (the safety checker blanks it) [guess], still billed [guess].
- Cancel PUT cancel_url [sdk, doc]: 202 CANCELLATION_REQUESTED, or 400 ALREADY_COMPLETED;
  sent when the deadline passes or the run is stopped.
- Errors: a model's validation error is 422 {"detail": [{"loc", "msg", "type"}]}; a request
  error is {"detail": "...", "error_type": "..."} with the type also (or only) in the
  X-Fal-Error-Type header [sdk `_raise_for_status`, doc request-errors]: the type becomes the
  error's code and picks its kind (request_timeout: timeout, runner_*: server, ...).
- Retries: unlike the SDK (up to 10 tries of any request on 408/409/429 and on 502/503/504
  without x-fal-request-id, submits included [sdk `_maybe_retry_request`]), a submit is never
  re-sent after a 5xx or a timeout: it may have been billed.
- Billing: per megapixel of output [doc]; the price table unit is "megapixel". The call's
  cost is reported from the result's images[].width x height (CallOutcome.cost_usd); the
  estimate prices the size sent ("2K" = 2048x2048, a preset by its pixels [guess: the
  commonly cited preset sizes, which the emulator serves too]).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

import httpx

from playground.base import pricing
from playground.base.errors import ProviderError
from playground.base.pricing import Price
from playground.base.types import CallOutcome, ModelInfo, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, coded_error, extract_error, parse_retry_after, same_origin, scrub

# fal's named sizes and their pixels [doc: fal image_size enum; the emulator serves the same]
PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024), "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}

# FLUX Pro on fal: one image per call, a seed, no references [doc]; a template
_FLUX = ModelInfo(id="", label="", takes_seed=True, max_frames=1, native_sequence=False, max_references=0,
                  default_size="1024x1024")


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
    size_presets = PRESETS  # sent by name; priced by their pixels
    models = (
        # worst case: the higher of the two published figures, megapixels rounded up [guess]
        replace(_FLUX, id="fal-ai/flux-pro/v1.1", label="FLUX1.1 [pro] (fal)",
                price=Price(0.04, "fal FLUX1.1 [pro] $0.04/megapixel (sources say $0.04 or $0.055) [3p]",
                            "megapixel", most=0.055, most_source="$0.055/megapixel, the higher source [3p]")),
        replace(_FLUX, id="fal-ai/flux-pro", label="FLUX.1 [pro] (fal)",
                price=Price(0.05, "fal FLUX.1 [pro] $0.05/megapixel [guess]", "megapixel")),
    )
    fallback_price = Price(0.04, "fal fallback $0.04/megapixel [3p]", "megapixel")
    listing_order = 70
    max_concurrency = 4
    protocol = ("queue: POST /{model_id} -> status_url / response_url / cancel_url; poll status, GET result; "
                "`Authorization: Key ...`")
    billing_rule = "per megapixel of output [doc]"
    billing_details = ("per megapixel of output: the adapter reports the cost from each returned image's `width` x "
                       "`height` x the price per MP (`cost_source` \"reported\"); the estimate prices the pixels sent "
                       "(`2K` = 2048x2048, presets such as `square_hd` by their pixels); an NSFW-flagged image still "
                       "counts [doc]; the preset pixels and the flagged case [guess]")
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
        # logs off, as the official client asks by default [sdk fal-client 1.0.3 `status(with_logs=False)`]
        status_url = str(httpx.URL(self._url(answer, "status_url", f"{base}/status")).copy_merge_params(
            {"logs": "false"}))
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

        async def cancel() -> None:
            resp = await self.request(client, "PUT", cancel_url, call, repeatable=True)
            await resp.aclose()
            if resp.status_code >= 300:  # e.g. 400 ALREADY_COMPLETED: the poller says "could not cancel it"
                raise self.error(resp, call, may_be_billed=True)

        await self.poll(fetch, lambda state: self.finished(state, call, request_id), call, cancel=cancel,
                        job=request_id)
        result = await self.fetch(client, response_url, call)
        images = result.get("images") if isinstance(result, dict) else None
        if not isinstance(images, list):
            raise self.ctx(call).error("malformed", "result has no images list", may_be_billed=True)
        await self.deliver(images, result.get("has_nsfw_concepts") or [], sink)
        outcome.images_billed = len(images)
        outcome.cost_usd, outcome.cost_rule = self.output_cost(call, images)
        return outcome

    def finished(self, state: dict[str, Any], call: ProviderCall, request_id: str) -> bool:
        """The queue's states [sdk fal-client 1.0.3 fal_client/client.py `_parse_status`]: IN_QUEUE and
        IN_PROGRESS wait, COMPLETED is done unless it carries `error` (with `error_type`, e.g.
        `client_cancelled` when someone cancelled it [doc request-errors]). FAILED / CANCELED, seen in
        a third-party schema only [3p], are failures too. Any other state is raised as the official
        client raises it ("Unknown status"): nothing says the job stopped, so it may be billed."""
        status = str(state.get("status", ""))
        ctx = self.ctx(call)
        if status in ("IN_QUEUE", "IN_PROGRESS"):
            return False
        if status in ("FAILED", "CANCELED", "CANCELLED") or (status == "COMPLETED" and state.get("error")):
            kind = f" ({ctx.clean(str(state['error_type']))})" if state.get("error_type") else ""
            what = "failed" if status == "COMPLETED" else status.lower()
            raise ctx.error("job_failed", f"request {request_id} {what}{kind}: "
                            f"{ctx.clean(str(state.get('error') or 'no error text'))}", may_be_billed=False)
        if status == "COMPLETED":
            return True
        raise ctx.error("malformed", f"request {request_id}: unknown queue status {ctx.clean(status)[:40]!r}",
                        may_be_billed=True)

    @staticmethod
    async def deliver(images: list[Any], flags: list[Any], sink: FrameSink) -> None:
        """Each result image: its `url`, or its bytes when the url is a data URI (what `sync_mode`
        answers [doc]); a flagged image (has_nsfw_concepts) is a failed frame."""
        for i, image in enumerate(images):
            url = image.get("url") if isinstance(image, dict) else None
            if i < len(flags) and flags[i]:
                await sink.failed(i, "flagged by the provider's safety checker (has_nsfw_concepts)")
            elif isinstance(url, str) and url.startswith("data:"):
                data = data_uri_bytes(url)
                await (sink.image(i, data) if data else sink.failed(i, "unreadable data URI in the result"))
            elif url:
                await sink.url(i, url)
            else:
                await sink.failed(i, "no image URL in the result")

    def refine(self, status: int, code: str, message: str) -> str | None:
        """fal's request error types [doc fal.ai/docs/documentation/model-apis/request-errors]."""
        if code in ("request_timeout", "startup_timeout"):
            return "timeout"
        if code.startswith("runner_") or code == "internal_error":
            return "server"
        if code == "bad_request":
            return "invalid"
        return None

    def error(self, resp: httpx.Response, call: ProviderCall, *, may_be_billed: bool = False) -> ProviderError:
        """A request error names its type in `error_type` or only in the X-Fal-Error-Type header
        [doc; sdk fal-client 1.0.3 `_raise_for_status` reads both]: it becomes the error's code."""
        error_type = fal_error_type(resp)
        if not error_type:
            return super().error(resp, call, may_be_billed=may_be_billed)
        try:
            body: Any = resp.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        _, message = extract_error(body, resp.text if body is None else "")
        ctx = self.ctx(call)
        return coded_error(ctx, resp.status_code, error_type, message,
                           where=f"HTTP {resp.status_code}, {ctx.clean(error_type)}", may_be_billed=may_be_billed,
                           refine=self.refine, retry_after=parse_retry_after(resp.headers.get("retry-after")))

    def output_cost(self, call: ProviderCall, images: list[Any]) -> tuple[float, str]:
        """fal bills per megapixel of OUTPUT [doc]: each returned image's width x height x the
        price per megapixel. An image without dimensions counts at the requested size."""
        price = self.price(call.model, self.price_overrides)
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
                total_mp += pricing.megapixels(self.priced_size(call.size))
                guessed += 1
        rule = f"megapixels of output (images[].width x height, {total_mp:.3f} MP) x ${per_mp:g}/MP"
        if guessed:
            rule += f"; {guessed} image(s) without dimensions counted at the requested size"
        return round(total_mp * per_mp, 6), rule


def fal_error_type(resp: httpx.Response) -> str:
    """A request error's type: the body's `error_type`, else the X-Fal-Error-Type header."""
    try:
        body = resp.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    value = body.get("error_type") if isinstance(body, dict) else None
    return str(value or resp.headers.get("x-fal-error-type", ""))


def data_uri_bytes(url: str) -> bytes | None:
    """The bytes of a base64 `data:image/...;base64,...` URI; None when it is not one."""
    head, _, payload = url.partition(",")
    if not head.startswith("data:image/") or not head.endswith(";base64"):
        return None
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


ADAPTER = FalProvider
