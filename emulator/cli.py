"""`python -m playground emulator` (also `python -m emulator` from a checkout): the emulator on
a port, printing the `export` lines that point the playground at it, then `# ready`."""

from __future__ import annotations

import argparse
import sys
import time

from emulator.server import Emulator
from playground.base.errors import ConfigError

READY = "# ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground emulator", description="Loopback server speaking every provider's protocol"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = a free port")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds each generation takes")
    parser.add_argument("--image-size", default=None, help="force every frame to WxH, e.g. 2048x2048")
    parser.add_argument("--format", default="png", choices=("png", "jpeg"))
    parser.add_argument(
        "--file-delay", type=float, default=0.0, help="seconds before each frame download starts (a CDN)"
    )
    parser.add_argument("--textured", action="store_true", help="grainy frames, sized like real ones (benchmarks)")
    parser.add_argument(
        "--limits",
        default="",
        help="rate limits per provider key, written as PLAYGROUND_RATE_LIMITS "
        "is: e.g. 'byteplus=60/min:5,*=:2' (N creates per period, :C generations in progress)",
    )
    parser.add_argument(
        "--rpm", type=int, default=None, help="creates per minute per key, every provider not in --limits"
    )
    parser.add_argument(
        "--concurrent", type=int, default=None, help="generations in progress per key, every provider not in --limits"
    )
    args = parser.parse_args(argv)
    try:
        limits = limits_text(args.limits, args.rpm, args.concurrent)
        emu = Emulator(
            latency_s=args.latency,
            image_size=args.image_size,
            image_format=args.format,
            host=args.host,
            port=args.port,
            file_delay_s=args.file_delay,
            textured=args.textured,
            limits=limits,
        ).start()
    except ConfigError as exc:
        parser.error(str(exc).replace("PLAYGROUND_RATE_LIMITS", "--limits"))  # the same syntax
    print(f"# provider emulator on {emu.url} (Ctrl-C to stop). Use it with:")
    if limits:
        print(f"# rate limits per key: {limits}")
    for name, value in emu.env().items():
        print(f"export {name}={value}")
    print(READY)  # the last line: whoever reads the exports can stop here
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


def limits_text(limits: str, rpm: int | None, concurrent: int | None) -> str:
    """--limits, with --rpm/--concurrent as the `*` entry (every provider --limits does not name)."""
    if rpm is None and concurrent is None:
        return limits
    if (rpm is not None and rpm < 1) or (concurrent is not None and concurrent < 1):
        raise ConfigError("--rpm and --concurrent must be at least 1")
    star = f"*={'' if rpm is None else f'{rpm}/min'}:{'-' if concurrent is None else concurrent}"
    return ",".join(filter(None, [limits, star]))
