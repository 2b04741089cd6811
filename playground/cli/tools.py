"""`python -m playground emulator` and `python -m playground bench`: development tools that live
beside playground/ in a source checkout (emulator/, bench/), never inside the product.

They are loaded from the checkout that holds this playground/ package, by file location, so
no sys.path is edited and no foreign package of the same name is ever run; an installed wheel
(which holds playground/ only) says where they are instead of failing with a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import playground

if TYPE_CHECKING:  # cli.common loads the core: only its type here
    from playground.cli.common import Subparsers

TOOLS = {"emulator": "emulator.cli", "bench": "bench.cli"}  # tool -> its module with main(argv)
HELP = {
    "emulator": "serve every provider's protocol on 127.0.0.1 (demos without keys)",
    "bench": "benchmark the playground against the provider's own time (ratios)",
}


class ToolMissing(Exception):
    pass


def register(sub: Subparsers, command: str) -> None:
    """The tool in `--help`; its own parser reads the rest of the command line."""
    p = sub.add_parser(command, help=HELP[command], add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args: run_tool(command, args.rest))


def run_tool(name: str, argv: list[str]) -> int:
    try:
        module = load_tool(name)
    except ToolMissing:
        print(
            f"error: the {name} is a development tool that lives beside playground/ in a source checkout; it is "
            f"not part of the installed package (clone the repository, then: python -m playground {name})",
            file=sys.stderr,
        )
        return 2
    return int(module.main(argv) or 0)


def load_tool(name: str) -> ModuleType:
    """The checkout's own emulator/ or bench/ package (marked `__playground_tool__`), then its cli."""
    package = sys.modules.get(name)
    if package is None:
        init = Path(playground.__file__).resolve().parents[1] / name / "__init__.py"
        if not init.is_file():
            raise ToolMissing(name)
        spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
        if spec is None or spec.loader is None:
            raise ToolMissing(name)
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[name]
            raise
    if getattr(package, "__playground_tool__", None) != name:
        raise ToolMissing(name)
    return importlib.import_module(TOOLS[name])
