"""Presets: the five use cases, each a complete story that runs offline."""

from __future__ import annotations

import asyncio

from playground.base.presets import load_presets
from playground.base.types import GenerationRequest
from playground.core import Playground


def test_five_use_cases_with_beats_for_every_frame() -> None:
    presets = load_presets()
    assert len(presets) == 5
    titles = " ".join(presets).lower()
    for word in ("webcomic", "storyboard", "character sheet", "scientific method", "carousel"):
        assert word in titles
    for preset in presets.values():
        assert 1 <= preset.frames <= 15 and len(preset.story.beats) == preset.frames
        assert preset.story.character and preset.story.style
    assert next(p for t, p in presets.items() if "webcomic" in t.lower()).frames == 6
    story = next(p for t, p in presets.items() if "storyboard" in t.lower())
    assert 4 <= story.frames <= 8


def test_every_preset_runs_offline(playground: Playground) -> None:
    for preset in load_presets().values():
        request = GenerationRequest(
            prompt=preset.prompt, beats=list(preset.story.beats), frames=preset.frames, size="512x512"
        )
        assert asyncio.run(playground.run(request)).record.status == "ok"
