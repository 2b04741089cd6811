"""`byteplus`: Seedream on BytePlus ModelArk (the official API), streamed.

Wire protocol (marks: [doc] BytePlus docs, [sdk NAME VERSION FILE] the official SDK,
byteplus-python-sdk-v2 3.0.63 here, [3p] a mirror of them, [guess] our reading, unconfirmed;
see docs/providers.md):
- POST {ARK_BASE_URL}/images/generations, `Authorization: Bearer ARK_API_KEY`
  [sdk byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/resources/images/images.py].
- Body: model, prompt, size ("2K" or "WxH", passed through), response_format "url",
  watermark false (the default is true) [doc]; sequential_image_generation "auto" with
  sequential_image_generation_options.max_images = frames when frames > 1, else "disabled"
  [doc]; image = one data URL (string) or a list of them [doc]; stream true [doc]. No seed:
  Seedream 4.x/5.x document none [doc].
- Stream: server-sent events whose JSON carries `type` [doc]:
  image_generation.partial_succeeded (image_index, url | b64_json, size) -> a frame;
  image_generation.partial_failed (image_index, error) -> that frame failed;
  image_generation.partial_image -> a preview, ignored; image_generation.completed (usage);
  then `data: [DONE]`. Reading stops at `completed`: a gateway that drops [DONE] and keeps
  the connection open must not hold the call until the read timeout. A null image_index
  means the frame after the last one seen [guess]. Whether the server also sends `event:` lines is not documented: the
  type is read from the JSON and the `event:` line is only a fallback [guess].
- A failed frame [doc https://docs.byteplus.com/en/docs/ModelArk/1666945, `data` note]: refused
  by the content filter -> the next frames are still generated, so reading goes on; an
  internal service error -> no further frame is generated, so reading stops there, as the
  docs' own stream sample does (`break` on InternalServiceError) [doc
  https://docs.byteplus.com/en/docs/ModelArk/1824121]: the call ends with the frames it has,
  billed as delivered. An event with a bare `error` and no frame type ends the call as failed.
  The official SDK raises on every event carrying `error`, a refused frame included [sdk
  byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/_streaming.py]: the adapter departs from
  it there (docs/providers.md).
- Non-stream answer (a gateway may ignore stream): {"data": [{url|b64_json, size} |
  {"error": {...}}], "usage": {"generated_images"}} [doc]. It comes only when every frame is
  drawn, so the read timeout is the SDK's 600 s, not the client's 180 s
  [sdk byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/_constants.py].
- Billing: successful images only, usage.generated_images [doc].
- Request ids: each call sends its own `X-Client-Request-Id` in the SDK's format, a
  YYYYmmddHHMMSS timestamp and 20 letters or digits [sdk byteplus-python-sdk-v2 3.0.63
  byteplussdkarkruntime/_utils/_utils.py], which the server echoes [sdk
  byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/_response.py]; the row logs the `x-request-id` response header
  [guess], else that client id.
"""

from __future__ import annotations

import json
import random
import string
import time
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import httpx

from playground.base.errors import ProviderError
from playground.base.pricing import Price
from playground.base.types import CallOutcome, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import (
    HttpProvider,
    SSEEvent,
    bounded_lines,
    deliver_item,
    item_reason,
    iter_sse,
    json_body,
    read_body,
    scrub,
)
from playground.providers.seedream import SEEDREAM, seedream_body


def client_request_id() -> str:
    """An X-Client-Request-Id as the SDK makes one: local time YYYYmmddHHMMSS + 20 letters/digits."""
    return time.strftime("%Y%m%d%H%M%S") + "".join(random.choices(string.ascii_letters + string.digits, k=20))


def _internal_error(error: Any) -> bool:
    """A failed frame after which the service generates no more [doc: an internal service error]."""
    return isinstance(error, dict) and str(error.get("code", "")).startswith("InternalServiceError")


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


class BytePlusProvider(HttpProvider):
    name = "byteplus"
    label = "BytePlus ModelArk"
    key_env = "ARK_API_KEY"
    base_url_env = "ARK_BASE_URL"
    default_base_url = "https://ark.ap-southeast.bytepluses.com/api/v3"
    models = (
        replace(
            SEEDREAM,
            id="seedream-5-0-260128",
            label="Seedream 5.0 Lite",
            note="5.0 Lite",
            price=Price(0.035, "BytePlus Seedream 5.0 Lite $0.035/image [3p, seed issue]"),
        ),
        replace(
            SEEDREAM,
            id="seedream-4-5-251128",
            label="Seedream 4.5",
            price=Price(0.04, "BytePlus Seedream 4.5 $0.04/image [3p]"),
        ),
        replace(
            SEEDREAM,
            id="seedream-4-0-250828",
            label="Seedream 4.0",
            price=Price(0.03, "BytePlus Seedream 4.0 $0.03/image [3p]"),
        ),
    )
    fallback_price = Price(0.04, "BytePlus Seedream fallback: the 4.5 price $0.04/image [3p]")
    listing_order = 10
    max_concurrency = 15  # a whole baseline (up to 15 frames) at once: about 500 images/minute per model [3p]
    protocol = "POST /images/generations (JSON), stream=true: server-sent events, one per frame"
    billing_rule = "successful images only: usage.generated_images [doc]"
    billing_details = (
        "successful images only: `usage.generated_images` of the response / the stream's `completed` event [doc]"
    )

    stream: bool = True  # ask for server-sent events (a gateway may answer plain JSON anyway)
    response_format: str = "url"  # or "b64_json" [doc]
    # 15 frames in one JSON answer take minutes: the SDK's read timeout
    # [sdk byteplus-python-sdk-v2 3.0.63 byteplussdkarkruntime/_constants.py]
    read_timeout_s = 600.0

    def __init__(self, base_url: str = "", stream: bool | None = None, response_format: str | None = None) -> None:
        super().__init__(base_url)
        if stream is not None:
            self.stream = stream
        if response_format is not None:
            self.response_format = response_format

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
        body["response_format"] = self.response_format
        body["stream"] = self.stream
        return body

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        return outcome.images_billed if outcome.images_billed is not None else frames_returned

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = self.body(call)
        outcome = CallOutcome(
            cost_rule="usage.generated_images x price per image", seed_sent=None, sent_fields=scrub(body)
        )
        url = f"{self.base_url}/images/generations"
        client_id = client_request_id()
        headers = {"X-Client-Request-Id": client_id, **({"Accept": "text/event-stream"} if self.stream else {})}
        resp = await self.request(client, "POST", url, call, repeatable=False, stream=True, json=body, headers=headers)
        try:
            outcome.request_id = resp.headers.get("x-request-id", "") or client_id
            if resp.status_code >= 400:
                raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
            if "text/event-stream" in resp.headers.get("content-type", ""):
                outcome.usage = await self._read_stream(resp, call, sink)
            else:
                await read_body(resp, self.answer_limit(call), self.ctx(call), may_be_billed=True)
                data = json_body(resp, self.ctx(call), may_be_billed=True)
                outcome.usage = await self._deliver_json(data, call, sink)
        finally:
            await resp.aclose()
        billed = outcome.usage.get("generated_images") if isinstance(outcome.usage, dict) else None
        # a whole number as it came (the core checks its range and the rest of usage); else not reported
        outcome.images_billed = billed if isinstance(billed, int) and not isinstance(billed, bool) else None
        return outcome

    async def _deliver_json(self, data: Any, call: ProviderCall, sink: FrameSink) -> dict[str, Any] | None:
        """Hand the answer's frames to the sink; its `usage` block."""
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            if isinstance(data, dict) and data.get("error"):
                err = data["error"]
                raise self.ctx(call).error(
                    "job_failed", f"generation failed: {self.ctx(call).clean(item_reason(err))}", may_be_billed=True
                )
            raise self.ctx(call).error("malformed", "answer has no data list", may_be_billed=True)
        for i, item in enumerate(data["data"]):
            await deliver_item(i, item if isinstance(item, dict) else {}, sink, self.ctx(call))
        usage = data.get("usage")
        return usage if isinstance(usage, dict) else None

    async def _read_stream(self, resp: httpx.Response, call: ProviderCall, sink: FrameSink) -> dict[str, Any] | None:
        """Hand the stream's frames to the sink; the `usage` of its completed event."""
        ctx = self.ctx(call)
        delivered, next_index = 0, 0
        usage: dict[str, Any] | None = None
        try:
            # iter_sse is an async generator, annotated AsyncIterator in http.py
            async with aclosing(iter_sse(bounded_lines(resp, self.answer_limit(call), ctx))) as events:  # type: ignore[type-var]
                async for event in events:
                    if event.data.strip() == "[DONE]":
                        break
                    payload = self._event_json(event, call)
                    kind = str(payload.get("type") or event.event)
                    if kind.endswith("partial_succeeded"):
                        index = _index(payload, next_index)
                        next_index = index + 1
                        if await deliver_item(index, payload, sink, ctx):
                            delivered += 1
                            await sink.progress(
                                min(1.0, delivered / call.frames), "streaming"
                            )  # the run counts frames itself
                    elif kind.endswith("partial_failed"):
                        index = _index(payload, next_index)
                        next_index = index + 1
                        await sink.failed(index, ctx.clean(item_reason(payload.get("error"))))
                        if _internal_error(payload.get("error")):
                            # no further frame nor a completed event comes [doc]: billed as delivered
                            return {"generated_images": delivered}
                    elif kind.endswith("partial_image"):
                        continue  # a preview of a frame still being drawn, not a frame
                    elif kind.endswith("completed"):
                        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
                        break  # the last event that matters: a gateway may never send [DONE] nor close
                    elif payload.get("error"):
                        code = str(payload["error"].get("code", "")) if isinstance(payload["error"], dict) else ""
                        kind_ = "content" if "Sensitive" in code else "job_failed"
                        raise ctx.error(
                            kind_,
                            f"stream error after {delivered} frame(s): {ctx.clean(item_reason(payload['error']))}",
                            may_be_billed=True,
                        )
        except httpx.TimeoutException:
            raise ctx.error(
                "timeout", f"stream stalled after {delivered} frame(s); the call may be billed", may_be_billed=True
            ) from None
        except httpx.TransportError as exc:
            raise ctx.error(
                "network",
                f"stream broke after {delivered} frame(s) ({type(exc).__name__}); the call may be billed",
                may_be_billed=True,
            ) from None
        if usage is None and delivered == 0:
            raise ctx.error("malformed", "stream ended without frames or a completed event", may_be_billed=True)
        return usage  # None (no usage): the core falls back to frames returned

    def _event_json(self, event: SSEEvent, call: ProviderCall) -> dict[str, Any]:
        try:
            payload = json.loads(event.data)
        except ValueError:
            raise self.ctx(call).error(
                "malformed", f"unreadable stream event: {self.ctx(call).clean(event.data[:80])!r}", may_be_billed=True
            ) from None
        if not isinstance(payload, dict):
            raise ProviderError("malformed", f"{self.label}: stream event is not an object", may_be_billed=True)
        return payload


ADAPTER = BytePlusProvider
