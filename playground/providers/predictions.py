"""WaveSpeed-shaped async predictions, shared by WaveSpeed and AtlasCloud: submit, poll until a
terminal state, outputs as URLs or base64; billed on max_images requested. See the adapters'
docstrings for each one's paths and evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from playground.base.errors import InputError, ProviderError
from playground.base.types import CallOutcome, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import (
    CONTENT_WORDS,
    HttpProvider,
    asterisk_size,
    body_error,
    decode_base64,
    envelope,
    first,
    same_origin,
    scrub,
)
from playground.providers.seedream import SEEDREAM

# Model templates (dataclasses.replace with id, label, price): text-to-image sequential models take
# no references; the edit-sequential ones 1 to 10 [doc]
T2I = replace(SEEDREAM, max_references=0, frames_plus_references_max=None)


EDIT = replace(SEEDREAM, max_references=10)


SYNC_GATEWAY_TIMEOUT = (
    "the sync-mode request (enable_sync_mode) ended in HTTP 504, a gateway timeout, before the "
    "prediction was done; that answer carries no prediction id (in neither its headers nor its "
    "body), so the prediction can be neither fetched nor cancelled. It may still complete and be "
    "billed: look for it in the provider's dashboard"
)


class PredictionProvider(HttpProvider):
    """WaveSpeed-shaped async predictions (WaveSpeed, AtlasCloud).

    Sync mode by default (issue 16): the POST carries `enable_sync_mode` and answers when the
    prediction is done [doc https://wavespeed.ai/docs/sync-mode], so a job is noticed as it ends,
    with no polls (polling notices a 2 s job up to 0.5 s late at about one poll a second). When
    the provider's sync wait runs out it answers status "processing" with the id ("Sync mode
    timed out" [sdk wavespeed 2.0.5]) and the prediction is polled as before, with the same
    bounds. The risk taken: a sync POST answered HTTP 504 (a gateway timeout) carries no id, and
    the docs say the task may still complete [doc https://wavespeed.ai/docs/sync-mode; atlascloud
    errors]: they name no header or field that would carry the id then (the page says to fetch
    the result "using the prediction ID", which only a 200 answer holds), and the SDK reads none
    (a non-200 POST is "Failed to submit prediction: HTTP 504" [sdk wavespeed 2.0.5
    wavespeed/api/client.py Client._submit]). That call ends as an error that "may have been
    billed" and says why it cannot be looked up (SYNC_GATEWAY_TIMEOUT). `sync_mode=False`
    (the constructor) polls from the start."""

    done_states: ClassVar[frozenset[str]] = frozenset({"completed"})
    # terminal failures [sdk wavespeed 2.0.5 wavespeed/api/client.py Client._wait]; only `failed`
    # is taken as not billed
    failed_states: ClassVar[frozenset[str]] = frozenset({"failed", "cancelled", "timeout", "deleted"})
    sync_mode: bool = True  # enable_sync_mode: the POST answers when the prediction is done (see below)
    base64_output: bool = False  # enable_base64_output: outputs as base64, not URLs

    def __init__(self, base_url: str = "", sync_mode: bool | None = None, base64_output: bool | None = None) -> None:
        super().__init__(base_url)
        if sync_mode is not None:
            self.sync_mode = sync_mode
        if base64_output is not None:
            self.base64_output = base64_output

    @property
    def read_timeout_s(self) -> float | None:  # type: ignore[override]
        """A sync-mode POST stays open until the prediction is done (the SDK sets no read limit)."""
        return 600.0 if self.sync_mode else None

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
        return self.with_flags(body)

    def with_flags(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.sync_mode:
            body["enable_sync_mode"] = True
        if self.base64_output:
            body["enable_base64_output"] = True
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

    @classmethod
    def text_to_image_id(cls, model_id: str) -> str | None:
        """.../edit-sequential needs `images` [doc]; .../sequential is its text-to-image twin."""
        return model_id.replace("/edit-sequential", "/sequential") if "edit-sequential" in model_id else None

    def validate(self, call: ProviderCall) -> None:
        info = self.model(call.model)
        if "edit-sequential" in call.model and not call.references:
            raise InputError(f"{self.name}/{call.model} edits reference images: add 1 to {info.max_references or 10}")
        if call.references and info.max_references == 0 and call.model.endswith("/sequential"):
            raise InputError(
                f"{self.name}/{call.model} takes no reference images; use "
                f"{call.model.replace('/sequential', '/edit-sequential')}"
            )
        super().validate(call)

    def billed_images(self, call: ProviderCall, outcome: CallOutcome, frames_returned: int) -> int:
        return call.frames  # max_images requested, whatever comes back

    def finished(self, state: Mapping[str, Any], call: ProviderCall, pred_id: str) -> bool:
        """True when the prediction is done; raises for a terminal failure."""
        status = str(state.get("status", "")).lower()
        if status in self.failed_states:
            message = self.ctx(call).clean(str(state.get("error") or "no error text"))
            kind = "content" if any(w in message.lower() for w in CONTENT_WORDS) else "job_failed"
            billed = "" if status == "failed" else "; it may still have been billed"
            raise self.ctx(call).error(
                kind, f"prediction {pred_id} ended {status}: {message}{billed}", may_be_billed=status != "failed"
            )
        return status in self.done_states

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        images = await self.reference_urls(client, call) if call.references else None
        body = self.body(call, images)
        outcome = CallOutcome(cost_rule="max_images requested x price per image", sent_fields=scrub(body))
        try:
            answer, _ = await self.create(client, self.submit_url(call), call, body)
        except ProviderError as exc:
            if self.sync_mode and exc.status == 504:
                raise self.ctx(call).error("server", SYNC_GATEWAY_TIMEOUT, status=504, may_be_billed=True) from None
            raise
        pred = self.unwrap(answer, call, may_be_billed=False)
        pred_id = str(first(pred, "id", "request_id", default=""))
        if not pred_id:
            raise self.ctx(call).error("malformed", "no prediction id in the answer", may_be_billed=True)
        outcome.request_id = pred_id
        get_url = (pred.get("urls") or {}).get("get") if isinstance(pred.get("urls"), dict) else None
        url = get_url if isinstance(get_url, str) and same_origin(get_url, self.base_url) else self.result_url(pred_id)

        state: Mapping[str, Any] = pred
        if not self.finished(pred, call, pred_id):  # else: sync mode, or an instant answer

            async def fetch() -> Mapping[str, Any]:
                got = self.unwrap(await self.fetch(client, url, call), call, may_be_billed=True)
                status = str(got.get("status", "")).lower()
                await sink.progress(0.5 if status == "processing" else 0.1, status)
                return got

            state = await self.poll(fetch, lambda got: self.finished(got, call, pred_id), call, job=pred_id)
        outputs = state.get("outputs")
        await self.deliver_outputs(outputs if isinstance(outputs, list) else [], sink)
        outcome.images_billed = call.frames
        return outcome

    async def deliver_outputs(self, outputs: list[Any], sink: FrameSink) -> None:
        """URLs to download, or base64 (naked [doc], or a data: URL) decoded here."""
        for i, output in enumerate(o for o in outputs if isinstance(o, str) and o):
            if output.startswith(("https://", "http://")):
                await sink.url(i, output)
            elif (data := decode_base64(output)) is not None:
                await sink.image(i, data)
            else:
                await sink.failed(i, "output is neither a URL nor readable base64")
