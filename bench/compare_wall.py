"""Wall time of a comparison of k arms against the loopback emulator: close to the slowest
arm (arms run concurrently), far from the sum (arms run one after another).

    python -m bench.compare_wall [--latency 1.0] [--frames 4] [--repeats 3]

Prints, per repeat, the sum of the arms run one by one, the slowest arm and the wall time
of `experiments.compare` with every arm at once, then the ratios wall/slowest and wall/sum.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from emulator import Emulator
from playground.base.config import Settings
from playground.base.prompts import Story
from playground.core import Playground
from playground.experiments.cells import parse_arms
from playground.experiments.compare import compare

ARMS = [
    "byteplus::sequence",
    "evolink::sequence",
    "wavespeed::sequence",
    "atlascloud::sequence",
    "openai::baseline",
    "fal::baseline",
]


async def one_by_one(playground: Playground, story: Story, frames: int) -> tuple[float, float]:
    """(sum of the arms' wall times, the slowest arm's) with the arms run in turn."""
    times = []
    for arm in parse_arms(ARMS):
        started = time.perf_counter()
        result = await compare(playground, story, [arm], frames=frames, seed=7)
        assert result.records[0].status == "ok", result.records[0].error
        times.append(time.perf_counter() - started)
    return sum(times), max(times)


async def all_at_once(playground: Playground, story: Story, frames: int) -> float:
    result = await compare(playground, story, parse_arms(ARMS), frames=frames, seed=7)
    assert all(r.status == "ok" for r in result.records), [r.error for r in result.records]
    return result.wall_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="emulator latency per job (s)")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    story = Story("a fox courier with a blue scarf", "flat colours", tuple(f"beat {i + 1}" for i in range(args.frames)))
    with Emulator(latency_s=args.latency, image_size=(256, 256)) as emu, tempfile.TemporaryDirectory() as tmp:
        playground = Playground(Settings.from_env(env=emu.env(), data_dir=Path(tmp)))
        ratios_slowest, ratios_sum = [], []
        print(f"{len(ARMS)} arms, {args.frames} frames, emulator latency {args.latency:.2f} s")
        for i in range(args.repeats):
            total, slowest = asyncio.run(one_by_one(playground, story, args.frames))
            wall = asyncio.run(all_at_once(playground, story, args.frames))
            ratios_slowest.append(wall / slowest)
            ratios_sum.append(wall / total)
            print(f"repeat {i + 1}: one by one {total:.2f} s (slowest arm {slowest:.2f} s), all at once {wall:.2f} s")
        print(
            f"wall / slowest arm: {statistics.median(ratios_slowest):.2f} (median)   "
            f"wall / sum of arms: {statistics.median(ratios_sum):.2f} (median)"
        )


if __name__ == "__main__":
    main()
