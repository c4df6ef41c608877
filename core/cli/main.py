"""``gatedeck`` command line.

``gatedeck`` alone opens the desktop app; every subcommand runs without importing Qt, so the
same install serves headless machines. Subcommands live in ``core/cli_*.py`` modules, each with
``register(subparsers)``; they are listed in :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.errors import GateDeckError
from core.version import __version__

#: Modules that add subcommands (each has ``register(subparsers)``).
COMMAND_MODULES: tuple[str, ...] = (
    "core.cli.config",
    "core.cli.models",
    "core.cli.gateway",
    "core.cli.stats",
    "core.cli.metrics",
    "core.cli.setup",
    "core.cli.codex_config",
)

PANELS = ("gateway", "mappings", "models", "hardware", "monitor", "chat")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gatedeck",
        description="Run Claude Code and other OpenAI/Anthropic clients on local Ollama models.",
    )
    parser.add_argument("--version", action="version", version=f"GateDeck {__version__}")
    parser.add_argument(
        "--ollama-url",
        metavar="URL",
        help="Ollama's address for a brand-new config (default: $OLLAMA_HOST or http://127.0.0.1:11434)",
    )
    parser.add_argument(
        "--default-model", metavar="NAME", help="Ollama model for a brand-new config's mappings"
    )
    parser.add_argument("--panel", choices=PANELS, help="open the window on this panel")
    parser.add_argument(
        "--hidden", action="store_true", help="start in the tray without opening the window (used on login)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ours, passed_on = _split_passthrough(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(ours)
    if passed_on:
        args.passthrough = passed_on
    func = getattr(args, "func", None)
    if func is None and args.command:  # a command group given without its action (`gatedeck config`)
        parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "--help"])
    try:
        code: int = _run_gui(args) if func is None else func(args)
    except GateDeckError as exc:  # said plainly, without a traceback: each one says how to fix it
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return code


#: Commands whose arguments all belong to the program they start (``gatedeck claude -p "hi"``,
#: ``gatedeck codex exec "fix the tests"``).
PASSTHROUGH_COMMANDS = frozenset({"claude", "codex"})
_GLOBAL_VALUE_OPTIONS = frozenset({"--ollama-url", "--default-model", "--panel"})


def _split_passthrough(argv: list[str]) -> tuple[list[str], list[str]]:
    """``argv`` up to a pass-through command, and what follows it, in order and untouched."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in _GLOBAL_VALUE_OPTIONS:
            i += 2
        elif token.startswith("-"):
            i += 1
        else:
            return (argv[: i + 1], argv[i + 1 :]) if token in PASSTHROUGH_COMMANDS else (argv, [])
    return argv, []


def _run_gui(args: argparse.Namespace) -> int:
    # The only place core reaches the GUI, by name at run time, so core keeps no import of it.
    gui_app = importlib.import_module("gui.app")
    code: int = gui_app.run(
        ollama_url=args.ollama_url, default_model=args.default_model, panel=args.panel, hidden=args.hidden
    )
    return code


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
