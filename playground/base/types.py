"""Plain data shapes shared by the core, the providers, the CLI and the UI.

Nothing here imports Gradio or httpx: these are the nouns of the playground.

    GenerationRequest  what the user asked for (one run)
    ProviderCall       one HTTP call's worth of work, derived from a request by the core
                       (a `sequence` run is one call for N frames, a `baseline` run N calls for 1,
                       a `chain` run N calls for 1 where calls 2..N take an earlier frame as reference)
    CallOutcome        what one call reports back besides its frames (ids, billing)
    RunRecord          one row of runs.csv: field order is column order, new fields go last; its
                       list and mapping columns are typed here and encoded only where the row is
                       written or read (store/codec.py)
    Frame, RunResult   a run's frames on disk, typed (the run folder's names: store/rundir.py)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from playground.base.pricing import Price

Mode = Literal["sequence", "baseline", "chain"]
MODES: tuple[Mode, ...] = ("sequence", "baseline", "chain")
# chain mode: frames 2..N each take frame 1 ("first", sent concurrently once frame 1 is back) or
# the frame before it ("previous", one after another) as a reference image
ChainFrom = Literal["first", "previous"]
CHAIN_FROM: tuple[ChainFrom, ...] = ("first", "previous")

# ok: every frame asked for came back; partial: some did; error: none did or the run failed
# before any frame; cancelled: the user stopped it in flight.
Status = Literal["ok", "partial", "error", "cancelled"]

MIN_FRAMES = 1
MAX_FRAMES = 15
MAX_PROMPT_CHARS = 4000
IMPORT_PROVIDER = "import"  # the provider of runs made elsewhere and imported: not this app's spend


@dataclass(frozen=True)
class ModelInfo:
    """What the playground needs to know about one model of one provider."""

    id: str
    label: str
    native_sequence: bool = False  # one call can return a series of frames (Seedream)
    max_frames: int = 1  # frames one call may return
    sizes: tuple[str, ...] = ()  # allowed size strings; empty = any WxH the provider decides on
    default_size: str = "1024x1024"
    max_references: int = 0  # reference images one call accepts (0 = none)
    takes_seed: bool = False  # whether the documented request has a seed field
    retired: bool = False  # kept only for gateways that still serve it; never a default
    frames_plus_references_max: int | None = None  # e.g. 15 for Seedream
    # size limits of a model that takes any WxH (checked by the core before sending)
    max_side: int | None = None  # pixels on the longer side
    max_pixels: int | None = None  # width x height
    max_aspect: float | None = None  # longer side / shorter side
    price: Price | None = None  # None: the provider's fallback_price, marked as an estimate
    note: str = ""  # a word for the tables of the README and docs/providers.md (e.g. "5.0 Lite")

    @property
    def modes(self) -> tuple[Mode, ...]:
        """The modes a run of this model may take (core.plan refuses the others): sequence with
        native sequential generation, chain with reference input, baseline always."""
        return (
            *(("sequence",) if self.native_sequence else ()),
            "baseline",
            *(("chain",) if self.max_references else ()),
        )


@dataclass
class GenerationRequest:
    """One run as the user asked for it (UI form, CLI flags or a batch cell)."""

    prompt: str
    frames: int = 4
    mode: Mode = "sequence"
    provider: str = "local"
    model: str = ""  # "" = the provider's default model
    beats: list[str] = field(default_factory=list)  # optional, one per frame
    size: str = ""  # "" = the model's default size
    seed: int | None = None
    references: list[Path] = field(default_factory=list)
    experiment_id: str = ""
    arm: str = ""
    variant: str = ""
    repeat: int = 0
    story_id: str = ""  # which story of an experiment (batch files, benchmarks)
    chain_from: str = "first"  # chain mode: "first" or "previous" (CHAIN_FROM); ignored by the other modes

    def beat(self, index: int) -> str:
        """The beat of frame `index` (0-based), or "" when the user gave fewer beats."""
        return self.beats[index] if index < len(self.beats) else ""


@dataclass(frozen=True)
class ReferenceImage:
    """A reference image checked, oriented and re-encoded by the core before upload."""

    data: bytes  # PNG or JPEG bytes
    mime: str
    sha256: str
    width: int
    height: int

    def data_url(self) -> str:
        import base64

        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class ProviderCall:
    """One provider call: the core composes the prompt; providers only map fields to the wire."""

    model: str
    prompt: str  # the composed prompt actually sent
    frames: int  # frames this call asks for (1 for a baseline call)
    size: str
    seed: int | None
    references: tuple[ReferenceImage, ...] = ()
    beats: tuple[str, ...] = ()  # captions for the frames of this call (the local stand-in draws them)
    first_frame: int = 0  # index in the run of this call's first frame
    call_index: int = 0  # which call of the run this is (baseline: 0..N-1)
    # chain mode: the run index (0-based) of the frame the run adds as the first reference image
    # once that frame is back; None: no chained reference (the run sends the call with it filled in)
    chain_from: int | None = None
    api_key: str = field(default="", repr=False)  # never logged (RunRecord has no field for it), never in repr()

    @property
    def reference_count(self) -> int:
        """The reference images this call sends: its own and the chained frame still to come."""
        return len(self.references) + (self.chain_from is not None)


@dataclass
class CallOutcome:
    """What a provider call reports besides the frames it delivered to the sink."""

    request_id: str = ""
    images_billed: int | None = None  # as the provider reports it; None = not reported
    cost_usd: float | None = None  # when the provider reports a cost (OpenAI tokens, ...)
    cost_rule: str = ""  # human-readable billing rule applied, e.g. "usage.generated_images"
    seed_sent: int | None = None
    sent_fields: dict[str, object] = field(default_factory=dict)  # request body without the key
    usage: object = None  # the provider's usage block as it came (counts the core checks before trusting a cost)


@dataclass
class RunRecord:
    """One row of runs.csv. Field order is the column order; add new fields at the end only."""

    run_id: str = ""
    experiment_id: str = ""
    created_at: str = ""  # UTC ISO 8601
    provider: str = ""
    model: str = ""
    mode: str = ""
    prompt: str = ""
    beats: list[str] | None = None  # None: empty cell (a row made before beats were known)
    frames_requested: int = 0
    frames_returned: int = 0
    size: str = ""
    seed: int | None = None
    latency_s: float | None = None
    first_frame_s: float | None = None
    api_calls: int = 0
    images_billed: int = 0  # images known to be billed (cost_usd may count more: see cost_source)
    price_per_image_usd: float | None = None
    cost_usd: float = 0.0
    status: str = ""
    error: str = ""
    image_dir: str = ""
    # -- provider detail (issue 8)
    # "reported", "price table", "possibly billed (estimate)" (cost_usd also counts calls that failed
    # after they were sent, which images_billed leaves out) or "estimate (billing failed)"
    cost_source: str = ""
    price_source: str = ""
    request_ids: list[str] | None = None
    seed_sent: int | None = None
    frame_errors: dict[int, str] | None = None  # {frame number: reason}; {} when every failure recovered
    estimate_usd: float | None = None
    # -- experiments (issue 4)
    arm: str = ""
    variant: str = ""
    repeat: int = 0
    composed_prompts: list[str] | None = None  # the prompt(s) actually sent
    # -- references (issue 6)
    ref_count: int = 0
    ref_hashes: list[str] | None = None  # sha256 of each reference image sent
    # -- metrics (issue 3)
    palette_consistency: float | None = None
    structure_consistency: float | None = None
    subject_consistency: float | None = None
    clip_i: float | None = None
    dino_i: float | None = None
    clip_t: float | None = None
    dreamsim: float | None = None
    metrics_note: str = ""
    # -- experiments (issue 4): which story of the experiment this run belongs to
    story_id: str = ""
    # -- the provider's billing rule applied to this run, and what the calls said about it (issue 8)
    billing_rule: str = ""
    # -- the most the run could cost (issue 13): what the spend caps checked; estimate_usd is the typical figure
    max_cost_usd: float | None = None
    # -- chain mode (issue 15): {frame number: the frame number whose image was its chained reference}
    # (frame 1 of a run takes none; None in the other modes)
    reference_frames: dict[int, int] | None = None

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def as_row(self) -> dict[str, object]:
        return dataclasses.asdict(self)


RUN_COLUMNS: list[str] = RunRecord.columns()


@dataclass(frozen=True)
class Frame:
    """One frame of a run on disk (store/rundir.py names the files)."""

    number: int  # 1-based position in the run (gaps where a frame failed)
    path: Path  # the original bytes as received
    preview: Path | None  # the web-sized WebP beside it
    caption: str = ""  # the frame's beat ("" when it has none)

    @property
    def label(self) -> str:
        """How a gallery captions it: with its number, so a frame that did not come back shows as a gap."""
        return f"{self.number}. {self.caption}" if self.caption else f"Frame {self.number}"


@dataclass
class RunResult:
    record: RunRecord
    frames: list[Frame]  # in frame order

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.frames]
