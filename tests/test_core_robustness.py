"""The core's guarantees under faults that are not the provider's: every run ends as exactly one
row whatever raises (disk full, a progress callback, a second cancel), keys stay out of
repr(), spend that may have been billed is counted, the day cap holds across processes,
and configuration or size mistakes are refused with one clear line.

`ScriptedProvider` is registered like a real provider (through the registry), and its
`generate` runs whatever script the test sets."""

from __future__ import annotations

import asyncio
import errno
import math

import httpx
import pytest

from playground import frames
from playground.config import Settings
from playground.core import Session
from playground.errors import ConfigError
from playground.types import ProviderCall
from test_faults_support import cli, frame_files, tiny_png

FAKE_KEY = "fake-key-0123456789abcdef"


# -- keys never in a repr (defect 11) ------------------------------------------------------------

def test_no_key_in_the_repr_of_anything_that_holds_one(tmp_path):
    call = ProviderCall(model="m", prompt="p", frames=1, size="1K", seed=None, api_key=FAKE_KEY)
    session = Session(keys={"ARK_API_KEY": FAKE_KEY})
    settings = Settings.from_env(env={"ARK_API_KEY": FAKE_KEY}, data_dir=tmp_path)
    for holder in (call, session, settings):
        assert FAKE_KEY not in repr(holder), type(holder).__name__
        assert FAKE_KEY not in str(holder), type(holder).__name__
    assert call.api_key == FAKE_KEY and session.keys["ARK_API_KEY"] == FAKE_KEY  # still there, only hidden


# -- configuration values that would silently disable a limit (defect 20) --------------------------

@pytest.mark.parametrize("name", ["PLAYGROUND_MAX_USD_PER_RUN", "PLAYGROUND_MAX_USD_PER_SESSION",
                                  "PLAYGROUND_MAX_USD_PER_DAY", "PLAYGROUND_CONFIRM_USD"])
@pytest.mark.parametrize("raw", ["nan", "-1", "-inf"])
def test_a_cap_that_is_not_a_non_negative_number_is_refused(tmp_path, name, raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env={name: raw}, data_dir=tmp_path)
    message = str(caught.value)
    assert name in message and repr(raw) in message and "\n" not in message


@pytest.mark.parametrize("name", ["PLAYGROUND_MAX_DOWNLOAD_MB", "PLAYGROUND_RUN_DEADLINE_S"])
@pytest.mark.parametrize("raw", ["nan", "inf", "-5", "0"])
def test_a_limit_must_be_a_positive_finite_number(tmp_path, name, raw):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env={name: raw}, data_dir=tmp_path)


def test_inf_still_lifts_a_cap_and_zero_still_means_free_runs_only(tmp_path):
    settings = Settings.from_env(env={"PLAYGROUND_MAX_USD_PER_RUN": "inf", "PLAYGROUND_MAX_USD_PER_DAY": "0"},
                                 data_dir=tmp_path)
    assert settings.max_usd_per_run == math.inf and settings.max_usd_per_day == 0.0


def test_the_cli_prints_the_one_line_for_a_nan_cap(data_dir):
    result = cli(["run", "--frames", "2", "--prompt", "a fox"], {"PLAYGROUND_MAX_USD_PER_DAY": "nan"}, data_dir)
    assert result.code == 2 and "PLAYGROUND_MAX_USD_PER_DAY" in result.err and "Traceback" not in result.err


# -- a failed write leaves no file behind (defect 20) ------------------------------------------------

def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_save_frame_removes_its_part_file_when_the_write_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(frames.os, "replace", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        frames.save_frame(tmp_path, 1, tiny_png())
    assert frame_files(tmp_path) == []


def test_save_frame_removes_the_frame_when_its_preview_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "_write_preview", _disk_full)
    with pytest.raises(OSError, match="No space left"):
        frames.save_frame(tmp_path, 1, tiny_png())
    assert frame_files(tmp_path) == []  # a frame without its preview is not a frame of the run


def test_a_download_whose_preview_cannot_be_written_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "_write_preview", _disk_full)
    png = tiny_png()

    async def go() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=png))
        async with httpx.AsyncClient(transport=transport) as client:
            await frames.download_frame(client, "http://files.test/1.png", tmp_path, 1, 10**6)

    with pytest.raises(OSError, match="No space left"):
        asyncio.run(go())
    assert frame_files(tmp_path) == []
