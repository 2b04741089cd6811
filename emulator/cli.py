"""`python -m playground emulator` (also `python -m emulator` from a checkout): the emulator on
a port, printing the `export` lines that point the playground at it, then `# ready`."""

from __future__ import annotations

import argparse
import sys
import time

from emulator.server import Emulator

READY = "# ready"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m playground emulator",
                                     description="Loopback server speaking every provider's protocol")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = a free port")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds each generation takes")
    parser.add_argument("--image-size", default=None, help="force every frame to WxH, e.g. 2048x2048")
    parser.add_argument("--format", default="png", choices=("png", "jpeg"))
    parser.add_argument("--file-delay", type=float, default=0.0, help="seconds before each frame download starts (a CDN)")
    parser.add_argument("--textured", action="store_true", help="grainy frames, sized like real ones (benchmarks)")
    args = parser.parse_args(argv)
    emu = Emulator(latency_s=args.latency, image_size=args.image_size, image_format=args.format,
                   host=args.host, port=args.port, file_delay_s=args.file_delay, textured=args.textured).start()
    print(f"# provider emulator on {emu.url} (Ctrl-C to stop). Use it with:")
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
