"""`wavespeed`: Seedream sequential models on WaveSpeedAI, as an async prediction.

Wire protocol ([doc] wavespeed.ai docs / llms.txt, [sdk] wavespeed 2.0.5, [guess] unconfirmed):
- POST {WAVESPEED_BASE_URL}/{model_id}, `Authorization: Bearer WAVESPEED_API_KEY` [doc].
  Model ids bytedance/seedream-v5.0-lite|v4.5|v4/sequential and .../edit-sequential [doc].
- Body: prompt, size "W*H" (asterisk) [doc], max_images = frames (1..15) [doc]; the
  edit-sequential models require `images` (1..10 URLs) [doc]; references are uploaded
  first (multipart `file`) to POST {base}/media/upload/binary -> data.download_url, the path
  of the official SDK's Client.upload [sdk] and of one docs page [doc]; another version of
  that page says POST {base}/upload -> data.url [doc]. Which one the live API serves is
  unconfirmed [guess]: the SDK's path is tried first, /upload on a 404, and either field is
  read. No seed in these schemas [doc]. enable_base64_output and enable_sync_mode are left
  at their defaults (false).
- Answer: {"code": 200, "message": "success", "data": {"id", "status": "created",
  "urls": {"get": RESULT_URL}, "outputs": [], ...}}; newer pages show the inner object
  bare: both accepted [doc].
- Poll GET data.urls.get (only when it is on the configured host, so the key never leaves
  it), else {base}/predictions/{id}/result [doc] until status completed (outputs = URLs) or
  failed (error text, still HTTP 200) [doc]. No cancel endpoint is documented.
- Billing: unit price x max_images **requested**, whatever comes back [doc].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from playground import pricing
from playground.errors import InputError
from playground.pricing import Price
from playground.providers.base import FrameSink
from playground.providers.byteplus import SEEDREAM
from playground.providers.http import (
    CONTENT_WORDS,
    HttpProvider,
    asterisk_size,
    body_error,
    envelope,
    first,
    json_body,
    same_origin,
    scrub,
    texts,
)
from playground.types import CallOutcome, ModelInfo, ProviderCall, ReferenceImage

T2I = {**SEEDREAM, "max_references": 0, "frames_plus_references_max": None}
EDIT = {**SEEDREAM, "max_references": 10}

pricing.register_prices({
    ("wavespeed", "bytedance/seedream-v5.0-lite/sequential"): Price(0.035, "WaveSpeed 5.0 Lite sequential: BytePlus price $0.035/image [guess]"),
    ("wavespeed", "bytedance/seedream-v5.0-lite/edit-sequential"): Price(0.035, "WaveSpeed 5.0 Lite edit-sequential $0.035/image [guess]"),
    ("wavespeed", "bytedance/seedream-v4.5/sequential"): Price(0.04, "WaveSpeed v4.5 sequential $0.04/image x max_images [doc]"),
    ("wavespeed", "bytedance/seedream-v4.5/edit-sequential"): Price(0.04, "WaveSpeed v4.5 edit-sequential $0.04/image [guess: as sequential]"),
    ("wavespeed", "bytedance/seedream-v4/sequential"): Price(0.027, "WaveSpeed v4 sequential $0.027/image x max_images [doc]"),
    ("wavespeed", "bytedance/seedream-v4/edit-sequential"): Price(0.027, "WaveSpeed v4 edit-sequential $0.027/run [doc]"),
    ("wavespeed", "*"): Price(0.04, "WaveSpeed fallback: v4.5 price $0.04/image [doc]"),
})


class PredictionProvider(HttpProvider):
    """WaveSpeed-shaped async predictions (WaveSpeed, AtlasCloud)."""

    done_states: ClassVar[frozenset[str]] = frozenset({"completed"})

    def submit_url(self, call: ProviderCall) -> str:
        raise NotImplementedError

    def result_url(self, prediction_id: str) -> str:
        raise NotImplementedError

    def body(self, call: ProviderCall, images: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": call.prompt}
        if call.size:
            body["size"] = asterisk_size(call.size)
        body["max_images"] = call.frames
        if call.references:
            body["images"] = images if images is not None else [r.data_url() for r in call.references]
        return body

    async def reference_urls(self, client: httpx.AsyncClient, call: ProviderCall) -> list[str]:
        """The `images` values: data URLs unless the provider has an upload endpoint."""
        return [r.data_url() for r in call.references]

    def unwrap(self, answer: Any, call: ProviderCall, *, may_be_billed: bool) -> Mapping[str, Any]:
        """The prediction inside an answer, or the ProviderError an HTTP 200 answer carries in its
        `code` / `message` (e.g. {"code": 500, "message": "...expired", "data": null})."""
        err = body_error(answer, self.ctx(call), may_be_billed=may_be_billed, refine=self.refine)
        if err is not None:
            raise err
        return envelope(answer)

    def validate(self, call: ProviderCall) -> None:
        info = self.model(call.model)
        if "edit-sequential" in call.model and not call.references:
            raise InputError(f"{self.name}/{call.model} edits reference images: add 1 to {info.max_references or 10}")
        if call.references and info.max_references == 0 and call.model.endswith("/sequential"):
            raise InputError(f"{self.name}/{call.model} takes no reference images; use "
                             f"{call.model.replace('/sequential', '/edit-sequential')}")
        super().validate(call)

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        return call.frames  # max_images requested, whatever comes back

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        images = await self.reference_urls(client, call) if call.references else None
        body = self.body(call, images)
        outcome = CallOutcome(cost_rule="max_images requested x price per image", sent_fields=scrub(body))
        answer, _ = await self.create(client, self.submit_url(call), call, body)
        pred = self.unwrap(answer, call, may_be_billed=False)
        pred_id = str(first(pred, "id", "request_id", default=""))
        if not pred_id:
            raise self.ctx(call).error("malformed", "no prediction id in the answer", may_be_billed=True)
        outcome.request_id = pred_id
        get_url = (pred.get("urls") or {}).get("get") if isinstance(pred.get("urls"), dict) else None
        url = get_url if isinstance(get_url, str) and same_origin(get_url, self.base_url) else self.result_url(pred_id)

        if str(pred.get("status", "")).lower() in self.done_states and pred.get("outputs"):
            state: dict[str, Any] = dict(pred)  # sync mode or an instant answer
        else:
            async def fetch() -> dict[str, Any]:
                got = self.unwrap(await self.fetch(client, url, call), call, may_be_billed=True)
                status = str(got.get("status", "")).lower()
                await sink.progress(0.5 if status == "processing" else 0.1, status)
                return dict(got)

            def done(got: dict[str, Any]) -> bool:
                status = str(got.get("status", "")).lower()
                if status == "failed":
                    message = self.ctx(call).clean(str(got.get("error") or "no error text"))
                    kind = "content" if any(w in message.lower() for w in CONTENT_WORDS) else "job_failed"
                    raise self.ctx(call).error(kind, f"prediction {pred_id} failed: {message}", may_be_billed=False)
                return status in self.done_states

            state = await self.poll(fetch, done, call, job=pred_id)
        outputs = state.get("outputs")
        for i, frame_url in enumerate(texts(outputs if isinstance(outputs, list) else [])):
            await sink.url(i, frame_url)
        outcome.images_billed = call.frames
        return outcome


class WaveSpeedProvider(PredictionProvider):
    name = "wavespeed"
    label = "WaveSpeedAI"
    key_env = "WAVESPEED_API_KEY"
    base_url_env = "WAVESPEED_BASE_URL"
    default_base_url = "https://api.wavespeed.ai/api/v3"
    models = (
        ModelInfo(id="bytedance/seedream-v5.0-lite/sequential", label="Seedream 5.0 Lite sequential", **T2I),
        ModelInfo(id="bytedance/seedream-v4.5/sequential", label="Seedream 4.5 sequential", **T2I),
        ModelInfo(id="bytedance/seedream-v4/sequential", label="Seedream 4.0 sequential", **T2I),
        ModelInfo(id="bytedance/seedream-v5.0-lite/edit-sequential", label="Seedream 5.0 Lite edit-sequential (references)", **EDIT),
        ModelInfo(id="bytedance/seedream-v4.5/edit-sequential", label="Seedream 4.5 edit-sequential (references)", **EDIT),
        ModelInfo(id="bytedance/seedream-v4/edit-sequential", label="Seedream 4.0 edit-sequential (references)", **EDIT),
    )
    max_concurrency = 4
    protocol = "POST /{model_id} -> prediction id; poll GET /predictions/{id}/result (size as W*H)"
    billing_rule = "unit price x max_images requested, whatever comes back [doc]"
    model_id_segments = 4  # owner/model/variant, e.g. bytedance/seedream-v4/sequential [doc]; one spare

    # [sdk] wavespeed-python Client.upload first, then the path one docs page shows [doc]
    upload_paths: tuple[str, ...] = ("/media/upload/binary", "/upload")

    def submit_url(self, call: ProviderCall) -> str:
        return f"{self.base_url}/{call.model}"

    async def reference_urls(self, client: httpx.AsyncClient, call: ProviderCall) -> list[str]:
        """Upload each reference (multipart `file`) and use the returned URL: the edit models take
        image URLs. An upload bills nothing, so it is retried like a GET."""
        return [await self._upload(client, call, i, ref) for i, ref in enumerate(call.references)]

    async def _upload(self, client: httpx.AsyncClient, call: ProviderCall, index: int, ref: ReferenceImage) -> str:
        """POST the file to the first upload path that exists. The official SDK posts to
        /media/upload/binary and reads data.download_url [sdk]; one version of the docs page says
        /upload and data.url [doc]: a 404 on one path moves on to the next, and either field is read."""
        ext = ref.mime.split("/")[-1]
        for path in self.upload_paths:
            resp = await self.request(client, "POST", f"{self.base_url}{path}", call, repeatable=True,
                                      files={"file": (f"reference_{index + 1}.{ext}", ref.data, ref.mime)})
            if resp.status_code == 404 and path != self.upload_paths[-1]:
                continue
            if resp.status_code >= 400:
                raise self.error(resp, call)
            self.upload_paths = (path,)  # this host has it: later references go straight there
            answer = json_body(resp, self.ctx(call), may_be_billed=False)
            err = body_error(answer, self.ctx(call), may_be_billed=False, refine=self.refine)
            if err is not None:
                raise err
            data = answer.get("data") if isinstance(answer, Mapping) else None
            data = data if isinstance(data, Mapping) else answer if isinstance(answer, Mapping) else {}
            url = first(data, "download_url", "url", default="")
            if not isinstance(url, str) or not url.startswith("http"):
                raise self.ctx(call).error("malformed", "the upload answer has no data.download_url or data.url")
            return url
        raise AssertionError("unreachable")  # pragma: no cover

    def result_url(self, prediction_id: str) -> str:
        return f"{self.base_url}/predictions/{prediction_id}/result"
