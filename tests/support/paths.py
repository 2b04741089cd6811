"""Where things are: the repository root, for subprocesses (`cwd=REPO`) and files the tests read."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
