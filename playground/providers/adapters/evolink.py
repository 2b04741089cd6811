"""`evolink`: Seedream through EvoLink (an aggregator): an async task, or frames at once.

Wire protocol ([doc] docs.evolink.ai, [guess] unconfirmed):
- POST {EVOLINK_BASE_URL}/images/generations, `Authorization: Bearer EVOLINK_API_KEY` [doc].
  Body: model, prompt (<= 2000), n = frames (the maximum; the prompt states the count), size
  [doc]; references as `image_urls` [doc], sent as data URLs (whether EvoLink accepts data
  URLs rather than https URLs is [guess]). A size "2K"/"3K" goes as size "1:1" + quality
  "2K" [guess, from "ratio with quality"]; "WxH" goes as is [doc].
- Answer at once: {"id": "task-unified-...", "status": "pending", "task_info": {"can_cancel"},
  "usage": {"billing_rule", "credits_reserved"}} [doc].
- Or the frames themselves, as the seed guide's own sample reads them: {"created", "data":
  [{"url"} | {"b64_json"} | {"error": {code, message}}, ...]} (the guide: the async workflow
  "may require a follow-up GET" when a job id comes back instead) [guess: the guide's shape;
  EvoLink's pages show only the task]. Each item is a frame, a failed item a failed frame.
  The row's billing_rule says which shape came back.
- Poll GET {base}/tasks/{id}: status pending|processing|completed|failed, progress 0..100,
  results = list of URLs when completed, error {code, message} when failed [doc].
- No cancel endpoint was found in the docs, so a stuck task is abandoned, not cancelled.
- Billing: pre-charges n, settles on images generated [doc] -> images billed = results.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from playground.base.errors import InputError
from playground.base.pricing import Price, k_size_px
from playground.base.types import CallOutcome, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import HttpProvider, deliver_item, scrub
from playground.providers.seedream import SEEDREAM

GENERATED = "images generated x price per image"
IMMEDIATE = "immediate answer: frames in `data`"
TASK = "task: `results` polled"

# task error codes [doc] -> our kinds
_TASK_ERRORS = {
    "content_policy_violation": "content",
    "invalid_parameters": "invalid",
    "image_processing_error": "invalid",
    "image_dimension_mismatch": "invalid",
    "generation_timeout": "timeout",
    "quota_exceeded": "quota",
    "resource_exhausted": "server",
    "service_error": "server",
    "service_unavailable": "server",
}


class EvoLinkProvider(HttpProvider):
    name = "evolink"
    label = "EvoLink"
    key_env = "EVOLINK_API_KEY"
    base_url_env = "EVOLINK_BASE_URL"
    default_base_url = "https://api.evolink.ai/v1"
    models = (
        replace(
            SEEDREAM,
            id="doubao-seedream-5.0-lite",
            label="Seedream 5.0 Lite (EvoLink)",
            price=Price(0.032, "EvoLink Seedream 5.0 Lite about $0.032/image [doc]"),
        ),
        replace(
            SEEDREAM,
            id="doubao-seedream-4.5",
            label="Seedream 4.5 (EvoLink)",
            price=Price(0.04, "EvoLink Seedream 4.5: BytePlus price $0.04/image [guess]"),
        ),
        replace(
            SEEDREAM,
            id="doubao-seedream-4.0",
            label="Seedream 4.0 (EvoLink)",
            price=Price(0.03, "EvoLink Seedream 4.0: BytePlus price $0.03/image [guess]"),
        ),
    )
    fallback_price = Price(0.04, "EvoLink fallback $0.04/image [guess]")
    listing_order = 20
    max_concurrency = 4
    protocol = (
        "POST /images/generations -> task id, poll GET /tasks/{id} until completed (results = URLs); "
        "or the frames at once in `data` (url or b64_json)"
    )
    billing_rule = "pre-charges n, settles on images generated [doc]"
    billing_details = (
        "pre-charges `n`, settles on images generated: the number of `results` (task), or of frame "
        "items in `data` (an immediate answer) [doc]; the immediate shape [guess] (the seed guide's "
        "sample)"
    )

    def validate(self, call: ProviderCall) -> None:
        super().validate(call)
        if len(call.prompt) > 2000:
            raise InputError(f"evolink takes prompts of at most 2000 characters; this one has {len(call.prompt)}")

    def body(self, call: ProviderCall) -> dict[str, Any]:
        body: dict[str, Any] = {"model": call.model, "prompt": call.prompt, "n": call.frames}
        k = k_size_px(call.size)
        if k:
            body["size"], body["quality"] = "1:1", call.size.upper()
        elif call.size:
            body["size"] = call.size
        if call.references:
            body["image_urls"] = [r.data_url() for r in call.references]
        return body

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        return outcome.images_billed if outcome.images_billed is not None else frames_returned

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = self.body(call)
        outcome = CallOutcome(sent_fields=scrub(body))
        answer, _ = await self.create(client, f"{self.base_url}/images/generations", call, body)
        if isinstance(answer, dict) and isinstance(answer.get("data"), list):
            outcome.cost_rule = f"{GENERATED} ({IMMEDIATE})"
            outcome.request_id = str(answer.get("id") or "")
            outcome.images_billed = await self._deliver(answer["data"], call, sink)
            return outcome
        task_id = str(answer.get("id", "")) if isinstance(answer, dict) else ""
        if not task_id:
            raise self.ctx(call).error(
                "malformed", "neither a task id nor a `data` list of frames in the answer", may_be_billed=True
            )
        outcome.cost_rule = f"{GENERATED} ({TASK})"
        outcome.request_id = task_id
        state = await self._wait(client, call, sink, task_id)
        results = state.get("results")
        outcome.images_billed = await self._deliver(results if isinstance(results, list) else [], call, sink)
        return outcome

    async def _deliver(self, items: list[Any], call: ProviderCall, sink: FrameSink) -> int:
        """Each item a frame (a URL string as `results` holds [doc], or a {"url"|"b64_json"|"error"}
        object as `data` does); the number of frames generated."""
        generated = 0
        for i, item in enumerate(items):
            item = {"url": item} if isinstance(item, str) else item if isinstance(item, dict) else {}
            generated += await deliver_item(i, item, sink, self.ctx(call))
        return generated

    async def _wait(
        self, client: httpx.AsyncClient, call: ProviderCall, sink: FrameSink, task_id: str
    ) -> dict[str, Any]:
        url = f"{self.base_url}/tasks/{task_id}"

        async def fetch() -> dict[str, Any]:
            state = await self.fetch(client, url, call)
            if not isinstance(state, dict):
                raise self.ctx(call).error("malformed", "task status is not an object", may_be_billed=True)
            progress = state.get("progress")
            if isinstance(progress, (int, float)):
                await sink.progress(max(0.0, min(1.0, progress / 100)), str(state.get("status", "")))
            return state

        def done(state: dict[str, Any]) -> bool:
            status = state.get("status")
            if status == "failed":
                self._raise_failed(state, call)
            return status == "completed"

        return await self.poll(fetch, done, call, job=task_id)

    def _raise_failed(self, state: dict[str, Any], call: ProviderCall) -> None:
        error = state.get("error") or {}
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        kind = _TASK_ERRORS.get(code, "job_failed")
        ctx = self.ctx(call)
        raise ctx.error(
            kind, f"task failed ({ctx.clean(code) or 'no code'}): {ctx.clean(message)}", may_be_billed=False
        )


ADAPTER = EvoLinkProvider
