"""Benchmarks of the playground (`python -m playground bench`, or `python -m bench` from a
checkout): a development tool beside the product, never imported by it."""

__playground_tool__ = "bench"  # what playground.cli.tools looks for before running it
