"""Validate the default consistency metrics on labelled sequences built from real photographs.

The photographs are the ones scikit-image ships (they load offline). Three sets, each of
positive and negative sequences of FRAMES frames, from a seeded RNG:

  (a) same photo     positives: one photo, every frame a random crop / shift / mirror /
                     rescale / brightness-contrast change of it; negatives: a different photo
                     in every frame (same augmentations).
  (b) identity       positives: the SAME cut-out subject pasted at a random place and scale
                     onto a DIFFERENT background in every frame; negatives: a different
                     subject in every frame, backgrounds drawn the same way.
  (c) shared scene   one background scene for the whole sequence (each frame a slightly
                     different crop / mirror / exposure of it); positives: the same subject in
                     every frame, negatives: a different subject in every frame. The trap
                     for whole-frame metrics: both classes share most of their pixels.

For each metric, ROC AUC = P(score of a random positive > score of a random negative),
computed with the Mann-Whitney statistic (ties count one half).

    python -m bench.validate_metrics [--sequences 120] [--seed 0] [--out table.md]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from playground.metrics import DEFAULT_METRICS
from playground.metrics.classic import default_scores, mean_pairwise, palette_descriptor
from playground.metrics.image import load_frame, srgb_to_lab

FRAME_SIDE = 256
FRAMES = 4


@dataclass(frozen=True)
class Cutout:
    """A subject cut out of a photograph: its pixels and a soft alpha mask."""

    name: str
    rgb: np.ndarray  # (h, w, 3) uint8, cropped to the mask's bounding box
    alpha: np.ndarray  # (h, w) float in [0, 1]


# ---------------------------------------------------------------- subjects


def _polygon_mask(
    shape: tuple[int, int], polygons: list[list[tuple[int, int]]], ellipses: list[tuple[int, int, int, int]] = ()
) -> np.ndarray:
    """A boolean mask drawn from polygons and (cx, cy, rx, ry) ellipses."""
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    draw = ImageDraw.Draw(canvas)
    for points in polygons:
        draw.polygon(points, fill=255)
    for cx, cy, rx, ry in ellipses:
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return np.asarray(canvas) > 0


def _largest_component(mask: np.ndarray) -> np.ndarray:
    from skimage import measure, morphology

    labels = measure.label(morphology.opening(mask, morphology.disk(2)))
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


def _cut(name: str, rgb: np.ndarray, mask: np.ndarray) -> Cutout:
    rows, cols = np.nonzero(mask)
    box = slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)
    alpha = (
        np.asarray(Image.fromarray((mask[box] * 255).astype(np.uint8)).filter(_feather())) / 255.0
    )  # soft edges, as a real cut-out has
    return Cutout(name, np.ascontiguousarray(rgb[box]), alpha)


def _feather():
    from PIL import ImageFilter

    return ImageFilter.GaussianBlur(1.0)


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def load_subjects() -> list[Cutout]:
    """Twelve subjects: objects cut from the shipped photos with hand-placed masks or
    thresholds, the horse silhouette given a coat, and a synthetic striped star."""
    from skimage import data

    cat, astronaut, coffee, rocket = data.chelsea(), data.astronaut(), data.coffee(), data.rocket()
    motorcycle = data.stereo_motorcycle()[0]
    camera, coins = data.camera(), data.coins()
    subjects = [
        _cut("cat", cat, _polygon_mask(cat.shape[:2], [], [(215, 160, 185, 155)])),
        _cut(
            "astronaut",
            astronaut,
            _polygon_mask(
                astronaut.shape[:2],
                [[(40, 260), (120, 190), (320, 190), (370, 300), (350, 511), (30, 511)]],
                [(225, 95, 75, 90)],
            ),
        ),
        _cut("shuttle", astronaut, _polygon_mask(astronaut.shape[:2], [], [(410, 140, 55, 140)])),
        _cut("rocket", rocket, _polygon_mask(rocket.shape[:2], [[(290, 120), (355, 120), (360, 420), (285, 420)]])),
        _cut("coffee", coffee, _polygon_mask(coffee.shape[:2], [], [(278, 225, 205, 165)])),
        _cut(
            "motorcycle",
            motorcycle,
            _polygon_mask(
                motorcycle.shape[:2],
                [
                    [
                        (95, 200),
                        (150, 160),
                        (350, 180),
                        (470, 150),
                        (530, 100),
                        (590, 130),
                        (680, 330),
                        (690, 440),
                        (600, 450),
                        (480, 380),
                        (280, 400),
                        (140, 390),
                        (120, 300),
                    ]
                ],
            ),
        ),
        _cut("logo", data.logo()[..., :3], _polygon_mask((500, 500), [], [(250, 250, 245, 245)])),
        _cut("colorwheel", data.colorwheel(), _polygon_mask(data.colorwheel().shape[:2], [], [(185, 185, 180, 180)])),
        _cut("cameraman", _grey_to_rgb(camera), _largest_component(camera < 60)),
        _cut("coin", _grey_to_rgb(coins), _polygon_mask(coins.shape, [], [(347, 187, 33, 32)])),
        _cut("horse", _horse_coat(), ~data.horse()),
        _synthetic_star(),
    ]
    return subjects


def _horse_coat() -> np.ndarray:
    """A chestnut coat (gravel texture tinted brown) for the binary horse silhouette."""
    from skimage import data

    texture = np.asarray(Image.fromarray(data.gravel()).resize((400, 328))) / 255.0
    coat = np.array([150, 80, 40]) * (0.6 + 0.6 * texture[..., None])
    return np.clip(coat, 0, 255).astype(np.uint8)


def _synthetic_star() -> Cutout:
    side = 200
    angles = np.linspace(0, 2 * np.pi, 11)[:-1] - np.pi / 2
    radii = np.where(np.arange(10) % 2 == 0, 95, 40)
    points = [(int(100 + r * np.cos(a)), int(100 + r * np.sin(a))) for r, a in zip(radii, angles)]
    stripes = (np.arange(side)[:, None] + np.arange(side)[None, :]) // 12 % 2
    rgb = np.where(stripes[..., None] == 1, [120, 40, 160], [240, 200, 60]).astype(np.uint8)
    return _cut("star", rgb, _polygon_mask((side, side), [points]))


# ---------------------------------------------------------------- backgrounds and photos


def load_background_photos() -> list[np.ndarray]:
    """Scenes no subject is cut from, plus textures tinted at draw time."""
    from skimage import data

    photos = [
        data.hubble_deep_field(),
        data.immunohistochemistry(),
        data.retina(),
        _grey_to_rgb(data.moon()),
        _grey_to_rgb(data.cell()),
        _grey_to_rgb(data.clock()),
        _grey_to_rgb(data.page()),
    ]
    textures = [_grey_to_rgb(texture()) for texture in (data.grass, data.brick, data.gravel)]
    return photos + textures


def load_scene_photos() -> list[np.ndarray]:
    """Every shipped colour or grey photograph, for set (a)."""
    from skimage import data

    colour = [
        data.astronaut(),
        data.chelsea(),
        data.coffee(),
        data.rocket(),
        data.stereo_motorcycle()[0],
        data.hubble_deep_field(),
        data.immunohistochemistry(),
        data.retina(),
        data.logo()[..., :3],
        data.colorwheel(),
    ]
    grey = [
        data.camera(),
        data.coins(),
        data.moon(),
        data.cell(),
        data.clock(),
        data.page(),
        data.grass(),
        data.brick(),
        data.gravel(),
    ]
    return colour + [_grey_to_rgb(g) for g in grey]


def random_view(
    photo: np.ndarray, rng: np.random.Generator, side: int = FRAME_SIDE, min_fraction: float = 0.6
) -> np.ndarray:
    """A random square crop (60-100% of the short side), maybe mirrored, resized to `side`,
    with brightness and contrast changed by up to about 15%."""
    height, width = photo.shape[:2]
    crop = int(min(height, width) * rng.uniform(min_fraction, 1.0))
    top, left = rng.integers(0, height - crop + 1), rng.integers(0, width - crop + 1)
    view = Image.fromarray(photo[top : top + crop, left : left + crop]).resize((side, side), Image.Resampling.BILINEAR)
    array = np.asarray(view, dtype=np.float64)
    if rng.random() < 0.5:
        array = array[:, ::-1]
    contrast, brightness = rng.uniform(0.85, 1.15), rng.uniform(-20, 20)
    return np.clip((array - 128) * contrast + 128 + brightness, 0, 255).astype(np.uint8)


def random_background(backgrounds: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """A view of a background photo; grey ones get a random colour tint half the time."""
    view = random_view(backgrounds[rng.integers(len(backgrounds))], rng, min_fraction=0.4)
    if np.ptp(view.astype(int)[..., 0] - view[..., 1]) == 0 and rng.random() < 0.5:
        tint = rng.uniform(0.5, 1.0, size=3)
        view = (view * tint / tint.max()).astype(np.uint8)
    return view


def paste(background: np.ndarray, subject: Cutout, rng: np.random.Generator) -> np.ndarray:
    """The subject at a random place, with its longest side 35-75% of the frame's, maybe
    mirrored, under a different light; fully inside the frame."""
    side = background.shape[0]
    longest = int(side * rng.uniform(0.35, 0.75))
    scale = longest / max(subject.rgb.shape[:2])
    size = (max(2, round(subject.rgb.shape[1] * scale)), max(2, round(subject.rgb.shape[0] * scale)))
    rgb = np.asarray(Image.fromarray(subject.rgb).resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    alpha = np.asarray(Image.fromarray((subject.alpha * 255).astype(np.uint8)).resize(size)) / 255.0
    if rng.random() < 0.5:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    # different light in every frame: exposure +-20% and a slight colour cast
    rgb = np.clip(rgb * rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, size=3), 0, 255)
    top = rng.integers(0, side - size[1] + 1)
    left = rng.integers(0, side - size[0] + 1)
    frame = background.astype(np.float64).copy()
    region = frame[top : top + size[1], left : left + size[0]]
    region[:] = alpha[..., None] * rgb + (1 - alpha[..., None]) * region
    return frame.astype(np.uint8)


# ---------------------------------------------------------------- labelled sets

Sequence_ = list[np.ndarray]
SetBuilder = Callable[[int, np.random.Generator], tuple[list[Sequence_], list[Sequence_]]]


def build_same_photo(count: int, rng: np.random.Generator) -> tuple[list[Sequence_], list[Sequence_]]:
    photos = load_scene_photos()
    positives = [[random_view(photos[i], rng) for _ in range(FRAMES)] for i in rng.integers(len(photos), size=count)]
    negatives = [
        [random_view(photos[i], rng) for i in rng.choice(len(photos), FRAMES, replace=False)] for _ in range(count)
    ]
    return positives, negatives


def build_identity(count: int, rng: np.random.Generator) -> tuple[list[Sequence_], list[Sequence_]]:
    subjects, backgrounds = load_subjects(), load_background_photos()

    def sequence(subject_ids: np.ndarray) -> Sequence_:
        return [paste(random_background(backgrounds, rng), subjects[i], rng) for i in subject_ids]

    positives = [sequence(np.repeat(rng.integers(len(subjects)), FRAMES)) for _ in range(count)]
    negatives = [sequence(rng.choice(len(subjects), FRAMES, replace=False)) for _ in range(count)]
    return positives, negatives


def build_shared_scene(count: int, rng: np.random.Generator) -> tuple[list[Sequence_], list[Sequence_]]:
    subjects, backgrounds = load_subjects(), load_background_photos()

    def sequence(subject_ids: np.ndarray) -> Sequence_:
        scene = random_background(backgrounds, rng)  # one place; the camera moves a little in it
        return [paste(random_view(scene, rng, min_fraction=0.8), subjects[i], rng) for i in subject_ids]

    positives = [sequence(np.repeat(rng.integers(len(subjects)), FRAMES)) for _ in range(count)]
    negatives = [sequence(rng.choice(len(subjects), FRAMES, replace=False)) for _ in range(count)]
    return positives, negatives


SETS: dict[str, SetBuilder] = {
    "(a) same photo": build_same_photo,
    "(b) identity, new background each frame": build_identity,
    "(c) shared background, subjects differ": build_shared_scene,
}


# ---------------------------------------------------------------- scoring


def roc_auc(positive_scores: list[float], negative_scores: list[float]) -> float:
    """Mann-Whitney U / (n_pos * n_neg): the chance a positive outscores a negative."""
    positive = np.asarray(positive_scores)[:, None]
    negative = np.asarray(negative_scores)[None, :]
    wins = (positive > negative).sum() + 0.5 * (positive == negative).sum()
    return float(wins / (positive.size * negative.size))


def centre_crop_palette(frames: list[Image.Image]) -> float:
    """Reference only, not a playground metric: palette of the middle 50% of each frame,
    the naive "look at the subject" baseline the subject metric has to beat."""
    descriptors = []
    for frame in frames:
        rgb = load_frame(frame)
        height, width = rgb.shape[:2]
        centre = rgb[height // 4 : height - height // 4, width // 4 : width - width // 4]
        descriptors.append(palette_descriptor(srgb_to_lab(centre)))
    stacked = np.stack(descriptors)
    return mean_pairwise(stacked @ stacked.T)


REFERENCE = "centre-crop palette (reference)"
ROWS = (*DEFAULT_METRICS, REFERENCE)


def score_sequences(sequences: list[Sequence_]) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {name: [] for name in ROWS}
    for frames in sequences:
        images = [Image.fromarray(frame) for frame in frames]
        result = default_scores(images)
        for name in DEFAULT_METRICS:
            scores[name].append(float(result[name]))
        scores[REFERENCE].append(centre_crop_palette(images))
    return scores


@dataclass(frozen=True)
class SetResult:
    auc: dict[str, float]
    positive_mean: dict[str, float]
    negative_mean: dict[str, float]


def evaluate(builder: SetBuilder, count: int, seed: int) -> SetResult:
    positives, negatives = builder(count, np.random.default_rng(seed))
    positive_scores, negative_scores = score_sequences(positives), score_sequences(negatives)
    return SetResult(
        auc={name: roc_auc(positive_scores[name], negative_scores[name]) for name in ROWS},
        positive_mean={name: float(np.mean(positive_scores[name])) for name in ROWS},
        negative_mean={name: float(np.mean(negative_scores[name])) for name in ROWS},
    )


def evaluate_set(builder: SetBuilder, count: int, seed: int) -> dict[str, float]:
    """ROC AUC per metric (and the reference) on one set."""
    return evaluate(builder, count, seed).auc


def markdown_table(results: dict[str, SetResult], count: int, seed: int) -> str:
    header = "| metric | " + " | ".join(results) + " |"
    rule = "|---|" + "---|" * len(results)
    auc_rows = [f"| {name} | " + " | ".join(f"{results[s].auc[name]:.3f}" for s in results) + " |" for name in ROWS]
    mean_rows = [
        f"| {name} | "
        + " | ".join(f"{results[s].positive_mean[name]:.2f} / {results[s].negative_mean[name]:.2f}" for s in results)
        + " |"
        for name in ROWS
    ]
    caption = (
        f"ROC AUC, {count} positive and {count} negative sequences of {FRAMES} frames "
        f"({FRAME_SIDE}x{FRAME_SIDE}) per set, seed {seed}:"
    )
    means = "Mean score, positives / negatives:"
    return "\n".join([caption, "", header, rule, *auc_rows, "", means, "", header, rule, *mean_rows]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=120, help="positives (= negatives) per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = {name: evaluate(builder, args.sequences, args.seed) for name, builder in SETS.items()}
    table = markdown_table(results, args.sequences, args.seed)
    print(table)
    print(f"({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
