"""Import frames made elsewhere (Midjourney, a local ComfyUI, ...) as a run with provider
`import`, so they take part in comparisons, metrics and exports like any other run.

    python -m playground import FRAME... --model NAME --cost USD --prompt TEXT [--beat ...] [--json]

Each file is decoded as an image before anything is written; the frames are copied as
DATA_DIR/runs/<run_id>/frame_NN.<ext> with a preview, scored with the same metrics as a
generated run, and logged as one ordinary row (provider "import", cost_source "user":
the cost is what the user typed, from 0 to MAX_IMPORT_USD). An imported run was paid
elsewhere: it is not this app's spend, so the spend caps never count it. A rejected import
writes nothing and logs nothing: there was no run.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image

from playground.base import prompts
from playground.base.errors import InputError
from playground.base.ids import new_run_id, utc_now
from playground.base.images import check_image
from playground.base.types import IMPORT_PROVIDER, MAX_FRAMES, RunRecord
from playground.core.plan import check_story
from playground.core.playground import Playground
from playground.core.scoring import score_into
from playground.store.rundir import make_preview, save_frame

MAX_IMPORT_BYTES = 64 * 1024 * 1024  # per frame: well above any real export, below a memory problem
MAX_IMPORT_USD = 1000.0  # a run of at most MAX_FRAMES frames made elsewhere: far above any real price


def read_frames(frames: list[Path]) -> list[bytes]:
    """Each file's bytes, checked to decode as an image; the first bad file stops the import."""
    if not frames:
        raise InputError("no frames given: pass one or more image files")
    if len(frames) > MAX_FRAMES:
        raise InputError(f"{len(frames)} frames: a run holds at most {MAX_FRAMES}")
    data = []
    for path in frames:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_IMPORT_BYTES:
                raise InputError(f"{path.name}: larger than {MAX_IMPORT_BYTES // 2**20} MB")
            raw = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path.name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        try:
            check_image(raw)
        except ValueError as exc:
            raise InputError(f"{path.name}: {exc}") from None
        data.append(raw)
    return data


def check_fields(model: str, cost_usd: object, prompt: str, beats: list[str], mode: str, frames: int) -> None:
    if not model or not model.strip():
        raise InputError("the model name is empty: say which tool and model made the frames, e.g. midjourney-v7")
    if (
        isinstance(cost_usd, bool)
        or not isinstance(cost_usd, (int, float))
        or not math.isfinite(cost_usd)
        or not 0 <= cost_usd <= MAX_IMPORT_USD
    ):
        raise InputError(
            f"the cost must be a number of US dollars, 0 or more and at most {MAX_IMPORT_USD:g} "
            f"(what the frames cost elsewhere), got {cost_usd!r}"
        )
    # the run's own story checks and words (core.plan), but for what a run that was sent elsewhere
    # already settled: how many frames, and how long the prompt with its beats was
    check_story(
        prompt,
        beats,
        frames,
        mode,
        empty="the prompt is empty: give the prompt the frames were made from",
        frames_range=False,
        total=False,
    )


def composed_prompts(prompt: str, beats: list[str], frames: int, mode: str) -> list[str]:
    """What the playground would have sent for this story (the metrics' text side)."""
    if mode == "sequence":
        return [prompts.sequence_prompt(prompt, beats, frames)]
    return [prompts.frame_prompt(prompt, beats[i] if i < len(beats) else "") for i in range(frames)]


def _image_size(path: Path) -> str:
    with Image.open(path) as image:
        return f"{image.width}x{image.height}"


def import_run(
    playground: Playground,
    frames: list[Path],
    model: str,
    cost_usd: float,
    prompt: str,
    beats: list[str],
    mode: str = "sequence",
    experiment_id: str = "",
    arm: str = "",
    variant: str = "",
) -> RunRecord:
    """Check, copy, preview, score and log frames made elsewhere; return the logged row."""
    beats = [b.strip() for b in beats if b and b.strip()]
    check_fields(model, cost_usd, prompt, beats, mode, len(frames))
    data = read_frames(list(frames))
    record = RunRecord(
        run_id=new_run_id(),
        experiment_id=experiment_id,
        created_at=utc_now(),
        provider=IMPORT_PROVIDER,
        model=model.strip(),
        mode=mode,
        prompt=prompt,
        beats=beats,
        frames_requested=len(data),
        frames_returned=len(data),
        images_billed=len(data),
        cost_usd=round(float(cost_usd), 6),
        estimate_usd=round(float(cost_usd), 6),
        price_per_image_usd=round(float(cost_usd) / len(data), 6),
        cost_source="user",
        price_source="typed by the user at import",
        status="ok",
        arm=arm,
        variant=variant,
    )
    run_dir = playground.log.run_dir(record.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = [save_frame(run_dir, i + 1, raw) for i, raw in enumerate(data)]
    for path in paths:
        make_preview(path)
    record.image_dir, record.size = str(run_dir), _image_size(paths[0])
    record.composed_prompts = composed_prompts(prompt, beats, len(paths), mode)
    score_into(record, paths)
    playground.log.append(record)
    return record
