"""Pytest fixtures around the loopback provider emulator (a plugin, registered by
tests/conftest.py for every test). Fixtures:

    emulator_server   session: one Emulator on 127.0.0.1 for the whole run
    emulator          function: that server, reset (log, faults, jobs) and latency 0
    emulator_env      function: env vars set (monkeypatch) to the emulator's base URLs + fake keys;
                      returns the dict
    small_frames      function: `emulator` drawing every frame at 48x32 (protocol tests, not pixels)
    sink              function: a fresh CollectingSink
    make_provider     function: factory(name, **policy) -> provider instance pointed at the
                      emulator, with a recording fake sleep (`p.sleeps`) and quick polling
    make_call         function: factory(provider, **fields) -> ProviderCall with the model's
                      defaults and the emulator's fake key
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from emulator import Emulator
from playground.base.types import ProviderCall
from playground.providers import provider_class
from playground.providers.http import PollPolicy
from playground.providers.predictions import PredictionProvider
from support.sinks import CollectingSink


@pytest.fixture(scope="session")
def emulator_server():
    emu = Emulator(latency_s=0.0, stuck_s=5.0).start()
    yield emu
    emu.stop()


@pytest.fixture
def emulator(emulator_server: Emulator):
    emulator_server.reset()
    emulator_server.latency_s = 0.0
    emulator_server.image_size = None
    emulator_server.image_format = "png"
    emulator_server.file_delay_s = 0.0
    emulator_server.textured = False
    emulator_server.wavespeed_upload_path = "/media/uploads"
    emulator_server.strict_fields = True
    emulator_server.sync_wait_s = 30.0
    emulator_server.shapes = set()
    yield emulator_server
    emulator_server.reset()
    emulator_server.shapes = set()  # a test's shapes never leak into a test using emulator_server alone


@pytest.fixture
def emulator_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = emulator.env()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def small_frames(emulator: Emulator) -> Emulator:
    emulator.image_size = (48, 32)
    return emulator


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


@pytest.fixture
def make_provider(emulator: Emulator):
    def make(
        name: str, *, deadline_s: float = 20.0, first_interval: float = 0.02, max_interval: float = 0.1, **kwargs: Any
    ):
        cls = provider_class(name)
        if issubclass(cls, PredictionProvider):  # these tests drive the polled path; sync mode asks for it
            kwargs.setdefault("sync_mode", False)
        provider = cls(base_url=emulator.base_urls()[cls.base_url_env], **kwargs)
        provider.poll_policy = PollPolicy(
            first_interval=first_interval, max_interval=max_interval, growth=1.5, deadline_s=deadline_s
        )
        sleeps: list[float] = []

        async def fake_sleep(seconds: float) -> None:  # records, and yields a real tick to the loop
            sleeps.append(seconds)
            await asyncio.sleep(seconds if seconds <= 0.25 else 0.02)  # real short waits, long ones skipped

        provider.sleep = fake_sleep
        provider.sleeps = sleeps
        return provider

    return make


@pytest.fixture
def make_call(emulator: Emulator):
    def make(provider: Any, **fields: Any) -> ProviderCall:
        info = provider.model(fields.pop("model", provider.default_model()))
        base = ProviderCall(
            model=info.id,
            prompt="a red fox in a blue scarf",
            frames=1,
            size="256x256",
            seed=None,
            api_key=emulator.env()[provider.key_env],
        )
        return replace(base, **fields)

    return make
