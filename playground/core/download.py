"""A frame handed over as a URL: streamed to its `.part` file with a size cap and a deadline,
checked by decoding it, then committed to the run folder under its frame name. Any failure
removes the `.part`, so a partial download is never left behind as if it were a frame.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from playground.base.errors import ProviderError
from playground.base.images import decode
from playground.store import rundir

DOWNLOAD_TIMEOUT_S = 120.0  # one frame, start to end (a slow drip cannot hold a run)


async def download_frame(
    client: httpx.AsyncClient,
    url: str,
    run_dir: Path,
    number: int,
    max_bytes: int,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Stream a result URL to `frame_NN.part` with a size cap and a deadline, check that it
    decodes as an image, then rename it to its frame name. Any failure removes the .part."""
    if not url.lower().startswith(("http://", "https://")):
        raise ProviderError("malformed", f"frame {number}: refused to download a non-http(s) URL")
    part = rundir.part_path(run_dir, number)
    try:
        async with asyncio.timeout(timeout_s):
            await _stream_to(client, url, part, number, max_bytes)
        try:
            ext, picture = await asyncio.to_thread(decode, part)
        except ValueError as exc:
            raise ProviderError("malformed", f"frame {number}: {exc}") from None
        return await asyncio.to_thread(rundir.commit_frame, part, run_dir, number, ext, picture)  # type: ignore[arg-type]
    except TimeoutError:
        raise ProviderError("timeout", f"frame {number}: download took over {timeout_s:g} s") from None
    except httpx.TimeoutException:
        raise ProviderError("timeout", f"frame {number}: download timed out") from None
    except httpx.TransportError as exc:
        raise ProviderError("network", f"frame {number}: download failed ({type(exc).__name__})") from None
    finally:
        part.unlink(missing_ok=True)  # already renamed on success; a leftover is never a frame


async def _stream_to(client: httpx.AsyncClient, url: str, part: Path, number: int, max_bytes: int) -> None:
    async with client.stream("GET", url, follow_redirects=False) as response:
        if response.status_code != 200:
            raise ProviderError("server", f"frame {number}: download failed with HTTP {response.status_code}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise ProviderError(
                "malformed",
                f"frame {number}: {int(declared)} bytes exceeds the {max_bytes}-byte cap (PLAYGROUND_MAX_DOWNLOAD_MB)",
            )
        received = 0
        with open(part, "wb") as out:
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_bytes:  # a missing or false content-length is caught here
                    raise ProviderError(
                        "malformed",
                        f"frame {number}: download passed the {max_bytes}-byte cap (PLAYGROUND_MAX_DOWNLOAD_MB)",
                    )
                out.write(chunk)
