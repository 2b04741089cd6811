"""`python -X importtime bench/first_request.py COMMAND ...`: the playground's CLI with a
line `# first request <unix time>` written to stderr when its first HTTP request leaves, so the
import lines above it are what the command imported before it (tests/cli/test_light_cli.py, the
bench's first-request figure)."""

from __future__ import annotations

import runpy
import sys
import time

import httpx

_send = httpx.AsyncClient.send
_sent: list[float] = []


async def _marked_send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: object) -> httpx.Response:
    if not _sent:
        _sent.append(time.time())
        print(f"# first request {_sent[0]:.4f}", file=sys.stderr, flush=True)
    return await _send(self, request, **kwargs)  # type: ignore[arg-type]


httpx.AsyncClient.send = _marked_send  # type: ignore[method-assign]
sys.argv = ["playground", *sys.argv[1:]]
runpy.run_module("playground", run_name="__main__", alter_sys=True)
