"""One pre-send check: the plan of a request refuses exactly what the run refuses, with the
run's own words, and a plan that is sendable is exactly what the run sends. The Generate tab's
estimate line is written from the same plan, so it says the same."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image

from playground.base.config import Settings
from playground.base.errors import PlaygroundError
from playground.base.types import GenerationRequest
from playground.core import Playground, Session
from playground.core.spend import Spend
from playground.present.estimate import estimate_text
from playground.store.reservations import DayReservations


def reference(tmp_path: Path, name: str = "ref.png") -> Path:
    path = tmp_path / name
    Image.new("RGB", (64, 48), (200, 40, 40)).save(path)
    return path


REFUSED = {  # case -> (request fields, settings env beyond the emulator's, session spend, what refuses)
    "local at a size its list lacks": (dict(provider="local", size="300x300"), {}, 0.0, "input"),
    "16 frames": (dict(provider="local", frames=16), {}, 0.0, "input"),
    "16 beats": (dict(provider="local", frames=4, beats=[f"beat {i}" for i in range(16)]), {}, 0.0, "input"),
    "an unknown model": (dict(provider="local", model="procedural-v9"), {}, 0.0, "input"),
    "an unknown provider": (dict(provider="acme"), {}, 0.0, "input"),
    "gpt-image-2 at a size not in multiples of 16": (
        dict(provider="openai", model="gpt-image-2", mode="baseline", frames=1, size="1000x1000"),
        {},
        0.0,
        "input",
    ),
    "an edit-sequential model without references": (
        dict(provider="wavespeed", model="bytedance/seedream-v4.5/edit-sequential", frames=2, size="256x256"),
        {},
        0.0,
        "input",
    ),
    "a text-to-image model with references": (
        dict(provider="wavespeed", frames=2, size="256x256", references="one"),
        {},
        0.0,
        "input",
    ),
    "15 frames and 3 references on Seedream": (
        dict(provider="byteplus", frames=15, size="256x256", references="three"),
        {},
        0.0,
        "input",
    ),
    "an unreadable reference": (
        dict(provider="byteplus", frames=2, size="256x256", references="missing"),
        {},
        0.0,
        "input",
    ),
    "chain on a model without reference input": (
        dict(provider="wavespeed", mode="chain", frames=3, size="256x256"),
        {},
        0.0,
        "input",
    ),
    "chain on flux-1.1-pro (no reference input)": (
        dict(provider="replicate", model="black-forest-labs/flux-1.1-pro", mode="chain", frames=3, size="1024x1024"),
        {},
        0.0,
        "input",
    ),
    "chain with no room for the chained frame": (
        dict(
            provider="replicate",
            model="black-forest-labs/flux-kontext-pro",
            mode="chain",
            frames=2,
            size="1024x1024",
            references="one",
        ),
        {},
        0.0,
        "input",
    ),
    "chain on wavespeed's edit-sequential without a reference": (
        dict(
            provider="wavespeed",
            model="bytedance/seedream-v4.5/edit-sequential",
            mode="chain",
            frames=3,
            size="256x256",
        ),
        {},
        0.0,
        "input",
    ),
    "chain on atlascloud's edit-sequential without a reference": (
        dict(
            provider="atlascloud",
            model="bytedance/seedream-v4.5/edit-sequential",
            mode="chain",
            frames=3,
            size="256x256",
        ),
        {},
        0.0,
        "input",
    ),
    "chain on fal's Seedream edit without a reference": (
        dict(provider="fal", model="fal-ai/bytedance/seedream/v4/edit", mode="chain", frames=3, size="2048x2048"),
        {},
        0.0,
        "input",
    ),
    "chain from an unknown frame": (dict(provider="local", mode="chain", chain_from="last"), {}, 0.0, "input"),
    "a chain past the run cap": (
        dict(provider="byteplus", mode="chain", frames=4, size="256x256"),
        {"PLAYGROUND_MAX_USD_PER_RUN": "0.05"},
        0.0,
        "spend_cap",
    ),
    "a provider without its key": (
        dict(provider="byteplus", frames=2, size="256x256"),
        {"ARK_API_KEY": ""},
        0.0,
        "not_configured",
    ),
    "the run cap": (
        dict(provider="byteplus", frames=4, size="256x256"),
        {"PLAYGROUND_MAX_USD_PER_RUN": "0.05"},
        0.0,
        "spend_cap",
    ),
    "the session cap": (
        dict(provider="byteplus", frames=2, size="256x256"),
        {"PLAYGROUND_MAX_USD_PER_SESSION": "0.10"},
        0.05,
        "spend_cap",
    ),
    "the day cap with a run in flight": (
        dict(provider="byteplus", frames=2, size="256x256"),
        {"PLAYGROUND_MAX_USD_PER_DAY": "0.10"},
        0.0,
        "spend_cap",
    ),
}


def setup(emulator, data_dir: Path, tmp_path: Path, fields: dict, env: dict, session_spent: float):
    settings_env = {k: v for k, v in {**emulator.env(), **env}.items() if v}
    pg = Playground(Settings.from_env(env=settings_env, data_dir=data_dir))
    refs = {
        "one": [reference(tmp_path)],
        "three": [reference(tmp_path, f"r{i}.png") for i in range(3)],
        "missing": [tmp_path / "nowhere.png"],
    }.get(fields.pop("references", ""), [])
    request = GenerationRequest(prompt="a fox courier in a green scarf", references=refs, **fields)
    session = Session(spend=Spend(spent_usd=session_spent))
    if "PLAYGROUND_MAX_USD_PER_DAY" in env:  # another process's run in flight holds most of the day
        DayReservations(data_dir).reserve("another-run", 0.08, 600.0, lambda in_flight: None)
    return pg, request, session


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_plan_refuses_exactly_what_the_run_refuses(emulator, data_dir, tmp_path, case):
    fields, env, spent, kind = REFUSED[case]
    pg, request, session = setup(emulator, data_dir, tmp_path, dict(fields), env, spent)
    plan = pg.plan(request, session)
    assert not plan.sendable and plan.refusals[0].kind == kind, plan.refusals
    message = plan.refusals[0].message
    line = estimate_text(pg, request, session)  # the Generate tab's estimate line: the same words
    with pytest.raises(PlaygroundError) as refused:
        asyncio.run(pg.run(request, session))
    assert str(refused.value) == message and message in line
    assert type(refused.value) is type(plan.refusals[0].error())
    row = pg.log.read().iloc[-1]
    assert row["error"] == message and row["status"] == "error" and int(row["api_calls"]) == 0
    assert emulator.requests == []  # nothing was sent, neither by the plan nor by the run


SENT = {
    "local, a sequence": dict(provider="local", frames=3, beats=["one", "two", "three"], size="512x512"),
    "local, a baseline": dict(provider="local", mode="baseline", frames=2, size="512x512"),
    "byteplus, a sequence with a reference": dict(provider="byteplus", frames=3, size="256x256", references="one"),
    "wavespeed, a baseline": dict(provider="wavespeed", mode="baseline", frames=2, size="256x256"),
    "local, a chain": dict(provider="local", mode="chain", frames=3, size="512x512"),
    "byteplus, a chain from the previous frame with a reference": dict(
        provider="byteplus", mode="chain", chain_from="previous", frames=3, size="256x256", references="one"
    ),
}


@pytest.mark.parametrize("case", sorted(SENT))
def test_a_sendable_plan_is_exactly_what_the_run_sends(emulator, data_dir, tmp_path, case):
    pg, request, session = setup(emulator, data_dir, tmp_path, dict(SENT[case]), {}, 0.0)
    plan = pg.plan(request, session)
    assert plan.sendable and "ready" in estimate_text(pg, request, session)
    assert all(call.api_key == "" for call in plan.calls)  # a plan holds no key
    record = asyncio.run(pg.run(request, session)).record
    assert record.status == "ok", record.error
    assert record.composed_prompts == [call.prompt for call in plan.calls]
    assert record.api_calls == len(plan.calls) and record.estimate_usd == plan.estimate.usd
    assert record.max_cost_usd == plan.estimate.max_usd
    assert record.ref_hashes == [r.sha256 for r in plan.references]
    sent = [r.json for r in emulator.requests if r.method == "POST" and r.json]
    if request.provider != "local":
        assert [body["prompt"] for body in sent] == [call.prompt for call in plan.calls]
    if request.provider == "byteplus" and request.mode == "sequence":
        assert (
            sent[0]["size"] == plan.calls[0].size
            and sent[0]["sequential_image_generation_options"]["max_images"] == plan.calls[0].frames
        )


def chain_cases() -> list[tuple[str, str]]:
    from playground.providers import provider_class, provider_names

    return [(name, m.id) for name in provider_names() for m in provider_class(name).models if not m.retired]


@pytest.mark.parametrize("provider,model", chain_cases())
def test_chain_is_planned_exactly_for_the_models_the_mode_table_says(emulator, data_dir, tmp_path, provider, model):
    """The README's mode table (ModelInfo.modes) and the plan agree on every model: a chain is
    sendable where the model takes a reference image, refused (by the run too, nothing sent)
    where it does not."""
    from playground.providers import provider_class

    info = provider_class(provider).model(model)
    refs = [reference(tmp_path)] if "references required" in info.note else []
    pg = Playground(Settings.from_env(env=emulator.env(), data_dir=data_dir))
    request = GenerationRequest(
        prompt="a fox courier", frames=2, mode="chain", provider=provider, model=model, references=refs
    )
    plan = pg.plan(request)
    assert plan.sendable == ("chain" in info.modes), plan.refusals
    if not plan.sendable:
        assert "takes no reference image, so it cannot chain" in plan.refusals[0].message
        with pytest.raises(PlaygroundError, match="cannot chain"):
            asyncio.run(pg.run(request))
        assert emulator.requests == []
    else:
        assert [c.chain_from for c in plan.calls] == [None, 0]


@pytest.mark.parametrize(
    "provider,model,twin,advice",
    [
        (
            "wavespeed",
            "bytedance/seedream-v4.5/edit-sequential",
            "bytedance/seedream-v4.5/sequential",
            "in mode sequence or baseline: it takes no reference image, so it cannot chain",
        ),
        (
            "atlascloud",
            "bytedance/seedream-v4.5/edit-sequential",
            "bytedance/seedream-v4.5/sequential",
            "in mode sequence or baseline: it takes no reference image, so it cannot chain",
        ),
        (
            "fal",
            "fal-ai/bytedance/seedream/v4.5/edit",
            "fal-ai/bytedance/seedream/v4.5/text-to-image",
            "which chains from its own frame 1",
        ),
    ],
)
def test_a_chain_on_an_edit_only_model_says_frame_1_needs_a_reference(
    emulator, data_dir, tmp_path, provider, model, twin, advice
):
    """It was refused by the provider's "edits reference images: add 1 to 10", which does not say
    why a chain (whose frames 2..N get a reference) needs one: frame 1 has only the user's. The
    estimate line and the run say the same; with a reference of the user's it is planned."""
    fields = dict(
        provider=provider, model=model, mode="chain", frames=3, size="2048x2048" if provider == "fal" else "256x256"
    )
    if provider == "fal" and "v4.5" in model:
        fields["size"] = "2560x1440"
    pg, request, session = setup(emulator, data_dir, tmp_path, dict(fields), {}, 0.0)
    message = pg.plan(request, session).refusals[0].message
    assert (
        f"{provider}/{model} edits reference images: frame 1 of a chain needs a reference image on this model"
        in message
    )
    assert f"or use {twin} (text to image)" in message and advice in message
    assert message in estimate_text(pg, request, session)
    with pytest.raises(PlaygroundError, match="frame 1 of a chain needs a reference image"):
        asyncio.run(pg.run(request, session))
    assert emulator.requests == []
    pg, request, session = setup(emulator, data_dir, tmp_path, {**fields, "references": "one"}, {}, 0.0)
    assert pg.plan(request, session).sendable
