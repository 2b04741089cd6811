"""The web app launched on a free port, as the tests and the browser tests use it."""

from __future__ import annotations

import socket

from playground.base.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(settings: Settings) -> tuple[object, str]:
    from app import create_app

    app, options = create_app(settings)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
    return app, f"http://127.0.0.1:{port}/"
