"""`byteplus`: Seedream on BytePlus ModelArk (the official API), streamed.

Wire protocol (marks: [doc] BytePlus docs, [sdk] byteplus-python-sdk-v2, [3p] a mirror of
them, [guess] our reading, unconfirmed; see /work/shared/providers.md and docs/providers.md):
- POST {ARK_BASE_URL}/images/generations, `Authorization: Bearer ARK_API_KEY` [sdk].
- Body: model, prompt, size ("2K" or "WxH", passed through), response_format "url",
  watermark false (the default is true) [doc]; sequential_image_generation "auto" with
  sequential_image_generation_options.max_images = frames when frames > 1, else "disabled"
  [doc]; image = one data URL (string) or a list of them [doc]; stream true [doc]. No seed:
  Seedream 4.x/5.x document none [doc].
- Stream: server-sent events whose JSON carries `type` [doc]:
  image_generation.partial_succeeded (image_index, url | b64_json, size) -> a frame;
  image_generation.partial_failed (image_index, error) -> that frame failed, keep reading;
  image_generation.partial_image -> a preview, ignored; image_generation.completed (usage);
  then `data: [DONE]`. Reading stops at `completed`: a gateway that drops [DONE] and keeps
  the connection open must not hold the call until the read timeout. A null image_index
  means the frame after the last one seen [guess]. Whether the server also sends `event:` lines is not documented: the
  type is read from the JSON and the `event:` line is only a fallback [guess].
- Non-stream answer (a gateway may ignore stream): {"data": [{url|b64_json, size} |
  {"error": {...}}], "usage": {"generated_images"}} [doc].
- Billing: successful images only, usage.generated_images [doc].
- Request id: the `x-request-id` response header [guess].
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import aclosing
from typing import Any

import httpx

from playground import pricing
from playground.errors import ProviderError
from playground.pricing import Price
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, SSEEvent, iter_sse, json_body, scrub
from playground.types import CallOutcome, ModelInfo, ProviderCall

# Seedream 4.0 / 4.5 / 5.0 Lite limits [doc]: up to 14 references, up to 15 images per call,
# references + generated <= 15. No seed.
SEEDREAM = dict(native_sequence=True, max_frames=15, max_references=14, frames_plus_references_max=15,
                takes_seed=False, default_size="2048x2048")

pricing.register_prices({
    ("byteplus", "seedream-5-0-260128"): Price(0.035, "BytePlus Seedream 5.0 Lite $0.035/image [3p, seed issue]"),
    ("byteplus", "seedream-4-5-251128"): Price(0.04, "BytePlus Seedream 4.5 $0.04/image [3p]"),
    ("byteplus", "seedream-4-0-250828"): Price(0.03, "BytePlus Seedream 4.0 $0.03/image [3p]"),
    ("byteplus", "*"): Price(0.04, "BytePlus Seedream fallback: the 4.5 price $0.04/image [3p]"),
})


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


def _index(payload: dict[str, Any], default: int) -> int:
    """The event's image_index; a missing, null or unreadable one means 'the next frame'."""
    value = payload.get("image_index")
    if isinstance(value, bool):
        return default
    try:
        index = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return index if index >= 0 else default


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code", ""), error.get("message", "")
        return f"{code}: {message}".strip(": ") or "failed"
    return str(error or "failed")


class BytePlusProvider(HttpProvider):
    name = "byteplus"
    label = "BytePlus ModelArk"
    key_env = "ARK_API_KEY"
    base_url_env = "ARK_BASE_URL"
    default_base_url = "https://ark.ap-southeast.bytepluses.com/api/v3"
    models = (
        ModelInfo(id="seedream-5-0-260128", label="Seedream 5.0 Lite", **SEEDREAM),
        ModelInfo(id="seedream-4-5-251128", label="Seedream 4.5", **SEEDREAM),
        ModelInfo(id="seedream-4-0-250828", label="Seedream 4.0", **SEEDREAM),
    )
    max_concurrency = 15  # a whole baseline (up to 15 frames) at once: about 500 images/minute per model [3p]
    protocol = "POST /images/generations (JSON), stream=true: server-sent events, one per frame"
    billing_rule = "successful images only: usage.generated_images [doc]"

    stream: bool = True  # ask for server-sent events (a gateway may answer plain JSON anyway)

    def __init__(self, base_url: str = "", stream: bool | None = None) -> None:
        super().__init__(base_url)
        if stream is not None:
            self.stream = stream

    def refine(self, status: int, code: str, message: str) -> str | None:
        if "SensitiveContent" in code:
            return "content"
        if code.startswith("AccountOverdue") or code.startswith("QuotaExceeded"):
            return "quota"
        if code.startswith("AccessDenied"):
            return "auth"
        return None

    def body(self, call: ProviderCall) -> dict[str, Any]:
        body = seedream_body(call)
        body["stream"] = self.stream
        return body

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        return outcome.images_billed if outcome.images_billed is not None else frames_returned

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = self.body(call)
        outcome = CallOutcome(cost_rule="usage.generated_images x price per image", seed_sent=None,
                              sent_fields=scrub(body))
        url = f"{self.base_url}/images/generations"
        headers = {"Accept": "text/event-stream"} if self.stream else {}
        resp = await self.request(client, "POST", url, call, repeatable=False, stream=True, json=body,
                                  headers=headers)
        try:
            outcome.request_id = resp.headers.get("x-request-id", "")
            if resp.status_code >= 400:
                raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
            if "text/event-stream" in resp.headers.get("content-type", ""):
                outcome.usage = await self._read_stream(resp, call, sink)
            else:
                await resp.aread()
                data = json_body(resp, self.ctx(call), may_be_billed=True)
                outcome.usage = await self._deliver_json(data, call, sink)
        finally:
            await resp.aclose()
        billed = outcome.usage.get("generated_images") if isinstance(outcome.usage, dict) else None
        # a whole number as it came (the core checks its range and the rest of usage); else not reported
        outcome.images_billed = billed if isinstance(billed, int) and not isinstance(billed, bool) else None
        return outcome

    async def _frame(self, index: int, item: dict[str, Any], sink: FrameSink, call: ProviderCall) -> bool:
        if item.get("url"):
            await sink.url(index, item["url"])
            return True
        if item.get("b64_json"):
            try:
                await sink.image(index, base64.b64decode(item["b64_json"], validate=True))
                return True
            except (binascii.Error, ValueError):
                await sink.failed(index, "provider sent an unreadable base64 image")
                return False
        await sink.failed(index, self.ctx(call).clean(_reason(item.get("error"))))
        return False

    async def _deliver_json(self, data: Any, call: ProviderCall, sink: FrameSink) -> dict[str, Any] | None:
        """Hand the answer's frames to the sink; its `usage` block."""
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            if isinstance(data, dict) and data.get("error"):
                err = data["error"]
                raise self.ctx(call).error("job_failed", f"generation failed: {self.ctx(call).clean(_reason(err))}",
                                           may_be_billed=True)
            raise self.ctx(call).error("malformed", "answer has no data list", may_be_billed=True)
        for i, item in enumerate(data["data"]):
            await self._frame(i, item if isinstance(item, dict) else {}, sink, call)
        usage = data.get("usage")
        return usage if isinstance(usage, dict) else None

    async def _read_stream(self, resp: httpx.Response, call: ProviderCall, sink: FrameSink) -> dict[str, Any] | None:
        """Hand the stream's frames to the sink; the `usage` of its completed event."""
        ctx = self.ctx(call)
        delivered, next_index = 0, 0
        usage: dict[str, Any] | None = None
        try:
            async with aclosing(iter_sse(resp.aiter_lines())) as events:
                async for event in events:
                    if event.data.strip() == "[DONE]":
                        break
                    payload = self._event_json(event, call)
                    kind = str(payload.get("type") or event.event)
                    if kind.endswith("partial_succeeded"):
                        index = _index(payload, next_index)
                        next_index = index + 1
                        if await self._frame(index, payload, sink, call):
                            delivered += 1
                            await sink.progress(min(1.0, delivered / call.frames), "streaming")  # the run counts frames itself
                    elif kind.endswith("partial_failed"):
                        index = _index(payload, next_index)
                        next_index = index + 1
                        await sink.failed(index, ctx.clean(_reason(payload.get("error"))))
                    elif kind.endswith("partial_image"):
                        continue  # a preview of a frame still being drawn, not a frame
                    elif kind.endswith("completed"):
                        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
                        break  # the last event that matters: a gateway may never send [DONE] nor close
                    elif payload.get("error"):
                        code = str(payload["error"].get("code", "")) if isinstance(payload["error"], dict) else ""
                        kind_ = "content" if "Sensitive" in code else "job_failed"
                        raise ctx.error(kind_, f"stream error after {delivered} frame(s): "
                                        f"{ctx.clean(_reason(payload['error']))}", may_be_billed=True)
        except httpx.TimeoutException:
            raise ctx.error("timeout", f"stream stalled after {delivered} frame(s); the call may be billed",
                            may_be_billed=True) from None
        except httpx.TransportError as exc:
            raise ctx.error("network", f"stream broke after {delivered} frame(s) ({type(exc).__name__}); "
                            "the call may be billed", may_be_billed=True) from None
        if usage is None and delivered == 0:
            raise ctx.error("malformed", "stream ended without frames or a completed event", may_be_billed=True)
        return usage  # None (no usage): the core falls back to frames returned

    def _event_json(self, event: SSEEvent, call: ProviderCall) -> dict[str, Any]:
        try:
            payload = json.loads(event.data)
        except ValueError:
            raise self.ctx(call).error("malformed", f"unreadable stream event: {self.ctx(call).clean(event.data[:80])!r}",
                                       may_be_billed=True) from None
        if not isinstance(payload, dict):
            raise ProviderError("malformed", f"{self.label}: stream event is not an object", may_be_billed=True)
        return payload
