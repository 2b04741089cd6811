"""Helpers shared by the browser tests (tests/test_browser*.py): screenshots, the story form,
and the console-error filter."""

from __future__ import annotations

import os
from pathlib import Path

SHOTS = Path(os.environ["PLAYGROUND_SCREENSHOTS"]) if os.environ.get("PLAYGROUND_SCREENSHOTS") else None
BEATS = ["Miko gets a parcel", "Miko runs over roofs", "Miko hides from the rain", "Miko delivers it"]
PROMPT = "Miko, a red panda courier with a green scarf. Flat webcomic style."
# Messages Chromium prints that say nothing about the app. None were seen with Gradio 6.31 on
# Debian's Chromium; an entry here needs a comment saying where it comes from.
KNOWN_CONSOLE_NOISE: tuple[str, ...] = ()


def shot(page, name: str, full_page: bool = True) -> None:
    """Screenshots for the README, written only when PLAYGROUND_SCREENSHOTS names a folder."""
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def console_errors(messages: list[str]) -> list[str]:
    return [m for m in messages if not any(noise in m for noise in KNOWN_CONSOLE_NOISE)]


def fill_story(page, frames: int = 4, beats: list[str] = BEATS, prompt: str = PROMPT) -> None:
    """Prompt, one beat per frame, and the frame count typed into the Frames box."""
    page.get_by_label("Prompt", exact=True).first.fill(prompt)
    page.get_by_label("Frame beats").fill("\n".join(beats[:frames]))
    box = page.get_by_label("Frames", exact=True).first
    box.fill(str(frames))
    box.press("Enter")
