"""A loopback server speaking every provider's wire protocol, for tests, benchmarks and demos
without keys: `from emulator import Emulator`, or `python -m playground emulator`.

A development tool beside the product, never imported by it (pyproject.toml's import
contracts): one module per provider in emulator/providers, each its own list of the fields
and model ids it accepts, so it stays an independent check of the adapters.
"""

from emulator.server import Emulator

__playground_tool__ = "emulator"  # what playground.cli.tools looks for before running it
__all__ = ["Emulator"]
