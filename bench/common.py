"""What every benchmark part shares: the result row, timing, the emulator set-up, the table."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.story import BEATS, PROMPT  # noqa: F401  (re-exported for the parts)
from emulator.cli import READY

REPO = Path(__file__).resolve().parents[1]
EMULATOR_PORT = 0  # `bench --port`: the port of each emulator process (one at a time); 0 = a free one


@dataclass
class Row:
    """One line of the table: a measured figure, its target and whether it was met."""

    part: str
    measure: str
    value: float | None
    unit: str = "x"
    target: str = ""  # e.g. "<= 1.0"; "" = reported, no target
    ok: bool | None = None
    note: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "%":
            return f"{self.value:.1f}%"
        if self.unit in ("ms", "s", "MB", "fps", "/s", "KB"):
            digits = 0 if self.unit == "ms" and self.value >= 100 else 1 if self.unit in ("ms", "MB", "KB") else 2
            return f"{self.value:.{digits}f} {self.unit}"
        return f"{self.value:g} {self.unit}"

    def verdict(self) -> str:
        return "" if self.ok is None else ("met" if self.ok else "MISSED")


def check(value: float | None, target: str) -> bool | None:
    """Compare a value with a target written as "<= 1.3", "< 10" or ">= 2"."""
    if value is None or not target:
        return None
    op, _, limit = target.partition(" ")
    bound = float(limit.rstrip("%x"))
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound, ">": value > bound}[op]


def row(part: str, measure: str, value: float | None, unit: str = "x", target: str = "", note: str = "") -> Row:
    return Row(part, measure, value, unit, target, check(value, target), note)


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` timings: the least disturbed by other load on a shared machine."""
    return min(timed(fn)[0] for _ in range(max(1, repeats)))


@contextmanager
def emulator(latency_s: float, size: str = "512x512") -> Iterator[object]:
    """A loopback emulator in this process (its job table and poll counts can be read)."""
    from emulator import Emulator

    emu = Emulator(latency_s=latency_s, image_size=size, image_format="jpeg").start()
    try:
        yield emu
    finally:
        emu.stop()


@dataclass
class EmulatorProcess:
    """A loopback emulator in its own process: its work (rendering, base64, JSON) then takes
    no GIL time from the client being measured, as a remote provider's would not."""

    env: dict[str, str]
    url: str
    pid: int = 0

    def cpu_s(self) -> float:
        """CPU seconds the emulator's process has used (all its threads; Linux /proc, else 0)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def emulator_process(
    latency_s: float,
    file_delay_s: float = 0.0,
    size: str = "2048x2048",
    fmt: str = "jpeg",
    draw_first: bool = True,
    textured: bool = True,
    extra: Sequence[str] = (),
) -> Iterator[EmulatorProcess]:
    args = [
        sys.executable,
        "-m",
        "emulator",
        "--port",
        str(EMULATOR_PORT),
        "--latency",
        str(latency_s),
        "--image-size",
        size,
        "--format",
        fmt,
        "--file-delay",
        str(file_delay_s),
        *(["--textured"] if textured else []),
        *extra,
    ]
    child = subprocess.Popen(
        args, cwd=REPO, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert child.stdout is not None
        url = child.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
        env = {}
        while (line := child.stdout.readline().strip()) != READY:  # base URL and key of every provider
            if line.startswith("#"):  # a note (the rate limits it enforces)
                continue
            name, _, value = line.removeprefix("export ").partition("=")
            if not name:
                raise RuntimeError("the emulator stopped before printing its settings")
            env[name] = value
        if draw_first:
            _draw_frames(url, size, fmt)
        yield EmulatorProcess(env, url, child.pid)
    finally:
        stop(child)


def stop(child: subprocess.Popen) -> None:
    """End a child this benchmark started (terminate, then kill if it lingers)."""
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _draw_frames(url: str, size: str, fmt: str) -> None:
    """Ask once for each grainy frame, so drawing them is not timed."""
    import httpx

    with httpx.Client(timeout=120) as client:
        for variant in range(64, 72):
            client.get(f"{url}/files/{size}/{variant}.{fmt}").raise_for_status()


def table(rows: list[Row], markdown: bool = False) -> str:
    header = ["part", "measure", "value", "target", "verdict", "note"]
    cells = [[r.part, r.measure, r.shown(), r.target, r.verdict(), r.note] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in line) + " |" for line in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    widths[-1] = 0
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    return "\n".join(out)


def machine() -> str:
    """One line describing where the numbers came from (they vary with the machine and its load)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {load()}; Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}"
    )


def load() -> str:
    """The load average (other jobs on a shared machine slow the CPU-bound rows)."""
    try:
        one, five, fifteen = os.getloadavg()
        return f"load average {one:.1f} {five:.1f} {fifteen:.1f} (1, 5, 15 min)"
    except OSError:
        return "load average unknown"


def python_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python that imports the repo (from a fresh clone: no install)."""
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return {**env, **(extra or {})}


def run_python(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 300
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of a child `python ARGS` from the repo root, and its result."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env or python_env(), capture_output=True, text=True, timeout=timeout
    )
    return time.perf_counter() - started, done
