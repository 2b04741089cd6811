"""The web app: `python app.py` serves the playground on 127.0.0.1:7860
(or GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, as on a Hugging Face Space)."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no version check or telemetry: works offline

from starlette.middleware import Middleware

from playground.base.config import Settings
from playground.core import Playground
from playground.core.spend import MAX_RUNS_IN_FLIGHT
from playground.ui.app import build_app
from playground.ui.closelook import CLOSE_LOOK_HEAD
from playground.ui.limits import MAX_UPLOAD_BYTES, BodyLimit, blocked_paths, served_paths
from playground.ui.page import CSS, HEAD


def create_app(settings: Settings | None = None):
    """Build the Blocks app and the launch options (tests launch it the same way)."""
    playground = Playground(settings or Settings.from_env())
    playground.settings.data_dir.mkdir(parents=True, exist_ok=True)
    hub = None
    if playground.settings.hub_dataset:  # opt-in: commits DATA_DIR to a Hub dataset in the background
        from playground.store import hub_sync

        hub = hub_sync.start(playground.settings, playground.secrets())
    app = build_app(playground, hub)
    # Events need more than Gradio's default of one at a time: as many as runs may be in flight
    # (the runs themselves are bounded by the core's RUN_SLOTS, whichever event started them).
    app.queue(default_concurrency_limit=MAX_RUNS_IN_FLIGHT, max_size=64)
    # ssr_mode off: a Space with Node would otherwise render server-side, a path the tests never take.
    # Served: frames, previews and exports only (never runs.csv and its side files); uploads and
    # request bodies bounded (playground/ui/limits.py).
    data_dir = playground.settings.data_dir
    launch = dict(
        allowed_paths=served_paths(data_dir),
        blocked_paths=blocked_paths(data_dir),
        max_file_size=MAX_UPLOAD_BYTES,
        app_kwargs={"middleware": [Middleware(BodyLimit)]},
        run_history=False,
        css=CSS,
        head=HEAD + CLOSE_LOOK_HEAD,
        footer_links=["api", "gradio"],
        show_error=True,
        ssr_mode=False,
    )
    return app, launch


if __name__ == "__main__":
    import signal

    # A stopping Space gets SIGTERM [guess]: as Ctrl+C, so Gradio closes and the Hub sync's exit
    # handler makes its last commit and logs what was not uploaded (SIGTERM's default skips it).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    demo, options = create_app()
    demo.launch(**options)
