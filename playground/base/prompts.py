"""Story -> what is actually sent.

`sequence` sends one composed prompt asking for N frames, stating the count the way
Seedream's sequential mode needs it (the model decides how many images to return from the
prompt). `baseline` sends N single-image prompts, each the story plus one beat; `chain` the
same N prompts, word for word, so the reference image (an earlier frame) is the one thing
that differs from a baseline. All are logged verbatim in `composed_prompts`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Story:
    """A character, a style and one beat per frame (presets and ConsiStory+ map onto this)."""

    character: str
    style: str = ""
    beats: tuple[str, ...] = ()

    def prompt(self) -> str:
        """The story's shared text: character and style, as the Prompt field holds it."""
        parts = [self.character.strip().rstrip("."), self.style.strip().rstrip(".")]
        return ". ".join(p for p in parts if p) + "."


def sequence_prompt(prompt: str, beats: list[str], frames: int) -> str:
    base = prompt.strip()
    if frames == 1:
        return f"{base} {beats[0]}".strip() if beats else base
    head = (
        f"Generate a series of {frames} images with the same character and a consistent style, "
        f"one image per story beat. {base}"
    )
    if not beats:
        return f"{head} Show {frames} different moments of the story."
    lines = [f"Image {i + 1}: {beat.strip()}" for i, beat in enumerate(beats[:frames])]
    return head + "\n" + "\n".join(lines)


def frame_prompt(prompt: str, beat: str) -> str:
    base = prompt.strip()
    return f"{base} {beat.strip()}".strip() if beat.strip() else base
