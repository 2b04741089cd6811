"""Generate's Size choices (present.providers.generate_sizes): the model's sizes its pre-send
check takes, the value kept while the new model takes it."""

from __future__ import annotations

from playground.core import Playground
from playground.present.providers import MODEL_DEFAULT, generate_sizes


def test_sizes_follow_the_model_and_keep_what_it_takes(playground: Playground) -> None:
    choices, kept = generate_sizes(playground, "local", "", "sequence", 4, "512x512")
    assert choices[0] == (MODEL_DEFAULT, "") and ("768x768", "768x768") in choices and kept == "512x512"
    assert generate_sizes(playground, "local", "", "sequence", 4, "640x640")[1] == ""  # local's list only
    choices, kept = generate_sizes(playground, "openai", "gpt-image-1.5", "baseline", 4, "768x768")
    assert [v for _, v in choices] == ["", "1024x1024", "1536x1024", "1024x1536", "auto"]
    assert kept == ""  # gpt-image does not take 768x768: back to the model's default
    # refused whatever the size (no sequence mode here): every listed size offered, the value left alone
    choices, kept = generate_sizes(playground, "openai", "gpt-image-1.5", "sequence", 4, "1024x1024")
    assert ("auto", "auto") in choices and kept == "1024x1024"
