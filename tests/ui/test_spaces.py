"""The repository as a Hugging Face Space: front matter, pinned Gradio, DATA_DIR, secrets, banner."""

from __future__ import annotations

import re
from pathlib import Path

import gradio
import pytest
import yaml

from playground.base import config
from playground.base.config import Settings
from playground.core import Playground
from playground.present.providers import banner
from support.paths import REPO

ROOT = REPO


def front_matter(text: str) -> dict[str, object]:
    match = re.match(r"\A---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md must start with a YAML block between two --- lines"
    return yaml.safe_load(match.group(1))


def pinned_gradio() -> str:
    pins = [
        line.split("==", 1)[1].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if re.match(r"^gradio\s*==", line)
    ]
    assert len(pins) == 1, "requirements.txt must pin gradio==X.Y.Z exactly once"
    return pins[0]


def test_readme_front_matter_is_a_gradio_space() -> None:
    meta = front_matter((ROOT / "README.md").read_text(encoding="utf-8"))
    assert meta["title"] and meta["emoji"]
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py"
    assert str(meta["sdk_version"]) == pinned_gradio() == gradio.__version__
    assert str(meta["python_version"]) == "3.11"
    assert len(str(meta.get("short_description", ""))) <= 60  # the Hub refuses longer ones
    assert (ROOT / str(meta["app_file"])).is_file()


def test_data_dir_is_data_playground_only_when_a_volume_is_mounted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_path = config.Path
    mount = tmp_path / "mount"
    monkeypatch.setattr(config, "Path", lambda p="": real_path(mount) if str(p) == "/data" else real_path(p))
    assert config.default_data_dir({}) == real_path("data")  # no volume: ./data
    mount.mkdir()
    assert config.default_data_dir({}) == mount / "playground"  # persistent storage mounted at /data
    assert config.default_data_dir({"PLAYGROUND_DATA_DIR": str(tmp_path / "x")}) == tmp_path / "x"


def test_app_builds_without_data_and_keeps_its_files_in_dot_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import create_app

    real_path = config.Path
    monkeypatch.setattr(
        config, "Path", lambda p="": real_path(tmp_path / "absent") if str(p) == "/data" else real_path(p)
    )
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(env={})
    app, options = create_app(settings)
    assert settings.data_dir == real_path("data") and (tmp_path / "data").is_dir()
    data = (tmp_path / "data").resolve()  # frames, previews and exports are served; the log never is
    assert options["allowed_paths"] == [str(data / "runs"), str(data / "exports")]
    assert (
        str(data / "runs.csv") in options["blocked_paths"]
        and str(data / "reservations.json") in options["blocked_paths"]
    )
    assert options["run_history"] is False  # no inputs (nor typed keys) stored in visitors' browsers
    assert app.config["title"] == "Sequential image playground"


def test_keys_come_from_space_secrets_and_the_banner_says_what_is_live(tmp_path: Path) -> None:
    env = {
        "ARK_API_KEY": "secret-ark-0123456789",
        "PLAYGROUND_MAX_USD_PER_RUN": "0.5",
        "PLAYGROUND_MAX_USD_PER_DAY": "5",
    }
    playground = Playground(Settings.from_env(env=env, data_dir=tmp_path / "data"))
    text = banner(playground)
    assert "`byteplus`" in text and "`wavespeed`" not in text
    assert "Every run is logged" in text and "$0.50 per run" in text and "$5.00 per day" in text
    assert "secret-ark" not in text
    unguarded = banner(Playground(Settings.from_env(env={"ARK_API_KEY": "k" * 12}, data_dir=tmp_path / "d")))
    assert "No spend cap is set" in unguarded
    offline = banner(Playground(Settings.from_env(env={}, data_dir=tmp_path / "e")))
    assert "none (no API key set" in offline and "spend cap" not in offline.lower()


def test_requirements_install_what_the_app_imports() -> None:
    wanted = {
        line.split("==")[0].split(">=")[0].strip().lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert {"gradio", "httpx", "pillow", "pandas", "numpy", "filelock"} <= wanted
