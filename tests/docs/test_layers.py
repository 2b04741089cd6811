"""The layout holds: the import contracts of pyproject.toml are kept (layers, no cycles, the
product without the emulator and the benchmarks), and the development tools run through the
product's CLI from a checkout without being part of the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.paths import REPO


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {name} is not installed (requirements-dev.txt)")
        pytest.skip(f"{name} not installed (pip install -r requirements-dev.txt)")
    return path


def test_the_import_contracts_are_kept() -> None:
    done = subprocess.run([_tool("lint-imports")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "playground", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_tools_run_through_the_playground_command_from_a_checkout() -> None:
    helped = _cli("--help")
    assert helped.returncode == 0 and "emulator" in helped.stdout and "bench" in helped.stdout
    bench = _cli("bench", "--help")
    assert bench.returncode == 0 and "python -m playground bench" in bench.stdout and "--quick" in bench.stdout
    emulator = _cli("emulator", "--help")
    assert emulator.returncode == 0 and "python -m playground emulator" in emulator.stdout


def test_a_run_loads_neither_the_emulator_nor_the_benchmarks(tmp_path: Path) -> None:
    code = (
        "import sys; from playground.cli.main import main; "
        f"code = main(['run', '--frames', '2', '--prompt', 'a fox', '--data-dir', {str(tmp_path)!r}]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('emulator', 'bench')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_wheel_holds_the_product_only(tmp_path: Path) -> None:
    """The installed package is playground/ alone; its `emulator` command says where the tool is."""
    source = tmp_path / "source"  # built from a copy: setuptools leaves build/ and *.egg-info behind
    shutil.copytree(REPO / "playground", source / "playground", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "requirements.txt", "requirements-deep.txt", "requirements-dev.txt"):
        shutil.copy(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if "/" in n and ".dist-info" not in n}
    assert tops == {"playground"}, tops
    assert any(n.endswith("entry_points.txt") for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-m", "playground", "emulator"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "source checkout" in done.stderr and "Traceback" not in done.stderr
