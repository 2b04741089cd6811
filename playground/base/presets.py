"""Presets: one TOML file per use case in presets/, each a story with a default frame count."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from playground.base.prompts import Story

PRESET_DIR = Path(__file__).resolve().parents[2] / "presets"


@dataclass(frozen=True)
class Preset:
    key: str  # file stem
    title: str
    story: Story
    frames: int
    mode: str = "sequence"
    description: str = ""

    @property
    def prompt(self) -> str:
        return self.story.prompt()


def load_preset(path: Path) -> Preset:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    story = Story(character=data["character"], style=data.get("style", ""), beats=tuple(data.get("beats", ())))
    frames = int(data.get("frames", len(story.beats) or 4))
    if story.beats and len(story.beats) < frames:
        raise ValueError(f"{path.name}: {len(story.beats)} beats for {frames} frames")
    return Preset(
        key=path.stem,
        title=data.get("title", path.stem),
        story=story,
        frames=frames,
        mode=data.get("mode", "sequence"),
        description=data.get("description", ""),
    )


def load_presets(directory: Path = PRESET_DIR) -> dict[str, Preset]:
    """Presets by title, in file-name order."""
    presets = [load_preset(p) for p in sorted(directory.glob("*.toml"))]
    return {p.title: p for p in presets}
