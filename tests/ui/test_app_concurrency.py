"""The launched app under load and faults, through its public API with gradio_client:
20 simultaneous Generate calls against the emulator finish with 20 intact rows, the shared
"runs" pool bounds how many run at once, and faults end as clear messages."""

from __future__ import annotations

import csv
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from playground.base.config import Settings
from support.faults import peak_overlap

QUEUE_LIMIT = 8  # app.py: queue(default_concurrency_limit=8, max_size=64)


@pytest.fixture
def app_on_emulator(emulator, data_dir):
    from support.app import launch_app

    app, url = launch_app(Settings.from_env(env=emulator.env(), data_dir=data_dir))
    try:
        yield app, url
    finally:
        app.close()


def generate_args(prompt: str, size: str = "256x256", frames: int = 2) -> list[object]:
    """The public /generate endpoint's parameters, in order: prompt, beats, frames, provider,
    model, mode, seed, size, reference images."""
    return [prompt, "", frames, "byteplus", "seedream-5-0-260128", "sequence", 7, size, []]


def generate(client, prompt: str, **kwargs: object) -> str:
    """Press Generate through the API; return everything the run showed (all streamed updates)."""
    job = client.submit(*generate_args(prompt, **kwargs), api_name="/generate")
    job.result()
    return str(job.outputs())


def test_twenty_simultaneous_runs_complete_with_twenty_intact_rows(app_on_emulator, emulator, data_dir):
    from gradio_client import Client

    app, url = app_on_emulator
    emulator.latency_s = 0.8
    client = Client(url, verbose=False)
    prompts = [f'=run {i}, "fox"\ncourier 🦊' for i in range(20)]
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:  # 20 clients pressing Generate at the same moment
        outputs = list(pool.map(lambda p: generate(client, p), prompts))
    elapsed = time.monotonic() - started
    assert all("ok: 2 of 2 frames" in str(out) for out in outputs), outputs[0]
    with open(data_dir / "runs.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20 and {r["status"] for r in rows} == {"ok"}
    assert len({r["run_id"] for r in rows}) == 20
    from playground.store.runlog import RunLog

    assert sorted(RunLog(data_dir).read()["prompt"]) == sorted(prompts)  # whole rows, text exact
    assert len(emulator.requests_for("byteplus", "POST")) == 20
    spans = [(job.created, job.created + job.latency) for job in emulator.jobs.values()]
    peak = peak_overlap(spans)
    assert 2 <= peak <= QUEUE_LIMIT, f"{peak} runs at once"  # the shared "runs" pool bounds them
    assert elapsed >= 0.8 * (20 / QUEUE_LIMIT) * 0.9  # so they ran in waves, not all at once


def test_a_provider_fault_is_a_clear_message_and_a_row(app_on_emulator, emulator, data_dir):
    from gradio_client import Client

    app, url = app_on_emulator
    emulator.set_fault("byteplus", "auth")
    summary = generate(Client(url, verbose=False), "a fox")
    assert "error: 0 of 2 frames" in summary and "key rejected" in summary and "ARK_API_KEY" in summary
    assert emulator.env()["ARK_API_KEY"] not in summary


def test_bad_input_is_a_clear_error_and_sends_nothing(app_on_emulator, emulator, data_dir):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    app, url = app_on_emulator
    with pytest.raises(AppError, match="size 'banana' is not valid"):
        generate(Client(url, verbose=False), "a fox", size="banana")
    assert emulator.requests == []
    with open(data_dir / "runs.csv", encoding="utf-8", newline="") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["error"]
