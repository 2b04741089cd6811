"""`python -m playground COMMAND`: the same core as the web app, for the shell and batch runs.

Exit codes: 0 ok or partial, 1 a run that ended in error (one-line reason on stderr),
2 bad arguments or input rejected before anything was sent.
Each command lives in a module of this package whose `register(subparsers, command)` adds it
(COMMANDS, in the order `--help` lists them); only the module of the command given is
imported, so a command starts fast. The commands share
playground.cli.common and never import this module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from playground.base.errors import ConfigError
from playground.cli import tools
from playground.cli.common import Parser

# command name -> module whose `register(subparsers, command)` adds it; `--help` lists them in this order
COMMANDS: dict[str, str] = {
    "run": "playground.cli.run",
    "providers": "playground.cli.run",
    "score": "playground.cli.run",
    "emulator": "playground.cli.tools",
    "compare": "playground.cli.experiments",
    "batch": "playground.cli.experiments",
    "report": "playground.cli.report",
    "runs": "playground.cli.workbench",
    "vote": "playground.cli.workbench",
    "export": "playground.cli.export",
    "import": "playground.cli.importing",
    "bench": "playground.cli.tools",
    "bench-story": "playground.cli.bench_story",
    "sync": "playground.cli.sync",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `command` given, only that command's module is imported (fast start)."""
    parser = Parser(prog="python -m playground", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in [command] if command in COMMANDS else COMMANDS:
        importlib.import_module(COMMANDS[name]).register(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Text from argv or a provider may hold lone surrogates (undecodable bytes in argv arrive as
    # such): printed as escapes, never a crash after the run was logged.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if argv[:1] in (["emulator"], ["bench"]):  # their own parsers: argparse's REMAINDER rejects leading options
        return tools.run_tool(argv[0], argv[1:])
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:  # e.g. PLAYGROUND_MAX_USD_PER_RUN=abc: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `providers | head`: the reader left; what it read was all it wanted
        return closed_stdout()


def closed_stdout() -> int:
    """The Python docs' recipe for SIGPIPE: point stdout at devnull so the interpreter's final
    flush cannot raise again, and end quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0
