"""Share a run: a ZIP (frames + JSON manifest), a storyboard sheet (one PNG) and an
animated preview (GIF, or WebP).

    python -m playground export RUN_ID --format zip|sheet|gif [--out PATH] [--data-dir DIR]

Everything is built from the run's row in runs.csv and its frames on disk, so a reopened
run exports the same way as a fresh one. The manifest is made of the row only (the row has
no field for a key) and every key value in the environment is replaced as a second guard:
no key reaches an exported file.
"""

from __future__ import annotations

import io
import json
import math
import textwrap
import uuid
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from playground.base.errors import InputError
from playground.core.playground import Playground
from playground.store.codec import plain
from playground.store.merged import StoredRun, load_run

FORMATS = ("zip", "sheet", "gif", "webp")
SUFFIXES = {"zip": ".zip", "sheet": "-sheet.png", "gif": ".gif", "webp": ".webp"}
SHEET_TILE = 480  # px, the long side of one frame on the sheet
ANIMATION_SIDE = 512  # px, the long side of the animated preview
FRAME_MS = 900  # how long each frame of the animation shows

# Manifest sections: which row fields go where (anything else lands in "details").
REQUEST_FIELDS = (
    "prompt",
    "beats",
    "frames_requested",
    "provider",
    "model",
    "mode",
    "size",
    "seed",
    "experiment_id",
    "arm",
    "variant",
    "repeat",
    "ref_count",
    "ref_hashes",
)
COST_FIELDS = (
    "cost_usd",
    "cost_source",
    "estimate_usd",
    "price_per_image_usd",
    "price_source",
    "images_billed",
    "api_calls",
)
LATENCY_FIELDS = ("latency_s", "first_frame_s")
SCORE_FIELDS = (
    "palette_consistency",
    "structure_consistency",
    "subject_consistency",
    "clip_i",
    "dino_i",
    "clip_t",
    "dreamsim",
    "metrics_note",
)
JSON_LIST_FIELDS = ("beats", "ref_hashes", "request_ids", "composed_prompts")


# -- the manifest ----------------------------------------------------------------------------
def manifest(run: StoredRun) -> dict[str, Any]:
    """The request, composed prompts, cost, latency and scores of a run, as one JSON object."""
    row = {k: plain(v) for k, v in run.record.as_row().items()}
    for name in JSON_LIST_FIELDS:
        row[name] = row.get(name) or []
    row["frame_errors"] = {str(n): reason for n, reason in (row.get("frame_errors") or {}).items()}
    sections = {"request": REQUEST_FIELDS, "cost": COST_FIELDS, "latency": LATENCY_FIELDS, "scores": SCORE_FIELDS}
    out: dict[str, Any] = {
        "run_id": row["run_id"],
        "created_at": row["created_at"],
        "status": row["status"],
        "error": row["error"],
    }
    for section, names in sections.items():
        out[section] = {n: row[n] for n in names if n in row}
    out["composed_prompts"] = row["composed_prompts"]
    out["frames"] = [{"number": f.number, "file": f.path.name, "caption": run.caption(f.number)} for f in run.frames]
    taken = {
        "run_id",
        "created_at",
        "status",
        "error",
        "composed_prompts",
        "image_dir",
        *(n for s in sections.values() for n in s),
    }
    out["details"] = {k: v for k, v in row.items() if k not in taken}
    return out


def manifest_json(playground: Playground, run: StoredRun) -> str:
    text = json.dumps(manifest(run), ensure_ascii=False, indent=2)
    # Exact key values only: `redact`'s pattern for auth headers would also eat prompt words
    # such as "key character".
    for secret in playground.secrets():
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


# -- the three formats ----------------------------------------------------------------------
def write_zip(playground: Playground, run: StoredRun, out: Path) -> Path:
    """<run_id>/manifest.json and <run_id>/frame_NN.<ext> (the original bytes)."""
    root = run.record.run_id
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{root}/manifest.json", manifest_json(playground, run))
        for frame in run.frames:
            # frames are already compressed images: store them as they are
            archive.write(frame.path, f"{root}/{frame.path.name}", compress_type=zipfile.ZIP_STORED)
    return out


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the bitmap font still works
        return ImageFont.load_default()


def _thumb(path: Path, side: int) -> Image.Image:
    with Image.open(path) as image:
        image.draft("RGB", (side, side))
        thumb = image.convert("RGB")
    thumb.thumbnail((side, side))
    return thumb


def _wrap(text: str, width: int, lines: int) -> list[str]:
    wrapped = textwrap.wrap(text, width=width) or [""]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines]
        wrapped[-1] = wrapped[-1][: max(0, width - 1)].rstrip() + "…"
    return wrapped


def sheet_columns(count: int) -> int:
    """Comic-page layout: 2 across up to 4 frames, 3 up to 9, then 4."""
    return max(1, min(count, 2 if count <= 4 else 3 if count <= 9 else 4))


def write_sheet(run: StoredRun, out: Path, tile: int = SHEET_TILE) -> Path:
    """Frames in a grid, each captioned with its beat, under a header naming the run."""
    if not run.frames:
        raise InputError(f"run {run.record.run_id} has no frames to put on a sheet")
    thumbs = [_thumb(f.path, tile) for f in run.frames]
    cols = sheet_columns(len(thumbs))
    rows = math.ceil(len(thumbs) / cols)
    cell_h = max(t.height for t in thumbs)
    pad, caption_h, header_h = 16, 64, 84
    width = pad + cols * (tile + pad)
    height = header_h + rows * (cell_h + caption_h + pad) + pad
    sheet = Image.new("RGB", (width, height), (250, 249, 246))
    draw = ImageDraw.Draw(sheet)
    title, small = _font(22), _font(17)
    r = run.record
    draw.text((pad, pad), _wrap(r.prompt or "", 110 * cols // 3, 1)[0], fill=(20, 20, 20), font=title)
    info = f"{r.provider}/{r.model} · {r.mode} · {r.frames_returned}/{r.frames_requested} frames · ${r.cost_usd or 0:.4f} · run {r.run_id}"
    draw.text((pad, pad + 34), info, fill=(90, 90, 90), font=small)
    for i, (frame, thumb) in enumerate(zip(run.frames, thumbs)):
        x = pad + (i % cols) * (tile + pad)
        y = header_h + (i // cols) * (cell_h + caption_h + pad)
        sheet.paste(thumb, (x + (tile - thumb.width) // 2, y + (cell_h - thumb.height) // 2))
        draw.rectangle((x - 1, y - 1, x + tile, y + cell_h), outline=(30, 30, 30), width=2)
        lines = _wrap(f"{frame.number}. {run.caption(frame.number)}", max(20, tile // 9), 2)
        for j, line in enumerate(lines):
            draw.text((x, y + cell_h + 8 + j * 24), line, fill=(25, 25, 25), font=small)
    sheet.save(out, format="PNG", optimize=True)
    return out


def write_animation(run: StoredRun, out: Path, fmt: str = "gif", side: int = ANIMATION_SIDE) -> Path:
    """The frames in order as a looping GIF (or animated WebP), each shown FRAME_MS."""
    if not run.frames:
        raise InputError(f"run {run.record.run_id} has no frames to animate")
    thumbs = [_thumb(f.path, side) for f in run.frames]
    size = (max(t.width for t in thumbs), max(t.height for t in thumbs))
    canvas = []
    for thumb in thumbs:  # frames of one animation must share a size: centre each on black
        frame = Image.new("RGB", size, (0, 0, 0))
        frame.paste(thumb, ((size[0] - thumb.width) // 2, (size[1] - thumb.height) // 2))
        canvas.append(frame)
    if fmt == "gif":
        canvas = [c.quantize(colors=255, method=Image.Quantize.FASTOCTREE) for c in canvas]
        canvas[0].save(
            out,
            format="GIF",
            save_all=True,
            append_images=canvas[1:],
            duration=FRAME_MS,
            loop=0,
            optimize=False,
            disposal=1,
        )
    else:
        canvas[0].save(
            out, format="WEBP", save_all=True, append_images=canvas[1:], duration=FRAME_MS, loop=0, quality=80
        )
    return out


def default_path(run_id: str, fmt: str, directory: Path = Path(".")) -> Path:
    return directory / f"{run_id}{SUFFIXES[fmt]}"


def export_run(playground: Playground, run_id: str, fmt: str, out: Path | None = None) -> Path:
    """Write one export of a logged run and return its path (default: ./<run_id><suffix>)."""
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    run = load_run(playground, run_id)
    if not run.frames:
        raise InputError(f"run {run.record.run_id} has no frames on disk (status {run.record.status})")
    target = Path(out) if out else default_path(run.record.run_id, fmt)
    if target.is_dir() or not target.suffix:  # a directory, existing or to be made
        target = default_path(run.record.run_id, fmt, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A half-written export never has the final name; the random part keeps two sessions
    # exporting the same run at once from writing into one file.
    part = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        if fmt == "zip":
            write_zip(playground, run, part)
        elif fmt == "sheet":
            write_sheet(run, part)
        else:
            write_animation(run, part, fmt)
        part.replace(target)
    except (OSError, ValueError) as exc:  # a frame on disk that no longer decodes, a full disk
        raise InputError(f"could not export run {run.record.run_id} as {fmt}: {type(exc).__name__}: {exc}") from None
    finally:
        part.unlink(missing_ok=True)  # gone already after the rename; a failed export leaves nothing
    return target


def run_exports(playground: Playground, run_id: str) -> dict[str, Path]:
    """ZIP, sheet and GIF of a run in DATA_DIR/runs/<run_id>/exports (made once, then reused)."""
    run_dir = playground.log.run_dir(run_id)
    exports = {}
    for fmt in ("zip", "sheet", "gif"):
        path = default_path(run_id, fmt, run_dir / "exports")
        exports[fmt] = path if path.exists() else export_run(playground, run_id, fmt, path)
    return exports


def manifest_from_zip(data: bytes) -> dict[str, Any]:
    """Read the manifest back out of an exported ZIP (tests and tools)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/manifest.json"))
        manifest: dict[str, Any] = json.loads(archive.read(name))
        return manifest
