"""A public Space against strangers (issue 13, findings 1, 8 and the caps of 9): spend caps check
the MOST a run could cost, model ids are ids and not paths, Compare cannot skip its confirmation
nor pass the app's bound on runs in flight, and the session cap does not reset with a new client.

Each finding is tried the way it was found: through the launched app's API (gradio_client, or a
raw POST /gradio_api/queue/join with the fn_index of a private event), with SPACE_ID set for the
Space defaults, against the loopback emulator; the batch file findings through the CLI."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from playground.base.config import Settings
from playground.base.errors import ConfigError, InputError
from playground.base.types import GenerationRequest
from playground.core import Playground, Session
from playground.core.spend import MAX_RUNS_IN_FLIGHT, visitor_key
from support.faults import cli, make_playground, peak_overlap, rows, run

SPACE = {"SPACE_ID": "someone/playground"}


@pytest.fixture
def launch(emulator, data_dir) -> Iterator[Any]:
    """launch(**env) -> the URL of the app on the emulator (closed after the test)."""
    from support.app import launch_app

    apps = []

    def start(**extra: str) -> str:
        app, url = launch_app(Settings.from_env(env={**emulator.env(), **extra}, data_dir=data_dir))
        apps.append(app)
        return url

    yield start
    for app in apps:
        app.close()


def client(url: str, forwarded_for: str | None = None) -> Any:
    from gradio_client import Client

    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    return Client(url, verbose=False, headers=headers)


def generate(
    c: Any,
    *,
    provider: str = "byteplus",
    model: str = "",
    frames: int = 2,
    mode: str = "sequence",
    size: str = "256x256",
    prompt: str = "a fox courier",
) -> str:
    """Press Generate through the public API; everything the run showed, as text."""
    job = c.submit(prompt, "", frames, provider, model, mode, 7, size, [], api_name="/generate")
    job.result()
    return str(job.outputs())


def refused_through_api(url: str, match: str, **fields: Any) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=match):
        generate(client(url), **fields)


# -- finding 1: caps check the most a call could cost ---------------------------------------------------


def test_a_large_size_cannot_shrink_the_price_of_gpt_image_2(launch, emulator, data_dir):
    """gpt-image-2 was $0.04 an image at any size: 4096x4096 was sent and logged $7.60 against a $1 cap."""
    url = launch(**SPACE)
    refused_through_api(
        url, "4096x4096", provider="openai", model="gpt-image-2", frames=1, mode="baseline", size="4096x4096"
    )  # past gpt-image-2's largest size (3840x2160) [sdk]
    refused_through_api(
        url,
        "PLAYGROUND_MAX_USD_PER_RUN",
        provider="openai",
        model="gpt-image-2",
        frames=1,
        mode="baseline",
        size="3840x2160",
    )  # the high-quality worst case is about $1.67
    assert emulator.requests == []
    assert [r["status"] for r in rows(make_playground({}, data_dir))] == ["error", "error"]


def test_the_cap_counts_the_worst_quality_not_the_typical_one(launch, emulator, data_dir):
    """Quality is left to the model (`auto`): five 1024x1024 images typically cost about $0.27, at
    high quality $1.05, which passes the Space's $1 run cap."""
    url = launch(**SPACE)
    refused_through_api(
        url, r"at most \$1\.0", provider="openai", model="gpt-image-2", frames=5, mode="baseline", size="1024x1024"
    )
    assert emulator.requests == []
    row = rows(make_playground({}, data_dir))[0]
    assert row["estimate_usd"] < 1.0 < row["max_cost_usd"]  # both are logged; the cap used the second
    shown = generate(client(url), provider="openai", model="gpt-image-2", frames=2, mode="baseline", size="1024x1024")
    assert "ok: 2 of 2 frames" in shown and "at most $0.4" in shown  # the summary shows both figures


@pytest.mark.parametrize(
    "model",
    [
        "../../../openai/v1/images/generations",
        "bytedance/../../x",
        "bytedance/seedream-v4/sequential?x=1",
        "bytedance/seedream%2fv4",
        "http://evil.example/x",
        "bytedance//sequential",
        " bytedance/seedream-v4",
    ],
)
def test_a_model_id_is_an_id_never_a_path(launch, emulator, model):
    url = launch(**SPACE)
    refused_through_api(url, "model id", provider="wavespeed", model=model, frames=2)
    assert emulator.requests == []  # the WaveSpeed key went nowhere


def test_a_space_refuses_model_ids_it_does_not_list(launch, emulator):
    url = launch(**SPACE)
    refused_through_api(
        url,
        "PLAYGROUND_ALLOWED_MODELS",
        provider="fal",
        model="fal-ai/veo3",
        frames=1,
        mode="baseline",
        size="1024x1024",
    )
    assert emulator.requests == []


def test_the_owner_allows_other_model_ids(emulator, data_dir):
    for allowed in ("fal:fal-ai/veo3", "byteplus:*, fal:*"):
        pg = make_playground(emulator.env(), data_dir, **SPACE, PLAYGROUND_ALLOWED_MODELS=allowed)
        record = run(pg, provider="fal", model="fal-ai/veo3", frames=1, mode="baseline", size="1024x1024").record
        assert record.status == "error" and "not found" in record.error  # sent: the emulator knows no such app
        assert record.max_cost_usd is not None and record.price_source.startswith("estimate:")
    assert len(emulator.requests_for("fal", "POST")) == 2
    other = make_playground(emulator.env(), data_dir, **SPACE, PLAYGROUND_ALLOWED_MODELS="fal:fal-ai/flux/dev")
    with pytest.raises(InputError, match="PLAYGROUND_ALLOWED_MODELS"):
        run(other, provider="fal", model="fal-ai/veo3", frames=1, mode="baseline", size="1024x1024")
    off_space = make_playground(emulator.env(), data_dir)  # a researcher's own machine: any well-formed id
    assert (
        run(
            off_space, provider="fal", model="fal-ai/veo3", frames=1, mode="baseline", size="1024x1024"
        ).record.api_calls
        == 1
    )


@pytest.mark.parametrize("value", ["fal", "nope:x", "fal:", "fal:../x", "fal:a b"])
def test_a_bad_allowed_models_value_is_a_clear_error(data_dir, value):
    """Refused when the app or a command starts: the entries' form by the settings, provider names
    and id shapes by the Playground made from them."""
    with pytest.raises(ConfigError, match="PLAYGROUND_ALLOWED_MODELS"):
        Playground(Settings.from_env(env={"PLAYGROUND_ALLOWED_MODELS": value}, data_dir=data_dir))


def test_a_dated_snapshot_of_a_listed_model_is_allowed_on_a_space(emulator, data_dir):
    pg = make_playground(emulator.env(), data_dir, **SPACE)
    record = run(
        pg, provider="openai", model="gpt-image-1.5-2025-12-16", frames=1, mode="baseline", size="1024x1024"
    ).record
    assert record.status == "ok"


@pytest.mark.parametrize(
    "provider, model, size, frames, mode, most",
    [
        ("byteplus", "seedream-5-0-260128", "2048x2048", 4, "sequence", 4 * 0.035),  # billed images: at most 4
        (
            "wavespeed",
            "bytedance/seedream-v4.5/sequential",
            "2048x2048",
            3,
            "sequence",
            3 * 0.04,
        ),  # max_images requested
        ("evolink", "doubao-seedream-5.0-lite", "2K", 3, "sequence", 3 * 0.032),  # n pre-charged
        # per megapixel, rounded up [guess], at the higher of two published prices ($0.04, $0.055)
        ("fal", "fal-ai/flux-pro/v1.1", "2048x2048", 2, "baseline", 2 * 5 * 0.055),  # 4.2 MP -> 5
        ("fal", "fal-ai/flux-pro/v1.1", "square_hd", 1, "baseline", 2 * 0.055),  # 1.05 MP -> 2
        ("openai", "gpt-image-1.5", "1024x1536", 2, "baseline", 2 * 0.20),  # the high-quality table price [3p]
        ("openai", "gpt-image-1-mini", "1024x1024", 1, "baseline", 0.036),
        ("openai", "dall-e-3", "1792x1024", 1, "baseline", 0.08),  # standard quality (hd is never sent)
        ("stability", "sd3.5-large", "1024x1024", 3, "baseline", 3 * 0.065),
    ],
)
def test_the_worst_case_follows_each_billing_rule(data_dir, provider, model, size, frames, mode, most):
    pg = Playground(Settings.from_env(env={}, data_dir=data_dir))
    request = pg.resolve(
        GenerationRequest(prompt="x", provider=provider, model=model, size=size, frames=frames, mode=mode)
    )
    estimate = pg.estimate(request)
    prompt_bound = sum(len(c.prompt.encode()) for c in pg.plan(request).calls) * estimate.price.text_in_per_mtok / 1e6
    assert estimate.max_usd == pytest.approx(most + prompt_bound, abs=1e-6)
    assert estimate.usd <= estimate.max_usd


def test_the_worst_case_counts_the_prompt_of_token_billed_models(data_dir):
    pg = Playground(Settings.from_env(env={}, data_dir=data_dir))
    short = pg.estimate(
        pg.resolve(
            GenerationRequest(
                prompt="x", provider="openai", model="gpt-image-2", frames=1, mode="baseline", size="1024x1024"
            )
        )
    )
    long = pg.estimate(
        pg.resolve(
            GenerationRequest(
                prompt="狐" * 3900, provider="openai", model="gpt-image-2", frames=1, mode="baseline", size="1024x1024"
            )
        )
    )
    # at most one input token per UTF-8 byte: 3 bytes a character at $5 per million tokens
    assert long.max_usd - short.max_usd == pytest.approx((3 * 3900 - 1) * 5 / 1e6, rel=0.01)


def test_an_owner_price_override_sets_the_worst_case_too(data_dir):
    pg = Playground(
        Settings.from_env(env={"PLAYGROUND_PRICES": '{"byteplus/seedream-5-0-260128": 0.5}'}, data_dir=data_dir)
    )
    est = pg.estimate(pg.resolve(GenerationRequest(prompt="x", provider="byteplus", frames=3)))
    assert est.usd == est.max_usd == pytest.approx(1.5)


def test_the_estimate_shows_the_typical_and_the_worst_case(data_dir):
    from playground.present.estimate import estimate_text

    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    text = estimate_text(
        pg,
        GenerationRequest(
            prompt="x", provider="openai", model="gpt-image-2", frames=5, mode="baseline", size="1024x1024"
        ),
    )
    assert "$0.2650" in text and "at most $1.05" in text and "PLAYGROUND_MAX_USD_PER_RUN" in text


# -- finding 8: Compare is bounded and cannot skip its confirmation ------------------------------------------

BYTEPLUS_ARMS = "\n".join(
    f"byteplus:{m}:{mode}"
    for m in ("seedream-5-0-260128", "seedream-4-5-251128", "seedream-4-0-250828")
    for mode in ("sequence", "baseline")
)


def compare_data(arms: str = BYTEPLUS_ARMS, frames: int = 1, prompt: str = "a fox courier") -> list[Any]:
    """The Compare form as the page sends it: prompts A, B, C, beats, frames, seed, arms, size."""
    return [prompt, "", "", "", frames, 7, arms, ""]


def fn_index(url: str, api_name: str) -> int:
    config = httpx.get(url + "config", timeout=30).json()
    return next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == api_name)


def raw_call(url: str, api_name: str, data: list[Any], session_hash: str) -> dict[str, Any]:
    """POST /gradio_api/queue/join with an event's fn_index, as a stranger calls a private event;
    the final message of the event (its output, or its error)."""
    index = fn_index(url, api_name)
    inputs = len(httpx.get(url + "config", timeout=30).json()["dependencies"][index]["inputs"])
    payload = {
        "data": data + [None] * (inputs - len(data)),
        "fn_index": index,
        "session_hash": session_hash,
        "event_data": None,
        "trigger_id": None,
    }
    event_id = httpx.post(url + "gradio_api/queue/join", json=payload, timeout=30).json()["event_id"]
    with httpx.stream(
        "GET", url + "gradio_api/queue/data", params={"session_hash": session_hash}, timeout=120
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("event_id") == event_id and message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event never completed")


def test_the_confirm_endpoint_cannot_skip_the_confirmation(launch, emulator, data_dir):
    url = launch(PLAYGROUND_CONFIRM_USD="0.05")
    answer = raw_call(url, "on_confirm", compare_data(), uuid.uuid4().hex)  # nothing was asked: nothing to confirm
    assert not answer["success"] and "Run comparison" in json.dumps(answer)
    assert emulator.requests == [] and rows(make_playground({}, data_dir)) == []


def test_a_confirmation_runs_exactly_the_comparison_it_was_asked_for(launch, emulator):
    url = launch(PLAYGROUND_CONFIRM_USD="0.05")
    session = uuid.uuid4().hex
    asked = raw_call(url, "compare_form", compare_data(), session)
    assert asked["success"] and "PLAYGROUND_CONFIRM_USD" in json.dumps(asked) and emulator.requests == []
    other = raw_call(url, "on_confirm", compare_data(prompt="another story"), session)  # not what was shown
    assert not other["success"] and emulator.requests == []
    asked = raw_call(url, "compare_form", compare_data(), session)
    done = raw_call(url, "on_confirm", compare_data(), session)
    assert done["success"] and len(emulator.requests_for("byteplus", "POST")) == 6
    again = raw_call(url, "on_confirm", compare_data(), session)  # a confirmation is used once
    assert not again["success"] and len(emulator.requests_for("byteplus", "POST")) == 6
    stranger = raw_call(url, "on_confirm", compare_data(), uuid.uuid4().hex)  # another session's is not yours
    assert not stranger["success"] and len(emulator.requests_for("byteplus", "POST")) == 6


def test_comparisons_share_the_apps_bound_on_runs_in_flight(launch, emulator):
    """Three comparisons of six arms at once: 18 runs, never more than the app's 8 in flight."""
    url = launch(PLAYGROUND_CONFIRM_USD="inf")
    emulator.latency_s = 0.6
    c = client(url)

    def press_run(_: int) -> list[str]:  # the typed endpoint: the same pool as the form's event
        result, _files = c.predict(
            prompt="a fox courier", frames=1, arms=BYTEPLUS_ARMS.splitlines(), api_name="/compare"
        )
        return [run["status"] for run in result["runs"]]

    with ThreadPoolExecutor(3) as pool:
        outputs = list(pool.map(press_run, range(3)))
    assert outputs == [["ok"] * 6] * 3, outputs
    jobs = list(emulator.jobs.values())
    assert len(jobs) == 18
    peak = peak_overlap([(job.created, job.created + job.latency) for job in jobs])
    assert 2 <= peak <= MAX_RUNS_IN_FLIGHT, f"{peak} runs at once"


def test_runs_started_anywhere_in_a_process_share_one_bound(emulator, data_dir):
    """Generate, Compare and batch all end in Playground.run: twelve at once run eight at a time."""
    emulator.latency_s = 0.5
    pg = make_playground(emulator.env(), data_dir)

    async def twelve() -> list[Any]:
        return await asyncio.gather(
            *(
                pg.run(GenerationRequest(prompt=f"fox {i}", provider="byteplus", frames=1, size="256x256"))
                for i in range(12)
            )
        )

    results = asyncio.run(twelve())
    assert [r.record.status for r in results] == ["ok"] * 12
    spans = [(job.created, job.created + job.latency) for job in emulator.jobs.values()]
    assert peak_overlap(spans) <= MAX_RUNS_IN_FLIGHT


def test_a_run_cancelled_while_it_waits_for_a_slot_is_logged(emulator, data_dir):
    emulator.latency_s = 1.0
    pg = make_playground(emulator.env(), data_dir)

    async def scenario() -> None:
        busy = [
            asyncio.create_task(
                pg.run(GenerationRequest(prompt=f"fox {i}", provider="byteplus", frames=1, size="256x256"))
            )
            for i in range(MAX_RUNS_IN_FLIGHT)
        ]
        while len(emulator.requests_for("byteplus", "POST")) < MAX_RUNS_IN_FLIGHT:
            await asyncio.sleep(0.01)
        waiting = asyncio.create_task(
            pg.run(GenerationRequest(prompt="the ninth", provider="byteplus", frames=1, size="256x256"))
        )
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.gather(*busy)

    asyncio.run(scenario())
    logged = {r["prompt"]: r for r in rows(pg)}
    assert logged["the ninth"]["status"] == "cancelled" and "nothing was sent" in logged["the ninth"]["error"]
    assert len(emulator.requests_for("byteplus", "POST")) == MAX_RUNS_IN_FLIGHT


# -- finding 9: the session cap does not reset with a new client -------------------------------------------


def test_a_new_client_does_not_reset_the_session_cap_on_a_space(launch, emulator, data_dir):
    """On a Space every session from one address shares the session cap. The Space's proxy appends
    the address it saw to X-Forwarded-For; what the client wrote before it is ignored."""
    url = launch(**SPACE, PLAYGROUND_MAX_USD_PER_SESSION="0.10")
    assert "ok: 2 of 2 frames" in generate(client(url, "203.0.113.9, 198.51.100.7"))  # $0.07
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="PLAYGROUND_MAX_USD_PER_SESSION"):
        generate(client(url, "192.0.2.44, 198.51.100.7"))  # a fresh client, a forged first hop
    assert "ok: 2 of 2 frames" in generate(client(url, "198.51.100.8"))  # another visitor has their own
    assert len(emulator.requests_for("byteplus", "POST")) == 2


@pytest.mark.parametrize(
    "headers, peer, on_space, key",
    [
        ({}, "10.0.0.5", False, "10.0.0.5"),
        ({"x-forwarded-for": "203.0.113.9"}, "10.0.0.5", False, "10.0.0.5"),  # no proxy to trust off a Space
        ({"x-forwarded-for": "203.0.113.9"}, "10.0.0.5", True, "203.0.113.9"),
        (
            {"x-forwarded-for": "1.2.3.4, 203.0.113.9, 10.1.2.3"},
            "10.0.0.5",
            True,
            "203.0.113.9",
        ),  # internal hops skipped
        ({"x-forwarded-for": "2001:db8:aa:bb:1:2:3:4"}, "10.0.0.5", True, "2001:db8:aa:bb::/64"),  # one IPv6 subscriber
        ({"x-forwarded-for": "garbage"}, "10.0.0.5", True, "10.0.0.5"),
        ({}, None, True, "unknown"),
    ],
)
def test_the_visitor_key(headers, peer, on_space, key):
    assert visitor_key(headers, peer, on_space) == key


def test_a_visitor_spend_is_shared_and_held_per_utc_day(data_dir):
    pg = Playground(Settings.from_env(env=SPACE, data_dir=data_dir))
    a, b = Session(), Session()
    pg.bind_visitor(a, "203.0.113.9")
    pg.bind_visitor(b, "203.0.113.9")
    a.spent_usd += 0.5
    assert b.spent_usd == 0.5 and Session().spent_usd == 0.0


# -- finding 9: batch files ---------------------------------------------------------------------------------

BATCH = (
    'arms = ["byteplus::sequence"]\n{extra}\n[[stories]]\nid = "fox"\ncharacter = "a fox courier"\n'
    'beats = ["a parcel", "a door"]\n'
)


@pytest.mark.parametrize(
    "extra, message",
    [
        ("max_usd = nan", "max_usd"),
        ("max_usd = -1.0", "max_usd"),
        ("max_usd = true", "max_usd"),
        ("frames = inf", "frames"),
        ("frames = nan", "frames"),
        ("frames = 2.5", "frames"),
        ("frames = 1e400", "frames"),
    ],
)
def test_a_batch_file_cannot_lift_its_cap_or_break_the_cli(emulator, data_dir, tmp_path, extra, message):
    path = tmp_path / "exp.toml"
    path.write_text(BATCH.format(extra=extra), encoding="utf-8")
    result = cli(["batch", str(path), "--yes", "--json"], emulator.env(), data_dir)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err, result.err
    assert emulator.requests == []


def test_a_batch_cap_counts_the_worst_case(emulator, data_dir, tmp_path):
    """Two cells of up to 3 gpt-image-1.5 images at 1024x1536: typically $0.30, at most $1.20 together."""
    path = tmp_path / "exp.toml"
    path.write_text(
        'arms = ["openai:gpt-image-1.5:baseline"]\nsize = "1024x1536"\nrepeats = 2\nmax_usd = 0.9\n'
        '[[stories]]\nid = "fox"\ncharacter = "a fox"\nbeats = ["a", "b", "c"]\n',
        encoding="utf-8",
    )
    result = cli(["batch", str(path), "--yes", "--json"], emulator.env(), data_dir)
    assert result.json()["refused"] == 1 and result.json()["ran"] == 1
    assert len(emulator.requests_for("openai", "POST")) == 3
