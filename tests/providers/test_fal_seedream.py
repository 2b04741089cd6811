"""Seedream 4 / 4.5 on fal's queue (the `fal` adapter) over HTTP against the emulator: a series as
one generation (num_images 1, max_images N), a baseline as single images, references as data
URIs in image_urls on the /edit endpoint (a text-to-image id with references goes there), the
documented size limits, a short series as a partial run, and billing per image returned."""

from __future__ import annotations

import pytest

from playground.base.errors import InputError
from support.faults import make_playground, run
from support.sdk import reference_image
from support.sinks import generate

V4, V45 = "fal-ai/bytedance/seedream/v4/text-to-image", "fal-ai/bytedance/seedream/v4.5/text-to-image"
V4_EDIT, V45_EDIT = "fal-ai/bytedance/seedream/v4/edit", "fal-ai/bytedance/seedream/v4.5/edit"


def submitted(emulator):
    return emulator.requests_for("fal", "POST")


@pytest.mark.parametrize(
    "model,frames,refs,path,extra",
    [
        (V4, 4, 0, V4, {}),
        (V45, 1, 0, V45, {}),
        (V4, 3, 2, V4_EDIT, {"image_urls": 2}),  # references: the /edit endpoint of the same version
        (V45_EDIT, 2, 1, V45_EDIT, {"image_urls": 1}),
    ],
)
def test_a_series_is_one_generation_and_references_go_to_edit(
    small_frames, make_provider, make_call, sink, model, frames, refs, path, extra
):
    p = make_provider("fal")
    references = tuple(reference_image((40 * i, 90, 200)) for i in range(refs))
    call = make_call(p, model=model, prompt="a fox", frames=frames, size="2560x1440", seed=8, references=references)
    p.validate(call)
    outcome = generate(p, call, sink)
    (req,) = submitted(small_frames)
    assert req.path == f"/{path}" and req.headers["authorization"] == "Key <redacted>"
    body = {k: (len(v) if k == "image_urls" else v) for k, v in req.json.items()}
    assert body == {
        "prompt": "a fox",
        "num_images": 1,
        "max_images": frames,
        "seed": 8,
        "image_size": {"width": 2560, "height": 1440},
        **extra,
    }
    assert req.json.get("image_urls", []) == [r.data_url() for r in references]  # data URIs [doc]
    assert sorted(sink.urls) == list(range(frames)) and outcome.images_billed == frames
    price = 0.03 if "/v4/" in model else 0.04
    assert outcome.cost_usd == pytest.approx(frames * price)
    assert ("sent to" in outcome.cost_rule) == (path != model)
    polls = [r.path for r in small_frames.requests_for("fal", "GET")]
    assert polls and all(r.startswith("/fal-ai/bytedance/requests/") for r in polls)  # the app's queue paths


@pytest.mark.parametrize(
    "model,fields,message",
    [
        (V4_EDIT, dict(), "edits reference images"),
        (V45, dict(size="1024x1024"), "2560x1440 to 4096x4096"),
        (V4, dict(size="512x512"), "1024 to 4096 pixels a side"),
        (V4, dict(frames=7), "at most 6 frame"),
        (V4, dict(frames=6, references=(reference_image(),) * 10), "<= 15"),
        (V4, dict(references=(reference_image(),) * 11), "at most 10 reference"),
    ],
)
def test_documented_limits_are_checked_before_sending(make_provider, make_call, model, fields, message):
    p = make_provider("fal")
    with pytest.raises(InputError, match=message):
        p.validate(make_call(p, model=model, **{"size": "2048x2048", **fields}))


def test_a_named_size_passes_as_it_is(small_frames, make_provider, make_call, sink):
    p = make_provider("fal")
    generate(p, make_call(p, model=V4, size="auto"), sink)
    assert submitted(small_frames)[0].json["image_size"] == "auto"


def test_a_short_series_is_partial_and_billed_per_image_returned(small_frames, data_dir):
    small_frames.set_fault("fal", "fewer", n=2)
    pg = make_playground(small_frames.env(), data_dir)
    record = run(pg, provider="fal", model=V4, mode="sequence", frames=4, size="2048x2048").record
    assert record.status == "partial" and record.frames_returned == 2 and record.images_billed == 2
    assert record.cost_source == "reported" and record.cost_usd == pytest.approx(2 * 0.03)
    assert record.max_cost_usd == pytest.approx(4 * 0.03)  # max_images x num_images: at most the frames asked
    assert "returned 2 of 4" in record.frame_errors[3]


def test_a_baseline_makes_one_image_per_call(small_frames, data_dir):
    record = run(
        make_playground(small_frames.env(), data_dir),
        provider="fal",
        model=V45,
        mode="baseline",
        frames=3,
        size="2560x1440",
        seed=2,
    ).record
    assert record.status == "ok" and record.api_calls == 3 and record.cost_usd == pytest.approx(3 * 0.04)
    assert all(r.json["max_images"] == 1 and r.json["num_images"] == 1 for r in submitted(small_frames))


def test_the_reference_note_asks_for_a_reference_on_an_edit_id():
    from playground.present.providers import reference_note

    assert "Upload at least one" in reference_note("fal", V4_EDIT, 0)
    assert "up to 10 reference image(s)" in reference_note("fal", V4, 0) and "Upload" not in reference_note(
        "fal", V4, 0
    )
