"""`fal`: FLUX Pro (one image per call) and ByteDance's Seedream 4 / 4.5 (a series per call) on
fal.ai's queue.

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
- Billing: FLUX per megapixel of output [doc]; the price table unit is "megapixel". The call's
  cost is reported from the result's images[].width x height (CallOutcome.cost_usd); the
  estimate prices the size sent ("2K" = 2048x2048, a preset by its pixels [guess: the
  commonly cited preset sizes, which the emulator serves too]).
- Seedream [doc fal.ai/models/fal-ai/bytedance/seedream/v4/text-to-image/llms.txt and
  .../v4/edit/llms.txt; v4.5 the same schema, its limits 3p]: fal-ai/bytedance/seedream/
  {v4,v4.5}/text-to-image and .../edit. Body: prompt, image_size (as above; also "auto",
  "auto_2K", "auto_4K"), num_images, max_images, seed. "In total, the number of images
  generated will be between num_images and max_images*num_images" [doc]: a sequence is one
  generation (num_images 1, max_images = frames, up to 6), a baseline call one image
  (num_images 1, max_images 1), so a call makes at most `frames` images. The edit endpoints
  take the references as image_urls (up to 10; inputs + outputs <= 15) [doc]: sent as data
  URIs ("your own URL or a Base64 data URI" [doc fal files]), so no upload round trip, no
  storage host and no key outside the queue; a reference is at most 10 MB after re-encoding
  (core.references), and fal's limit on a request body is not documented [guess: it takes
  them]. A call with references to a text-to-image id goes to its /edit endpoint (the row's
  billing rule names it), so the chain mode can use the text-to-image id throughout; an /edit
  id without references is refused before sending. The result has images[] ({url,
  content_type, width, height}) and seed, no has_nsfw_concepts [doc]. Billed per image
  returned: $0.03 (v4) [doc], $0.04 (v4.5) [3p] [guess: the "per image" unit counts the images
  returned]; the caps count `frames` images.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any

import httpx

from playground.base import pricing
from playground.base.errors import InputError, ProviderError
from playground.base.pricing import Price
from playground.base.types import CallOutcome, ModelInfo, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, coded_error, extract_error, same_origin, scrub
from playground.providers.limiter import parse_retry_after
from playground.providers.seedream import SEEDREAM

# fal's named sizes and their pixels [doc: fal image_size enum; the emulator serves the same]
PRESETS: dict[str, tuple[int, int]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}

# FLUX Pro on fal: one image per call, a seed, no references [doc]; a template
_FLUX = ModelInfo(
    id="", label="", takes_seed=True, max_frames=1, native_sequence=False, max_references=0, default_size="1024x1024"
)


# Seedream on fal: a series of up to 6 per generation (max_images 1..6), a seed, up to 10
# references on the edit endpoints, references + images <= 15 [doc]; a template
_SEEDREAM = replace(SEEDREAM, max_frames=6, takes_seed=True, max_references=10, default_size="2048x2048")
SEEDREAM_PREFIX = "fal-ai/bytedance/seedream/"


def is_seedream(model: str) -> bool:
    return model.startswith(SEEDREAM_PREFIX)


def endpoint(call: ProviderCall) -> str:
    """The app a call goes to: a Seedream text-to-image id with references goes to its /edit."""
    if is_seedream(call.model) and call.references and call.model.endswith("/text-to-image"):
        return call.model.removesuffix("/text-to-image") + "/edit"
    return call.model


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
        replace(
            _FLUX,
            id="fal-ai/flux-pro/v1.1",
            label="FLUX1.1 [pro] (fal)",
            price=Price(
                0.04,
                "fal FLUX1.1 [pro] $0.04/megapixel (sources say $0.04 or $0.055) [3p]",
                "megapixel",
                most=0.055,
                most_source="$0.055/megapixel, the higher source [3p]",
            ),
        ),
        replace(
            _FLUX,
            id="fal-ai/flux-pro",
            label="FLUX.1 [pro] (fal)",
            price=Price(0.05, "fal FLUX.1 [pro] $0.05/megapixel [guess]", "megapixel"),
        ),
        replace(
            _SEEDREAM,
            id="fal-ai/bytedance/seedream/v4/text-to-image",
            label="Seedream 4.0 (fal)",
            note="up to 6; references via /edit",
            price=Price(0.03, "fal Seedream v4 $0.03/image [doc]"),
        ),
        replace(
            _SEEDREAM,
            id="fal-ai/bytedance/seedream/v4.5/text-to-image",
            label="Seedream 4.5 (fal)",
            note="up to 6; references via /edit",
            price=Price(0.04, "fal Seedream v4.5 $0.04/image [3p]"),
        ),
        replace(
            _SEEDREAM,
            id="fal-ai/bytedance/seedream/v4/edit",
            label="Seedream 4.0 edit (fal, references)",
            note="references required",
            price=Price(0.03, "fal Seedream v4 edit $0.03/image [doc]"),
        ),
        replace(
            _SEEDREAM,
            id="fal-ai/bytedance/seedream/v4.5/edit",
            label="Seedream 4.5 edit (fal, references)",
            note="references required",
            price=Price(0.04, "fal Seedream v4.5 edit $0.04/image [3p]"),
        ),
    )
    fallback_price = Price(0.04, "fal fallback $0.04/megapixel [3p]", "megapixel")
    listing_order = 70
    max_concurrency = 4
    protocol = (
        "queue: POST /{model_id} -> status_url / response_url / cancel_url; poll status, GET result; "
        "`Authorization: Key ...`; Seedream: `num_images` 1 x `max_images` N, references as data URIs in "
        "`image_urls` (a text-to-image id with references goes to its `/edit`)"
    )
    billing_rule = "FLUX per megapixel of output, Seedream per image returned [doc]"
    billing_details = (
        "FLUX per megapixel of output: the adapter reports the cost from each returned image's `width` "
        'x `height` x the price per MP (`cost_source` "reported"); the estimate prices the pixels '
        "sent (`2K` = 2048x2048, presets such as `square_hd` by their pixels); an NSFW-flagged image "
        "still counts [doc]; the preset pixels and the flagged case [guess]. Seedream per image "
        "returned ($0.03 v4 [doc], $0.04 v4.5 [3p]), reported by the adapter; a call makes at most "
        '`frames` images (`num_images` 1 x `max_images` frames), which the caps count; "per image" '
        "read as per image returned [guess]"
    )
    model_id_segments = 6  # owner/app[/path...], e.g. fal-ai/bytedance/seedream/v4/text-to-image [doc]

    @classmethod
    def text_to_image_id(cls, model_id: str) -> str | None:
        """Seedream's /edit needs `image_urls` [doc]; its text-to-image twin goes to /edit itself
        when a call has references (endpoint)."""
        return (
            model_id.removesuffix("/edit") + "/text-to-image"
            if is_seedream(model_id) and model_id.endswith("/edit")
            else None
        )

    def validate(self, call: ProviderCall) -> None:
        super().validate(call)
        if not is_seedream(call.model):
            return
        if call.model.endswith("/edit") and not call.references:
            raise InputError(
                f"fal/{call.model} edits reference images: add 1 to 10, or use {self.text_to_image_id(call.model)}"
            )
        dims = pricing.dimensions(call.size) if call.size not in PRESETS else None
        if dims and "/v4.5/" in call.model and not 2560 * 1440 <= dims[0] * dims[1] <= 4096 * 4096:
            raise InputError(f"fal/{call.model} takes 2560x1440 to 4096x4096 pixels in all [3p], not {call.size!r}")
        if dims and "/v4/" in call.model and not all(1024 <= side <= 4096 for side in dims):
            raise InputError(f"fal/{call.model} takes 1024 to 4096 pixels a side [doc], not {call.size!r}")

    def body(self, call: ProviderCall) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": call.prompt, "num_images": 1 if is_seedream(call.model) else call.frames}
        if is_seedream(call.model):
            body["max_images"] = call.frames  # one generation of up to `frames` images [doc]
        if call.size:
            body["image_size"] = image_size(call.size)
        if call.seed is not None:
            body["seed"] = call.seed
        if call.references:
            body["image_urls"] = [ref.data_url() for ref in call.references]
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
        app = endpoint(call)
        answer, _ = await self.create(client, f"{self.base_url}/{app}", call, body)
        request_id = str(answer.get("request_id", "")) if isinstance(answer, dict) else ""
        if not request_id:
            raise self.ctx(call).error("malformed", "no request_id in the answer", may_be_billed=True)
        outcome.request_id = request_id
        base = self._app_url(call.model, request_id)
        # logs off, as the official client asks by default [sdk fal-client 1.0.3 `status(with_logs=False)`]
        status_url = str(
            httpx.URL(self._url(answer, "status_url", f"{base}/status")).copy_merge_params({"logs": "false"})
        )
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

        await self.poll(
            fetch, lambda state: self.finished(state, call, request_id), call, cancel=cancel, job=request_id
        )
        result = await self.fetch(client, response_url, call)
        images = result.get("images") if isinstance(result, dict) else None
        if not isinstance(images, list):
            raise self.ctx(call).error("malformed", "result has no images list", may_be_billed=True)
        await self.deliver(images, result.get("has_nsfw_concepts") or [], sink)
        for i in range(len(images), call.frames):  # a series may come back shorter [doc]
            await sink.failed(i, f"{self.label} returned {len(images)} of {call.frames} image(s)")
        outcome.images_billed = len(images)
        outcome.cost_usd, outcome.cost_rule = self.output_cost(call, images)
        if app != call.model:
            outcome.cost_rule += f" (sent to {app}: the call has references)"
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
            raise ctx.error(
                "job_failed",
                f"request {request_id} {what}{kind}: {ctx.clean(str(state.get('error') or 'no error text'))}",
                may_be_billed=False,
            )
        if status == "COMPLETED":
            return True
        raise ctx.error(
            "malformed", f"request {request_id}: unknown queue status {ctx.clean(status)[:40]!r}", may_be_billed=True
        )

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
        return coded_error(
            ctx,
            resp.status_code,
            error_type,
            message,
            where=f"HTTP {resp.status_code}, {ctx.clean(error_type)}",
            may_be_billed=may_be_billed,
            refine=self.refine,
            retry_after=parse_retry_after(resp.headers.get("retry-after")),
        )

    def output_cost(self, call: ProviderCall, images: list[Any]) -> tuple[float, str]:
        """fal bills per megapixel of OUTPUT [doc]: each returned image's width x height x the
        price per megapixel. An image without dimensions counts at the requested size."""
        price = self.price(call.model, self.price_overrides)
        per_mp = price.usd if price.unit == "megapixel" else None
        if per_mp is None:  # priced per image (Seedream, or an override): nothing to scale
            return round(price.usd * len(images), 6), f"{len(images)} image(s) returned x ${price.usd:g} per image"
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
