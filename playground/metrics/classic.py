"""Cross-frame consistency metrics that run offline on the CPU, without model weights.

Three default metrics, each the mean of a pairwise similarity over all frame pairs, in
[0, 1], higher = more consistent (definitions, blind spots and validation: docs/metrics.md):

    palette_consistency    colour distribution in CIELAB (Bhattacharyya coefficient)
    structure_consistency  edges and texture: orientation layout, local binary patterns and
                           gradient strength (mean of three cosine similarities)
    subject_consistency    the foreground only: a border-colour background model finds the
                           subject, then its colours and the gradients inside its own bounding
                           box (so position and scale do not matter) are compared

The deep metrics (clip_i, dino_i, clip_t, dreamsim) live in playground.metrics.deep and are
imported only when asked for (metrics.score), so importing this module costs numpy and Pillow only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from playground.metrics import DEFAULT_METRICS
from playground.metrics.image import ImageSource, load_frame, resize_array, srgb_to_lab

STRUCTURE_SIDE = 128
SUBJECT_SIDE = 96
SUBJECT_CROP = 32  # the subject's bounding box is resampled to this square


# ---------------------------------------------------------------- loading and colour


# ---------------------------------------------------------------- small numeric helpers


def _smooth_axes(array: np.ndarray) -> np.ndarray:
    """A [1, 2, 1] blur along every axis: spreads histogram mass to neighbouring bins so
    a small colour shift does not move all of it into an empty bin."""
    for axis in range(array.ndim):
        padded = np.pad(array, [(1, 1) if a == axis else (0, 0) for a in range(array.ndim)], mode="edge")
        lower = np.take(padded, range(0, array.shape[axis]), axis=axis)
        middle = np.take(padded, range(1, array.shape[axis] + 1), axis=axis)
        upper = np.take(padded, range(2, array.shape[axis] + 2), axis=axis)
        array = (lower + 2 * middle + upper) / 4
    return array


def _box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, via cumulative sums (no scipy import at start-up)."""
    padded = np.pad(image, radius + 1, mode="edge").cumsum(0).cumsum(1)
    k = 2 * radius + 1
    window = padded[k:, k:] - padded[:-k, k:] - padded[k:, :-k] + padded[:-k, :-k]
    blurred: np.ndarray = window[: image.shape[0], : image.shape[1]] / (k * k)
    return blurred


def _lab_bin_index(lab: np.ndarray, bins: tuple[int, int, int]) -> np.ndarray:
    """Flat index of each pixel's bin in an L x a x b histogram (a, b clipped to +-80)."""
    lo = np.array([0.0, -80.0, -80.0], dtype=np.float32)
    span = np.array([100.0, 160.0, 160.0], dtype=np.float32)
    n = np.array(bins)
    cells = np.clip(((lab - lo) / span * n).astype(np.int32), 0, n - 1)
    flat: np.ndarray = (cells[..., 0] * n[1] + cells[..., 1]) * n[2] + cells[..., 2]
    return flat


def _lab_histogram(lab: np.ndarray, bins: tuple[int, int, int], weights: np.ndarray | None = None) -> np.ndarray:
    """A smoothed, normalised colour histogram (flattened)."""
    index = _lab_bin_index(lab, bins).ravel()
    counts = np.bincount(
        index, weights=None if weights is None else weights.ravel(), minlength=int(np.prod(bins))
    ).reshape(bins)
    counts = _smooth_axes(counts.astype(np.float64))
    normalised: np.ndarray = (counts / max(counts.sum(), 1e-12)).ravel()
    return normalised


def _gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude and unsigned orientation in [0, pi)."""
    gy, gx = np.gradient(grey)
    return np.hypot(gx, gy), np.mod(np.arctan2(gy, gx), np.pi)


def orientation_cells(grey: np.ndarray, grid: int, bins: int = 8) -> np.ndarray:
    """(grid, grid, bins) magnitude-weighted orientation histograms, soft-binned in angle."""
    magnitude, angle = _gradients(grey)
    position = angle / np.pi * bins
    lower = np.floor(position).astype(np.int32) % bins
    upper_weight = position - np.floor(position)
    rows = np.minimum(np.arange(grey.shape[0]) * grid // grey.shape[0], grid - 1)
    cols = np.minimum(np.arange(grey.shape[1]) * grid // grey.shape[1], grid - 1)
    cell = (rows[:, None] * grid + cols[None, :]) * bins
    hist = np.bincount((cell + lower).ravel(), (magnitude * (1 - upper_weight)).ravel(), minlength=grid * grid * bins)
    hist += np.bincount(
        (cell + (lower + 1) % bins).ravel(), (magnitude * upper_weight).ravel(), minlength=grid * grid * bins
    )
    return hist.reshape(grid, grid, bins)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def mean_pairwise(similarity: np.ndarray) -> float:
    """Mean of the upper triangle (all unordered frame pairs) of a similarity matrix."""
    upper = np.triu_indices(similarity.shape[0], k=1)
    return float(np.clip(similarity[upper], 0.0, 1.0).mean())


# ---------------------------------------------------------------- palette

PALETTE_BINS = (8, 10, 10)


def palette_descriptor(lab: np.ndarray) -> np.ndarray:
    """Square root of the frame's CIELAB histogram: dot products are Bhattacharyya
    coefficients (1 = same colour distribution, 0 = no colour in common)."""
    descriptor: np.ndarray = np.sqrt(_lab_histogram(lab, PALETTE_BINS))
    return descriptor


# ---------------------------------------------------------------- structure

STRUCTURE_GRIDS = (1, 2, 4)  # orientation histograms over the whole frame, 2x2 and 4x4 cells
LBP_RADIUS = 2
MAGNITUDE_BINS = 16


def mirror_symmetric(cells: np.ndarray) -> np.ndarray:
    """Cells plus their mirror image (columns reversed, orientation theta -> pi - theta,
    i.e. bin k -> bin -k): a frame and its mirror image get the same descriptor."""
    bins = cells.shape[-1]
    symmetric: np.ndarray = cells + cells[:, ::-1][..., (-np.arange(bins)) % bins]
    return symmetric


def local_binary_patterns(grey: np.ndarray, radius: int = LBP_RADIUS) -> np.ndarray:
    """256-bin histogram of 8-neighbour local binary patterns: micro-texture that does
    not depend on brightness or contrast."""
    centre = grey[radius:-radius, radius:-radius]
    height, width = centre.shape
    codes = np.zeros(centre.shape, dtype=np.int32)
    offsets = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))
    for bit, (dy, dx) in enumerate(offsets):
        neighbour = grey[
            radius + dy * radius : radius + dy * radius + height, radius + dx * radius : radius + dx * radius + width
        ]
        codes |= (neighbour >= centre + 0.01).astype(np.int32) << bit  # 0.01: ignore noise
    counts = np.bincount(codes.ravel(), minlength=256).astype(np.float64)
    symmetric: np.ndarray = counts + counts[_LBP_MIRROR]  # a pattern and its mirror image count alike
    return symmetric


def _mirrored_codes() -> np.ndarray:
    """For each 8-bit pattern, the pattern of its mirror image: left and right neighbours
    swap (bits 0<->2, 3<->7, 4<->6; bits 1 and 5 lie on the vertical axis)."""
    codes = np.arange(256)
    swap = {0: 2, 2: 0, 3: 7, 7: 3, 4: 6, 6: 4, 1: 1, 5: 5}
    return sum((((codes >> bit) & 1) << swap[bit] for bit in range(8)), np.zeros_like(codes))


_LBP_MIRROR = _mirrored_codes()


def magnitude_histogram(grey: np.ndarray) -> np.ndarray:
    """Histogram of log gradient magnitude: how much of the frame is flat, soft or sharp."""
    magnitude, _ = _gradients(grey)
    counts, _ = np.histogram(np.log(magnitude + 1e-3), bins=MAGNITUDE_BINS, range=(np.log(1e-3), 0.0))
    return counts.astype(np.float64)


def structure_descriptor(lightness: np.ndarray) -> np.ndarray:
    """Three Hellinger-normalised parts, each weighted 1/3, so the dot product of two
    descriptors is the mean of three cosine similarities: edge orientations and their
    coarse layout (mirror-symmetric), micro-texture, and edge strength."""
    grey = resize_array(lightness, STRUCTURE_SIDE)
    orientation = np.concatenate(
        [_unit(np.sqrt(mirror_symmetric(orientation_cells(grey, grid)).ravel())) for grid in STRUCTURE_GRIDS]
    )
    parts = (orientation, local_binary_patterns(grey) ** 0.5, magnitude_histogram(grey) ** 0.5)
    return np.concatenate([_unit(part) / np.sqrt(len(parts)) for part in parts])


# ---------------------------------------------------------------- subject

FOREGROUND_BINS = (8, 12, 12)
SUBJECT_BINS = (6, 10, 10)
SUBJECT_WEIGHTS = {"colour": 0.6, "gradient": 0.4}  # chosen on the bench's seed 5
FOCUS_SIGMA = 0.25  # width of the window that follows the subject, fraction of the frame


@dataclass(frozen=True)
class SubjectDescriptor:
    """What is compared between two frames' subjects; all position- and scale-free."""

    colour: np.ndarray  # sqrt of the foreground's CIELAB histogram
    gradient: np.ndarray  # (4, 4, 8) orientation cells of the subject's bounding box, unit


def foreground_weights(lab: np.ndarray) -> np.ndarray:
    """Per-pixel foreground weight in [0, 1] from a border-colour background model.

    The subject of a frame seldom fills its border, the background nearly always touches
    it: a colour is background in proportion to how over-represented it is in the border
    band relative to the whole frame (histogram back-projection of the ratio)."""
    height, width = lab.shape[:2]
    band = max(2, round(0.08 * min(height, width)))
    border = np.zeros((height, width), dtype=bool)
    border[:band] = border[-band:] = border[:, :band] = border[:, -band:] = True
    index = _lab_bin_index(lab, FOREGROUND_BINS)
    size = int(np.prod(FOREGROUND_BINS))
    in_frame = _smooth_axes(
        np.bincount(index.ravel(), minlength=size).reshape(FOREGROUND_BINS).astype(np.float64)
    ).ravel()
    in_border = _smooth_axes(
        np.bincount(index[border], minlength=size).reshape(FOREGROUND_BINS).astype(np.float64)
    ).ravel()
    ratio = (in_border / border.sum()) / (in_frame / index.size + 1e-9)
    background = np.clip(ratio, 0.0, 1.0)[index]
    weights: np.ndarray = np.clip(_box_blur(1.0 - background, 1), 0.0, 1.0)
    return weights


def _bounding_box(weights: np.ndarray, low: float = 0.05) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) holding the central 90% of the foreground mass."""

    def span(mass: np.ndarray) -> tuple[int, int]:
        cumulative = np.cumsum(mass) / max(mass.sum(), 1e-12)
        start = int(np.searchsorted(cumulative, low))
        end = int(np.searchsorted(cumulative, 1 - low)) + 1
        return start, max(end, start + 2)

    top, bottom = span(weights.sum(axis=1))
    left, right = span(weights.sum(axis=0))
    return top, bottom, left, right


def _resample(array: np.ndarray, size: int) -> np.ndarray:
    image = Image.fromarray(array.astype(np.float32), mode="F")
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))


def focus_on_densest(weights: np.ndarray, sigma: float, steps: int = 4) -> np.ndarray:
    """A Gaussian window (sigma as a fraction of the longest side) moved by mean shift to
    the densest foreground mass: an isolated prop pulls the window much less than the
    subject does, so the subject's colours dominate the descriptor."""
    rows, cols = np.mgrid[0 : weights.shape[0], 0 : weights.shape[1]].astype(np.float64)
    width = sigma * max(weights.shape)
    centre = np.array([np.average(rows, weights=weights), np.average(cols, weights=weights)])
    for _ in range(steps):
        window: np.ndarray = np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * width**2))
        mass = weights * window
        if mass.sum() <= 1e-9:
            break
        centre = np.array([np.average(rows, weights=mass), np.average(cols, weights=mass)])
    return window


def subject_descriptor(lab: np.ndarray) -> SubjectDescriptor:
    """Find the subject (foreground weights, focused on the densest blob) and describe it."""
    small = resize_array(lab, SUBJECT_SIDE)
    weights = foreground_weights(small)
    confident = np.where(weights > 0.5, weights, 0.0)
    if confident.sum() < 0.01 * weights.size:  # no clear subject: fall back to the whole frame
        confident = np.ones_like(weights)
    confident = confident * focus_on_densest(confident, FOCUS_SIGMA)
    top, bottom, left, right = _bounding_box(confident)
    crop = small[top:bottom, left:right, 0]
    gradient = orientation_cells(_resample(crop, SUBJECT_CROP), 4)
    return SubjectDescriptor(
        colour=np.sqrt(_lab_histogram(small, SUBJECT_BINS, confident**2)), gradient=_unit(np.sqrt(gradient).ravel())
    )


def _mirror_gradient(gradient: np.ndarray) -> np.ndarray:
    """The descriptor of the horizontally mirrored crop: columns reversed and an
    orientation theta becomes pi - theta (bin k -> bin -k)."""
    cells = gradient.reshape(4, 4, -1)[:, ::-1]
    mirrored: np.ndarray = cells[..., (-np.arange(cells.shape[-1])) % cells.shape[-1]].ravel()
    return mirrored


def subject_similarity(descriptors: Sequence[SubjectDescriptor]) -> np.ndarray:
    """Pairwise subject similarity: weighted mean of the colour Bhattacharyya coefficient
    and the gradient cosine, which takes the better of the two mirror images (a character
    facing the other way is still the same character)."""
    colour = np.stack([d.colour for d in descriptors])
    gradient = np.stack([d.gradient for d in descriptors])
    gradient_mirrored = np.stack([_mirror_gradient(d.gradient) for d in descriptors])
    similarity: np.ndarray = SUBJECT_WEIGHTS["colour"] * (colour @ colour.T) + SUBJECT_WEIGHTS["gradient"] * np.maximum(
        gradient @ gradient.T, gradient @ gradient_mirrored.T
    )
    return similarity


# ---------------------------------------------------------------- scoring


def default_scores(frames: Sequence[ImageSource]) -> dict[str, float | None]:
    """The three default metrics; None each for fewer than 2 frames."""
    if len(frames) < 2:
        return {name: None for name in DEFAULT_METRICS}
    labs = [srgb_to_lab(load_frame(frame)) for frame in frames]
    palette = np.stack([palette_descriptor(lab) for lab in labs])
    structure = np.stack([structure_descriptor(lab[..., 0] / 100.0) for lab in labs])
    subjects = [subject_descriptor(lab) for lab in labs]
    return {
        "palette_consistency": mean_pairwise(palette @ palette.T),
        "structure_consistency": mean_pairwise(structure @ structure.T),
        "subject_consistency": mean_pairwise(subject_similarity(subjects)),
    }
