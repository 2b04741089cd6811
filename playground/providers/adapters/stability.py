"""`stability`: Stable Diffusion 3.5 on the Stability AI REST API (one image per call).

Wire protocol ([doc] platform.stability.ai, [3p] mirrors and client code, [guess]):
- POST {STABILITY_BASE_URL}/stable-image/generate/sd3, `Authorization: Bearer
  STABILITY_API_KEY`, **multipart/form-data even for text-to-image** [doc/3p].
- Fields: prompt, model (sd3.5-large | sd3.5-large-turbo | sd3.5-medium), mode
  text-to-image, aspect_ratio, seed (only when the run has one; 0 = random), output_format
  png [doc/3p]. There is no width/height: the requested WxH is mapped to the nearest
  documented aspect ratio (smallest |log(w/h) - log(ratio)|), "2K"/"auto" to 1:1 (ours).
  With one reference image: mode image-to-image, `image` file part, strength 0.6, and no
  aspect_ratio (the output follows the image) [doc/3p; the 0.6 is our choice].
- `Accept: application/json` -> {"image": base64, "finish_reason": "SUCCESS" |
  "CONTENT_FILTERED", "seed"} [doc/3p]; `image/*` answers bytes with finish-reason and seed
  headers: both are read.
- Errors {"id", "name", "errors": [...]}, e.g. 401 unauthorized, 403 content_moderation,
  402 payment_required [3p].
- Billing: credits per call, 1 credit = $0.01 [3p]; 6.5 credits for SD 3.5 Large [3p].
  A CONTENT_FILTERED answer is counted as billed [guess] and reported as a failed frame.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from playground.base.pricing import Price
from playground.base.types import CallOutcome, ModelInfo, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, json_body
from playground.providers.sizes import nearest_ratio

ASPECT_RATIOS = ("1:1", "16:9", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")


# SD 3.5: one image per call, a seed, one reference image (image-to-image) [doc/3p]; a template
_SD = ModelInfo(
    id="", label="", takes_seed=True, max_frames=1, native_sequence=False, max_references=1, default_size="1024x1024"
)


def aspect_ratio(size: str) -> str:
    """The documented aspect ratio nearest to a WxH size (log distance); 1:1 when not WxH."""
    return nearest_ratio(size, ASPECT_RATIOS) or "1:1"


class StabilityProvider(HttpProvider):
    name = "stability"
    label = "Stability AI"
    key_env = "STABILITY_API_KEY"
    base_url_env = "STABILITY_BASE_URL"
    default_base_url = "https://api.stability.ai/v2beta"
    models = (
        replace(
            _SD,
            id="sd3.5-large",
            label="Stable Diffusion 3.5 Large",
            price=Price(0.065, "SD 3.5 Large 6.5 credits x $0.01 per call [3p]"),
        ),
        replace(
            _SD,
            id="sd3.5-large-turbo",
            label="Stable Diffusion 3.5 Large Turbo",
            price=Price(0.04, "SD 3.5 Large Turbo 4 credits x $0.01 [3p]"),
        ),
        replace(
            _SD,
            id="sd3.5-medium",
            label="Stable Diffusion 3.5 Medium",
            price=Price(0.035, "SD 3.5 Medium 3.5 credits x $0.01 [3p]"),
        ),
    )
    fallback_price = Price(0.065, "Stability fallback: SD 3.5 Large 6.5 credits [3p]")
    price_note = "6.5 / 4 / 3.5 credits x $0.01, one image a call"
    listing_order = 60
    max_concurrency = 4
    # Both answers are documented and read: JSON (base64 image, finish_reason and seed in the body)
    # or, with `image/*`, the image bytes with finish-reason and seed headers [doc/3p]
    accept: ClassVar[str] = "application/json"
    protocol = "POST /stable-image/generate/sd3 (multipart/form-data), size mapped to aspect_ratio"
    billing_rule = "credits per call, 1 credit = $0.01 [3p]"
    billing_details = (
        "credits per call (1 credit = $0.01), a CONTENT_FILTERED answer included [3p]; the filtered case [guess]"
    )

    def refine(self, status: int, code: str, message: str) -> str | None:
        if code == "content_moderation":
            return "content"
        if code == "payment_required":
            return "quota"
        return None

    def fields(self, call: ProviderCall) -> dict[str, str]:
        fields = {"prompt": call.prompt, "model": call.model}
        if call.references:
            fields.update(mode="image-to-image", strength="0.6")
        else:
            fields.update(mode="text-to-image", aspect_ratio=aspect_ratio(call.size))
        if call.seed is not None:
            fields["seed"] = str(call.seed)
        fields["output_format"] = "png"
        return fields

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        return outcome.images_billed if outcome.images_billed is not None else 1

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        fields = self.fields(call)
        files: dict[str, Any] = {k: (None, v) for k, v in fields.items()}
        sent: dict[str, object] = dict(fields)
        if call.references:
            ref = call.references[0]
            files["image"] = (f"reference.{ref.mime.split('/')[-1]}", ref.data, ref.mime)
            sent["image"] = f"<{ref.mime}, {len(ref.data)} bytes, sha256 {ref.sha256[:12]}>"
        outcome = CallOutcome(
            cost_rule="credits per call x $0.01 (one image per call)", seed_sent=call.seed, sent_fields=sent
        )
        url = f"{self.base_url}/stable-image/generate/sd3"
        resp = await self.request(
            client, "POST", url, call, repeatable=False, files=files, headers={"Accept": self.accept}
        )
        if resp.status_code >= 400:
            raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
        outcome.request_id = resp.headers.get("x-request-id", "") or resp.headers.get("request-id", "")
        ctype = resp.headers.get("content-type", "")
        if ctype.startswith("image/"):
            image, finish = resp.content, resp.headers.get("finish-reason", "SUCCESS")
        else:
            data = json_body(resp, self.ctx(call), may_be_billed=True)
            if not isinstance(data, dict) or not isinstance(data.get("image"), str):
                raise self.ctx(call).error("malformed", "answer has no image", may_be_billed=True)
            try:
                image = base64.b64decode(data["image"], validate=True)
            except (binascii.Error, ValueError):
                raise self.ctx(call).error("malformed", "unreadable base64 image", may_be_billed=True) from None
            finish = str(data.get("finish_reason") or "SUCCESS")
        if finish.upper() == "SUCCESS":
            await sink.image(0, image)
        else:
            await sink.failed(0, f"finish_reason {finish}: the provider's filter replaced the image")
        outcome.images_billed = 1
        return outcome


ADAPTER = StabilityProvider
