"""`replicate`: official models on Replicate's predictions API (Seedream 4 / 4.5, Nano Banana,
FLUX Kontext Pro, FLUX 1.1 Pro), each with its own input schema.

Wire protocol. Checked by the official client `replicate` against the emulator (tests/
conformance/test_replicate_sdk.py), marked [sdk replicate 1.0.7 FILE]; otherwise [doc]
replicate.com, [3p] or [guess]:
- REPLICATE_BASE_URL has the client's meaning: the host root (default https://api.replicate.com),
  every path starting /v1/ appended [sdk replicate 1.0.7 replicate/client.py
  _build_httpx_client]; `Authorization: Bearer REPLICATE_API_TOKEN` [sdk].
- POST {base}/v1/models/{owner}/{name}/predictions with {"input": {...}} [sdk replicate/model.py
  ModelsPredictions.create], `Prefer: wait` (the client's `run()` sends the same [sdk
  replicate/run.py, prediction.py _create_prediction_headers]): the answer comes when the
  prediction is done or after 60 s, as the prediction so far [doc
  replicate.com/docs/topics/predictions/create-a-prediction]. Also `Cancel-After` set to the
  poll deadline in whole minutes, so a prediction we could not cancel (the run stopped while the
  POST was still waiting, before its id was known) is ended by Replicate: `aborted` if it had
  not started (not charged), `canceled` if it had [doc replicate.com/changelog/2025-10-16-
  prediction-deadlines; the "Nm" form is the one the changelog shows].
- A blocking answer is final when `succeeded`, or `processing` with the output already there
  ("the output field will contain all file outputs but status may still be processing" [doc]);
  else the prediction is polled at urls.get (only on the configured host, so the token never
  leaves it), else {base}/v1/predictions/{id} [sdk prediction.py], until a terminal status:
  succeeded, failed, canceled [sdk prediction.py Prediction.status], or aborted (the deadline
  passed before it started [doc lifecycle]; the 1.0.7 client's type cannot parse it, the adapter
  reads it). Cancel: POST urls.cancel (else {base}/v1/predictions/{id}/cancel) [sdk] at the
  poll deadline or when the run is stopped.
- Inputs per model [doc replicate.com/{model}/versions/.../api]: Seedream 4 / 4.5 take
  `size` (1K/2K/4K or "custom" with width/height 1024..4096; 4.5 has no 1K), `aspect_ratio`,
  `sequential_image_generation` auto/disabled, `max_images` (1..15, references + images <= 15)
  and references as `image_input` (a list, 1..10 for 4, 1..14 for 4.5); google/nano-banana
  `image_input` (a list) and `aspect_ratio` [3p: newer versions]; flux-kontext-pro one
  `input_image`, `aspect_ratio`, `seed`; flux-1.1-pro no reference, `aspect_ratio` ("custom"
  with width/height 256..1440 in multiples of 32), `seed`. References go as data URIs (the
  client's `file_encoding_strategy="base64"` sends the same form [sdk replicate/helpers.py
  base64_encode_file]; no upload round trip, no token sent to a file host). An id not listed
  gets its family's schema by name (seedream, nano-banana, kontext), else `prompt` alone [guess].
- Output: a URL string, or a list of them (Seedream) [doc]; data: URIs are decoded. Outputs are
  downloaded by the core without the token (the client's FileOutput.read sends it along
  [sdk helpers.py]; a file host needs none [guess]).
- Errors: problem details {"title", "detail", "status"} [sdk replicate/exceptions.py
  ReplicateError.from_response]; a failed prediction's `error` text (E005: flagged as sensitive
  [doc replicate error codes]) is a failed call, refused for content when it says so.
- Billing: per output image at the model's price [doc model pages show "$X per image"; the
  figures 3p]; a failed or aborted prediction is taken as not billed, a canceled one as
  possibly billed [doc prediction-deadlines]. An id not listed is capped at a high per-image
  price [guess].
- Retries: the client never re-sends a POST and retries GETs on 429/503/504 [sdk client.py
  RetryTransport]; the adapter re-sends a create only on 429 or before it went out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from playground.base.errors import InputError, ProviderError
from playground.base.pricing import Price, parse_wh
from playground.base.types import CallOutcome, ModelInfo, ProviderCall
from playground.providers.base import FrameSink
from playground.providers.http import (
    CONTENT_WORDS,
    HttpProvider,
    coded_error,
    decode_base64,
    extract_error,
    json_body,
    same_origin,
    scrub,
)
from playground.providers.limiter import parse_retry_after
from playground.providers.seedream import SEEDREAM
from playground.providers.sizes import nearest_ratio

# aspect_ratio values per family [doc the models' API pages; 3p for nano-banana's newer versions]
SEEDREAM_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9")
NANO_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
KONTEXT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4", "21:9", "9:21", "2:1", "1:2")
FLUX_RATIOS = ("1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3")
TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
WAITING = frozenset({"starting", "processing"})

_ONE_IMAGE = ModelInfo(id="", label="", max_frames=1, default_size="1024x1024")


def family(model: str) -> str:
    """Which input schema an id speaks, by its name: seedream, nano-banana, kontext, flux, or
    generic (prompt alone)."""
    name = model.rsplit("/", 1)[-1]
    for key in ("seedream", "nano-banana", "kontext"):
        if key in name:
            return key
    return "flux" if model.startswith("black-forest-labs/flux") else "generic"


class ReplicateProvider(HttpProvider):
    name = "replicate"
    label = "Replicate"
    key_env = "REPLICATE_API_TOKEN"
    base_url_env = "REPLICATE_BASE_URL"
    default_base_url = "https://api.replicate.com"
    models = (
        replace(
            SEEDREAM,
            id="bytedance/seedream-4",
            label="Seedream 4.0 (Replicate)",
            max_references=10,
            default_size="2K",
            note="up to 15; up to 10 references",
            price=Price(0.03, "Seedream 4 on Replicate $0.03/image [3p]"),
        ),
        replace(
            SEEDREAM,
            id="bytedance/seedream-4.5",
            label="Seedream 4.5 (Replicate)",
            max_references=14,
            default_size="2K",
            note="up to 15; up to 14 references",
            price=Price(
                0.04,
                "Seedream 4.5 on Replicate $0.04/image [3p]",
                most=0.045,
                most_source="$0.045/image, the higher source [3p]",
            ),
        ),
        replace(
            _ONE_IMAGE,
            id="google/nano-banana",
            label="Nano Banana (Gemini 2.5 Flash Image, Replicate)",
            max_references=3,  # "supports multiple images" [doc]; Google's best results with up to 3 [doc]
            note="up to 3 references",
            price=Price(0.039, "Nano Banana on Replicate $0.039/image [guess: Google's per-image figure]"),
        ),
        replace(
            _ONE_IMAGE,
            id="black-forest-labs/flux-kontext-pro",
            label="FLUX.1 Kontext [pro] (Replicate)",
            max_references=1,
            takes_seed=True,
            note="1 reference; seed",
            price=Price(0.04, "FLUX Kontext Pro on Replicate $0.04/image [3p]"),
        ),
        replace(
            _ONE_IMAGE,
            id="black-forest-labs/flux-1.1-pro",
            label="FLUX1.1 [pro] (Replicate)",
            takes_seed=True,
            note="seed; no reference",
            price=Price(0.04, "FLUX 1.1 Pro on Replicate $0.04/image [3p]"),
        ),
    )
    # a typed id may be any model: typical $0.04, capped at $0.30 an image, above the dearest
    # per-image price found (Nano Banana Pro at 4K, $0.24 at Google) [guess]; a model billed by
    # GPU time has no per-image bound at all
    fallback_price = Price(
        0.04,
        "Replicate fallback $0.04/image [guess]",
        most=0.30,
        most_source="$0.30/image for a model not listed [guess]",
    )
    price_note = "x output images"
    listing_order = 90
    max_concurrency = 4
    model_id_segments = 2  # owner/name [doc]; versions (owner/name:id) are not taken
    protocol = (
        "POST /v1/models/{owner}/{name}/predictions {input} with `Prefer: wait`; poll urls.get when "
        "the wait ends first; cancel urls.cancel"
    )
    billing_rule = "per output image at the model's price [doc rule, 3p prices]"
    billing_details = (
        "per output image at the model's price (a list's length; 1 for one URL); a failed or `aborted` "
        "prediction is not billed, a `canceled` one possibly; an id not listed counts at most $0.30 an "
        "image. The rule [doc]; the prices [3p], nano-banana's and the cap [guess]"
    )

    @classmethod
    def model(cls, model_id: str) -> ModelInfo:
        """An id not listed takes the limits of its family (by name); other ids one image, no
        references, no seed [guess]."""
        for info in cls.models:
            if info.id == model_id:
                return info
        kin = {
            "seedream": "bytedance/seedream-4.5",
            "nano-banana": "google/nano-banana",
            "kontext": "black-forest-labs/flux-kontext-pro",
            "flux": "black-forest-labs/flux-1.1-pro",
        }
        template = next((m for m in cls.models if m.id == kin.get(family(model_id))), _ONE_IMAGE)
        return replace(template, id=model_id, label=f"{model_id} (not in the model list)", price=None, note="")

    def validate(self, call: ProviderCall) -> None:
        super().validate(call)
        if family(call.model) != "seedream":
            return
        if call.size.upper() == "1K" and "4.5" in call.model:
            raise InputError(f"replicate/{call.model} takes size 2K, 4K or WxH, not 1K")
        wh = parse_wh(call.size)
        if wh and not all(1024 <= side <= 4096 for side in wh):
            raise InputError(
                f"replicate/{call.model} takes a custom size of 1024 to 4096 pixels a side, not {call.size!r}"
            )

    def inputs(self, call: ProviderCall) -> dict[str, Any]:
        """The model's own input schema (see the module docstring)."""
        refs = [ref.data_url() for ref in call.references]
        kind = family(call.model)
        inputs: dict[str, Any] = {"prompt": call.prompt}
        if kind == "seedream":
            inputs.update(self.seedream_size(call.size, bool(refs)))
            if refs:
                inputs["image_input"] = refs
            if call.frames > 1:
                inputs.update(sequential_image_generation="auto", max_images=call.frames)
            else:
                inputs["sequential_image_generation"] = "disabled"
        elif kind == "nano-banana":
            inputs.update({"image_input": refs} if refs else {})
            inputs["aspect_ratio"] = nearest_ratio(call.size, NANO_RATIOS) or ("match_input_image" if refs else "1:1")
        elif kind == "kontext":
            inputs.update({"input_image": refs[0]} if refs else {})
            inputs["aspect_ratio"] = nearest_ratio(call.size, KONTEXT_RATIOS) or (
                "match_input_image" if refs else "1:1"
            )
        elif kind == "flux":
            inputs.update(self.flux_size(call.size))
        if call.seed is not None and kind in ("kontext", "flux"):
            inputs["seed"] = call.seed
        return inputs

    @staticmethod
    def seedream_size(size: str, has_refs: bool) -> dict[str, Any]:
        """ "1K".."4K" as `size` (with 1:1 unless references set the shape), WxH as "custom" with
        width and height, "auto" as nothing (the model's defaults: 2K, the input's shape) [doc]."""
        wh = parse_wh(size)
        if wh:
            return {"size": "custom", "width": wh[0], "height": wh[1]}
        if size.upper() in ("1K", "2K", "4K"):
            return {"size": size.upper()} if has_refs else {"size": size.upper(), "aspect_ratio": "1:1"}
        return {}

    @staticmethod
    def flux_size(size: str) -> dict[str, Any]:
        """A WxH of 256..1440 a side in multiples of 32 as "custom" width/height, any other as the
        nearest documented aspect ratio (about one megapixel) [doc]."""
        wh = parse_wh(size)
        if wh and all(256 <= side <= 1440 and side % 32 == 0 for side in wh):
            return {"aspect_ratio": "custom", "width": wh[0], "height": wh[1]}
        return {"aspect_ratio": nearest_ratio(size, FLUX_RATIOS) or "1:1"}

    def cancel_after(self) -> str:
        """The Cancel-After value: the poll deadline in whole minutes, rounded up [doc form "1m"]."""
        return f"{max(1, math.ceil(self.poll_policy.deadline_s / 60))}m"

    def refine(self, status: int, code: str, message: str) -> str | None:
        if status == 402 or "insufficient credit" in message.lower():
            return "quota"
        return None

    def error(self, resp: httpx.Response, call: ProviderCall, *, may_be_billed: bool = False) -> ProviderError:
        """Problem details {"title", "detail", "status"} [sdk exceptions.py]: the title is the code."""
        try:
            body: Any = resp.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        title = str(body.get("title") or "") if isinstance(body, Mapping) else ""
        _, message = extract_error(body, resp.text if body is None else "")
        ctx = self.ctx(call)
        where = f"HTTP {resp.status_code}" + (f", {ctx.clean(title)}" if title else "")
        return coded_error(
            ctx,
            resp.status_code,
            title,
            message,
            where=where,
            may_be_billed=may_be_billed,
            refine=self.refine,
            retry_after=parse_retry_after(resp.headers.get("retry-after")),
        )

    async def generate(self, call: ProviderCall, client: httpx.AsyncClient, sink: FrameSink) -> CallOutcome:
        body = {"input": self.inputs(call)}
        outcome = CallOutcome(seed_sent=call.seed if "seed" in body["input"] else None, sent_fields=scrub(body))
        url = f"{self.base_url}/v1/models/{call.model}/predictions"
        resp = await self.request(
            client,
            "POST",
            url,
            call,
            repeatable=False,
            json=body,
            headers={"Prefer": "wait", "Cancel-After": self.cancel_after()},
        )
        if resp.status_code >= 400:
            raise self.error(resp, call, may_be_billed=resp.status_code >= 500)
        pred = self.prediction(json_body(resp, self.ctx(call), may_be_billed=True), call)
        pred_id = str(pred["id"])
        outcome.request_id = pred_id
        if not self.finished(pred, call, blocking=True):
            given = pred.get("urls")
            urls: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
            get_url = self.own_url(urls.get("get"), f"{self.base_url}/v1/predictions/{pred_id}")
            cancel_url = self.own_url(urls.get("cancel"), f"{self.base_url}/v1/predictions/{pred_id}/cancel")

            async def fetch() -> Mapping[str, Any]:
                state = self.prediction(await self.fetch(client, get_url, call), call)
                await sink.progress(0.5 if state.get("status") == "processing" else 0.1, str(state.get("status")))
                return state

            async def cancel() -> None:
                resp = await self.request(client, "POST", cancel_url, call, repeatable=True, job_exists=True)
                await resp.aclose()
                if resp.status_code >= 300:
                    raise self.error(resp, call, may_be_billed=True)

            pred = await self.poll(
                fetch, lambda state: self.finished(state, call, blocking=False), call, cancel=cancel, job=pred_id
            )
        outputs = self.outputs(pred, call)
        await self.deliver(outputs, call, sink)
        outcome.images_billed = len(outputs)
        outcome.cost_rule = f"{len(outputs)} output image(s) x price per image"
        return outcome

    def own_url(self, url: Any, fallback: str) -> str:
        return url if isinstance(url, str) and same_origin(url, self.base_url) else fallback

    def prediction(self, answer: Any, call: ProviderCall) -> Mapping[str, Any]:
        if not isinstance(answer, Mapping) or not isinstance(answer.get("id"), str) or not answer["id"]:
            raise self.ctx(call).error("malformed", "the answer is not a prediction (no id)", may_be_billed=True)
        return answer

    def finished(self, pred: Mapping[str, Any], call: ProviderCall, *, blocking: bool) -> bool:
        """True when the outputs are there; raises for a prediction that ended without them."""
        status = str(pred.get("status", ""))
        ctx = self.ctx(call)
        if status == "succeeded" or (blocking and status == "processing" and pred.get("output")):
            return True
        if status in WAITING:
            return False
        if status in ("failed", "canceled", "aborted"):
            message = ctx.clean(str(pred.get("error") or "no error text"))
            kind = (
                "content" if status == "failed" and any(w in message.lower() for w in CONTENT_WORDS) else "job_failed"
            )
            billed = status == "canceled"  # charged for the time it ran [doc]; failed and aborted are not [guess, doc]
            note = "; it may have been billed" if billed else ""
            raise ctx.error(
                kind, f"prediction {ctx.clean(str(pred['id']))} {status}: {message}{note}", may_be_billed=billed
            )
        raise ctx.error(
            "malformed",
            f"prediction {ctx.clean(str(pred['id']))}: unknown status {ctx.clean(status)[:40]!r}",
            may_be_billed=True,
        )

    def outputs(self, pred: Mapping[str, Any], call: ProviderCall) -> list[Any]:
        """The output as a list: one URL string, or a list of them [doc]."""
        output = pred.get("output")
        if isinstance(output, str):
            return [output]
        if isinstance(output, list):
            return output
        raise self.ctx(call).error(
            "malformed", f"prediction {pred['id']} succeeded without an output URL", may_be_billed=True
        )

    async def deliver(self, outputs: list[Any], call: ProviderCall, sink: FrameSink) -> None:
        for i, output in enumerate(outputs):
            if isinstance(output, str) and output.startswith(("https://", "http://")):
                await sink.url(i, output)
            elif isinstance(output, str) and output.startswith("data:") and (data := decode_base64(output)):
                await sink.image(i, data)
            else:
                await sink.failed(i, "output is neither a URL nor a readable data URI")
        for i in range(len(outputs), call.frames):
            await sink.failed(i, f"{self.label} returned {len(outputs)} of {call.frames} image(s)")


ADAPTER = ReplicateProvider
