"""The batch file (TOML): stories x arms x prompt variants x repeats, read into cells with a
deterministic experiment id, so a rerun resumes (format: docs/experiments.md)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from playground.base.errors import InputError
from playground.base.presets import PRESET_DIR, Preset, load_presets
from playground.base.prompts import Story
from playground.base.types import CHAIN_FROM, MAX_FRAMES, MIN_FRAMES
from playground.experiments.cells import Arm, Cell, check_variant_labels, parse_arm, parse_arms, variant_story

FILE_KEYS = {
    "id",
    "title",
    "description",
    "arms",
    "variants",
    "stories",
    "repeats",
    "seed",
    "size",
    "frames",
    "concurrency",
    "max_usd",
    "chain_from",
}


ARM_KEYS = {"provider", "model", "mode", "chain_from"}  # an arm written as a table


STORY_KEYS = {"id", "preset", "character", "style", "beats", "frames"}


# -- the batch file ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchFile:
    experiment_id: str
    cells: list[Cell]
    concurrency: int
    max_usd: float | None


def file_experiment_id(path: Path, data: dict[str, Any], content: bytes) -> str:
    """The file's `id`, else its name + a hash of its content: editing the file starts a new
    experiment, re-running it unchanged resumes the old one."""
    return str(data["id"]) if data.get("id") else f"{path.stem}-{hashlib.sha256(content).hexdigest()[:10]}"


def find_preset(name: str, presets: dict[str, Preset]) -> Preset:
    """A preset by file stem with or without its number prefix ("webcomic" = "01_webcomic"), or title."""
    for preset in presets.values():
        if name in (preset.key, preset.key.split("_", 1)[-1], preset.title):
            return preset
    keys = ", ".join(p.key.split("_", 1)[-1] for p in presets.values())
    raise InputError(f"unknown preset {name!r}; presets in {PRESET_DIR}: {keys}")


def load_story(entry: dict[str, Any], presets: dict[str, Preset]) -> tuple[str, Story, int]:
    """(story_id, story, frames) of one [[stories]] entry: a preset, or an inline story."""
    unknown = set(entry) - STORY_KEYS
    if unknown:
        raise InputError(
            f"unknown key(s) in a story: {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(STORY_KEYS))}"
        )
    if "preset" in entry:
        preset = find_preset(str(entry["preset"]), presets)
        story_id = str(entry.get("id") or preset.key.split("_", 1)[-1])
        return story_id, preset.story, frames_of(entry.get("frames", preset.frames), f"story {story_id!r}")
    if not entry.get("id") or not entry.get("character"):
        raise InputError("an inline story needs `id` and `character` (and usually `style` and `beats`)")
    beats = entry.get("beats", [])
    if not isinstance(beats, list) or not all(isinstance(b, str) for b in beats):
        raise InputError(f"story {entry['id']!r}: beats must be a list of strings")
    story = Story(character=str(entry["character"]), style=str(entry.get("style", "")), beats=tuple(beats))
    return str(entry["id"]), story, frames_of(entry.get("frames", len(beats) or 4), f"story {entry['id']!r}")


def frames_of(value: object, where: str) -> int:
    """A `frames` value as TOML gave it: a whole number (its range, 1 to 15, is the core's, so an
    out-of-range cell is logged like any refused run). `inf`, `nan` or 2.5 are refused here."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{where}: `frames` must be a whole number from {MIN_FRAMES} to {MAX_FRAMES}, got {value!r}")
    return value


def cap_of(value: object) -> float | None:
    """`max_usd`: dollars, 0 or more (`inf` lifts it). NaN compares false with everything and
    would pass every cell, so it is refused like a negative value or a boolean."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InputError(f"`max_usd` must be a number of dollars, 0 or more (inf lifts it), got {value!r}")
    return float(value)


def _whole(data: dict[str, Any], key: str, default: int, low: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InputError(f"`{key}` must be a whole number of at least {low}, got {value!r}")
    return value


def file_arms(data: dict[str, Any]) -> list[Arm]:
    """The file's arms: each "PROVIDER:MODEL:MODE" or a table {provider, model, mode, chain_from}
    (e.g. `{ provider = "local", mode = "chain" }`); the file's `chain_from` ("first" or
    "previous") is which frame every chain arm that does not say takes as its reference."""
    default = data.get("chain_from")
    if default is not None and default not in CHAIN_FROM:
        raise InputError(f"`chain_from` must be one of {', '.join(CHAIN_FROM)}, got {default!r}")
    texts, chains = [], []
    for entry in data["arms"]:
        if isinstance(entry, dict):
            unknown = set(entry) - ARM_KEYS
            if unknown or "provider" not in entry or "mode" not in entry:
                raise InputError(
                    f"an arm table takes provider and mode (model and chain_from are optional), got "
                    f"{', '.join(sorted(entry))}"
                )
            chain_from = entry.get("chain_from", default)
            if entry["mode"] != "chain" and "chain_from" in entry:
                raise InputError(f"`chain_from` is for chain arms, not mode {entry['mode']!r}")
            texts.append(f"{entry['provider']}:{entry.get('model', '')}:{entry['mode']}")
            chains.append(chain_from)
        else:
            texts.append(str(entry))
            chains.append(default)
    texts = [t.split("#", 1)[0].strip() for t in texts]
    if not any(texts):
        parse_arms([])  # says what an arm looks like
    arms = [parse_arm(t) for t in texts]
    for i, (arm, chain_from) in enumerate(zip(arms, chains)):
        if arm.mode != "chain" or chain_from is None or ":chain-" in texts[i]:
            continue
        if chain_from not in CHAIN_FROM:
            raise InputError(f"`chain_from` must be one of {', '.join(CHAIN_FROM)}, got {chain_from!r}")
        arms[i] = replace(arm, chain_from=chain_from)
    labels = [a.label for a in arms]
    if len(set(labels)) < len(labels):
        raise InputError(f"an arm is listed twice: {', '.join(sorted({x for x in labels if labels.count(x) > 1}))}")
    return arms


def load_batch(path: Path) -> BatchFile:
    """Parse and check an experiment file; every problem is an InputError naming the file."""
    try:
        content = path.read_bytes()
        data = tomllib.loads(content.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from None
    try:
        return _batch_from(path, data, content)
    except (InputError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: {exc}") from None


def _batch_from(path: Path, data: dict[str, Any], content: bytes) -> BatchFile:
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(FILE_KEYS))}")
    if not isinstance(data.get("arms"), list):
        raise InputError('`arms` must be a list such as ["local::sequence", "local::chain", "local::baseline"]')
    arms = file_arms(data)
    variants = data.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, str) and v.strip() for v in variants.values()):
        raise InputError("`variants` must be a table of label = prompt text")
    check_variant_labels(variants)
    entries = data.get("stories")
    if not isinstance(entries, list) or not entries:
        raise InputError('give at least one [[stories]] entry (preset = "webcomic", or id/character/style/beats)')
    presets = load_presets()
    stories = [load_story(e, presets) for e in entries]
    ids = [s[0] for s in stories]
    if len(set(ids)) < len(ids):
        raise InputError(f"story ids must be unique, got {ids}")
    repeats, seed = _whole(data, "repeats", 1, 1), data.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise InputError(f"`seed` must be a whole number, got {seed!r}")
    default_frames = None if data.get("frames") is None else frames_of(data["frames"], "the file")
    cells = [
        Cell(
            story=variant_story(story, text) if label else story,
            arm=arm,
            variant=label,
            repeat=r,
            frames=default_frames or frames,
            seed=None if seed is None else seed + r,
            story_id=story_id,
            size=str(data.get("size", "")),
        )
        for story_id, story, frames in stories
        for label, text in (variants.items() or [("", "")])
        for r in range(repeats)
        for arm in arms
    ]
    return BatchFile(
        file_experiment_id(path, data, content), cells, _whole(data, "concurrency", 4, 1), cap_of(data.get("max_usd"))
    )
