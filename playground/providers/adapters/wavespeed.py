"""`wavespeed`: Seedream sequential models on WaveSpeedAI, as an async prediction.

Wire protocol ([doc] wavespeed.ai docs / llms.txt, [sdk NAME VERSION FILE] the official SDK,
[guess] unconfirmed):
- POST {WAVESPEED_BASE_URL}/{model_id}, `Authorization: Bearer WAVESPEED_API_KEY` [doc].
  Model ids bytedance/seedream-v5.0-lite|v4.5|v4/sequential and .../edit-sequential [doc].
- Body: prompt, size "W*H" (asterisk) [doc], max_images = frames (1..15) [doc]; the
  edit-sequential models require `images` (1..10 URLs) [doc]. No seed in these schemas [doc].
  `enable_sync_mode` is on unless the provider is built with sync_mode=False (why: the
  PredictionProvider docstring in providers/predictions.py), `enable_base64_output` off unless
  built with base64_output (both documented [doc https://wavespeed.ai/docs/sync-mode,
  https://wavespeed.ai/docs/base64-output]).
- References are uploaded first, the current flow [sdk wavespeed 2.0.5 wavespeed/api/client.py
  Client.upload, the same since 1.0.11]: POST {base}/media/uploads with JSON {filename, size,
  content_type} -> data.upload {method "PUT", url, headers} and data.download_url; the bytes
  go by PUT to that URL (a storage host) with only the headers given, never the API key; the
  download_url is the model input. Only on a 404 of that path, the older flows: multipart
  `file` to POST {base}/media/upload/binary -> data.download_url [sdk wavespeed 1.0.10
  wavespeed/api/client.py], then POST {base}/upload -> data.url [doc, one version of a page].
- Answer: {"code": 200, "message": "success", "data": {"id", "status": "created",
  "urls": {"get": RESULT_URL}, "outputs": [], ...}}; newer pages show the inner object
  bare: both accepted [doc]. In sync mode the answer already holds status completed and the
  outputs [doc, sdk]; a sync wait that ran out answers status "processing" ("Sync mode timed
  out" [sdk wavespeed 2.0.5 wavespeed/api/client.py]), and the prediction is then polled like any other.
- Poll GET data.urls.get (only when it is on the configured host, so the key never leaves
  it), else {base}/predictions/{id}/result [doc] until status completed (outputs) or a
  terminal failure: failed, cancelled, timeout, deleted [sdk wavespeed 2.0.5
  wavespeed/api/client.py Client._wait] (error text, still HTTP 200). No cancel endpoint is
  documented.
- outputs: URLs, or naked base64 strings with enable_base64_output [doc]; a data: URL is read too.
- Billing: unit price x max_images **requested**, whatever comes back [doc]; a `failed`
  prediction is taken as not billed, the other terminal failures as possibly billed [guess].
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from playground.base.pricing import Price
from playground.base.types import ProviderCall, ReferenceImage
from playground.providers.http import body_error, first, json_body, send
from playground.providers.predictions import EDIT, T2I, PredictionProvider

TICKET_PATH = "/media/uploads"  # the current upload flow [sdk wavespeed 2.0.5]


class WaveSpeedProvider(PredictionProvider):
    name = "wavespeed"
    label = "WaveSpeedAI"
    key_env = "WAVESPEED_API_KEY"
    base_url_env = "WAVESPEED_BASE_URL"
    default_base_url = "https://api.wavespeed.ai/api/v3"
    models = (
        replace(
            T2I,
            id="bytedance/seedream-v5.0-lite/sequential",
            label="Seedream 5.0 Lite sequential",
            price=Price(0.035, "WaveSpeed 5.0 Lite sequential: BytePlus price $0.035/image [guess]"),
        ),
        replace(
            T2I,
            id="bytedance/seedream-v4.5/sequential",
            label="Seedream 4.5 sequential",
            price=Price(0.04, "WaveSpeed v4.5 sequential $0.04/image x max_images [doc]"),
        ),
        replace(
            T2I,
            id="bytedance/seedream-v4/sequential",
            label="Seedream 4.0 sequential",
            price=Price(0.027, "WaveSpeed v4 sequential $0.027/image x max_images [doc]"),
        ),
        replace(
            EDIT,
            id="bytedance/seedream-v5.0-lite/edit-sequential",
            label="Seedream 5.0 Lite edit-sequential (references)",
            note="references required",
            price=Price(0.035, "WaveSpeed 5.0 Lite edit-sequential $0.035/image [guess]"),
        ),
        replace(
            EDIT,
            id="bytedance/seedream-v4.5/edit-sequential",
            label="Seedream 4.5 edit-sequential (references)",
            note="references required",
            price=Price(0.04, "WaveSpeed v4.5 edit-sequential $0.04/image [guess: as sequential]"),
        ),
        replace(
            EDIT,
            id="bytedance/seedream-v4/edit-sequential",
            label="Seedream 4.0 edit-sequential (references)",
            note="references required",
            price=Price(0.027, "WaveSpeed v4 edit-sequential $0.027/run [doc]"),
        ),
    )
    fallback_price = Price(0.04, "WaveSpeed fallback: v4.5 price $0.04/image [doc]")
    price_note = "x `max_images` requested"
    listing_order = 30
    max_concurrency = 4
    protocol = (
        "POST /{model_id} with enable_sync_mode (answers when done); else, or when the sync wait runs out, "
        "poll GET /predictions/{id}/result (size as W*H); references "
        "uploaded first (a JSON ticket, the bytes PUT where it says, without the key)"
    )
    billing_rule = "unit price x max_images requested, whatever comes back [doc]"
    billing_details = "unit price x `max_images` **requested**, whatever comes back [doc]"
    model_id_segments = 4  # owner/model/variant, e.g. bytedance/seedream-v4/sequential [doc]; one spare

    # the current upload flow first, then the older documented ones (see the module docstring)
    upload_paths: tuple[str, ...] = (TICKET_PATH, "/media/upload/binary", "/upload")

    def submit_url(self, call: ProviderCall) -> str:
        return f"{self.base_url}/{call.model}"

    async def reference_urls(self, client: httpx.AsyncClient, call: ProviderCall) -> list[str]:
        """Upload each reference and use its download URL: the edit models take image URLs. An
        upload bills nothing, so it is retried like a GET."""
        return [await self._upload(client, call, i, ref) for i, ref in enumerate(call.references)]

    async def _upload(self, client: httpx.AsyncClient, call: ProviderCall, index: int, ref: ReferenceImage) -> str:
        """The first upload path this host serves: a 404 moves on to the next; the path that
        worked is kept for the run's other references."""
        filename = f"reference_{index + 1}{mimetypes.guess_extension(ref.mime) or '.bin'}"
        for path in self.upload_paths:
            if path == TICKET_PATH:
                resp = await self.request(
                    client,
                    "POST",
                    f"{self.base_url}{path}",
                    call,
                    repeatable=True,
                    json={"filename": filename, "size": len(ref.data), "content_type": ref.mime},
                )
            else:
                resp = await self.request(
                    client,
                    "POST",
                    f"{self.base_url}{path}",
                    call,
                    repeatable=True,
                    files={"file": (filename, ref.data, ref.mime)},
                )
            if resp.status_code == 404 and path != self.upload_paths[-1]:
                continue
            if resp.status_code >= 400:
                raise self.error(resp, call)
            self.upload_paths = (path,)
            data = self._upload_answer(resp, call)
            if path == TICKET_PATH:
                await self._put_bytes(client, call, data, ref)
            return self._url_in(data, ("download_url",) if path == TICKET_PATH else ("download_url", "url"), call)
        raise AssertionError("unreachable")  # pragma: no cover

    def _upload_answer(self, resp: httpx.Response, call: ProviderCall) -> Mapping[str, Any]:
        answer = json_body(resp, self.ctx(call), may_be_billed=False)
        err = body_error(answer, self.ctx(call), may_be_billed=False, refine=self.refine)
        if err is not None:
            raise err
        data = answer.get("data") if isinstance(answer, Mapping) else None
        return data if isinstance(data, Mapping) else answer if isinstance(answer, Mapping) else {}

    def _url_in(self, data: Mapping[str, Any], keys: tuple[str, ...], call: ProviderCall) -> str:
        url = first(data, *keys, default="")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise self.ctx(call).error(
                "malformed", f"the upload answer has no {' or '.join('data.' + k for k in keys)}"
            )
        return url

    async def _put_bytes(
        self, client: httpx.AsyncClient, call: ProviderCall, ticket: Mapping[str, Any], ref: ReferenceImage
    ) -> None:
        """PUT the bytes where the ticket says, with only the headers it gives: the URL is a
        storage host's, so the API key never goes along [sdk wavespeed 2.0.5 Client.upload]."""
        ctx = self.ctx(call)
        upload = ticket.get("upload")
        upload = upload if isinstance(upload, Mapping) else {}
        put_url = upload.get("url")
        if (
            str(upload.get("method", "")).upper() != "PUT"
            or not isinstance(put_url, str)
            or not put_url.startswith(("https://", "http://"))
        ):
            raise ctx.error("malformed", "the upload ticket has no PUT instruction (data.upload.method/url)")
        given = upload.get("headers")
        headers = {str(k): str(v) for k, v in given.items()} if isinstance(given, Mapping) else {}
        if any(k.lower() == "authorization" for k in headers):  # the one header of ours it must never carry
            raise ctx.error("malformed", "the upload ticket asks for an Authorization header: refused")
        request = client.build_request("PUT", put_url, headers=headers, content=ref.data)
        resp = await send(client, request, repeatable=True, ctx=ctx, policy=self.retry_policy, sleep=self.sleep)
        if resp.status_code >= 300:
            kind = "server" if resp.status_code >= 500 else "invalid"
            raise ctx.error(
                kind,
                f"storing the reference at the upload URL failed (HTTP {resp.status_code}): "
                f"{ctx.clean(resp.text[:200])}",
                status=resp.status_code,
            )

    def result_url(self, prediction_id: str) -> str:
        return f"{self.base_url}/predictions/{prediction_id}/result"


ADAPTER = WaveSpeedProvider
