"""Part 5: `python app.py` until the first HTTP 200, against a bare Gradio hello-world
started the same way (a child process, same environment), and what the app imports at
start-up beyond what Gradio itself imports."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import REPO, Row, python_env, row, run_python, stop

HELLO = """import gradio as gr

with gr.Blocks() as demo:
    gr.Markdown("Hello")

demo.launch()
"""
HEAVY = ("pandas", "scipy", "skimage", "matplotlib", "numpy", "PIL", "httpx", "IPython", "torch")
PROBE = """import json, sys, time
import gradio
before = set(sys.modules)
started = time.perf_counter()
import app
app.create_app()
took = time.perf_counter() - started
added = sorted(m for m in set(sys.modules) - before if m.startswith("playground") or m.split(".")[0] in HEAVY)
print(json.dumps({"seconds": took, "added": added}))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _first_200(script: Path, data_dir: Path, timeout_s: float = 120.0) -> float:
    """Seconds from starting `python script` to its first HTTP 200 on /."""
    port = _free_port()
    env = python_env(
        {"GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "PLAYGROUND_DATA_DIR": str(data_dir)}
    )
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(script)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < timeout_s:
            if child.poll() is not None:
                raise RuntimeError(f"{script.name} exited with {child.returncode} before serving")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{script.name} did not answer within {timeout_s:g} s")
    finally:
        stop(child)


def run(repeats: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="pg-bench-start-") as tmp:
        work = Path(tmp)
        hello = work / "hello.py"
        hello.write_text(HELLO, encoding="utf-8")
        app_times, hello_times = [], []
        for i in range(repeats):  # alternate, so both see the same machine load
            pair = [(hello_times, hello), (app_times, REPO / "app.py")]
            for times, script in pair if i % 2 == 0 else pair[::-1]:
                times.append(_first_200(script, work / "data"))
        probe = _probe(work / "probe")
    app_s, hello_s = min(app_times), min(hello_times)
    heavy = [m for m in probe["added"] if "." not in m and not m.startswith("playground")]
    providers = [m for m in probe["added"] if m.startswith("playground.providers.adapters.")]
    return [
        row(
            "5 start-up",
            "python app.py to first HTTP 200 / bare Gradio app",
            app_s / hello_s,
            "x",
            "<= 1.3",
            f"app {app_s:.2f} s, hello-world {hello_s:.2f} s (fastest of {repeats})",
        ),
        row(
            "5 start-up",
            "app's own start-up work after `import gradio`",
            probe["seconds"],
            "s",
            "",
            "import app + create_app(); heavy packages it adds: "
            + (", ".join(heavy) or "none")
            + f"; provider modules: {len(providers)} (for the model lists), emulator: "
            + ("loaded" if "emulator" in probe["added"] else "not loaded"),
        ),
    ]


def _probe(data_dir: Path) -> dict[str, object]:
    code = f"HEAVY = {HEAVY!r}\n" + PROBE
    _, done = run_python(["-c", code], python_env({"PLAYGROUND_DATA_DIR": str(data_dir)}))
    if done.returncode != 0:
        raise RuntimeError(f"start-up probe failed: {done.stderr.strip()[-300:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
