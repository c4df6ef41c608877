"""``gatedeck codex-config [--write]``: the lines that point the Codex CLI at GateDeck, or those
lines merged into Codex's own ``config.toml`` (every other line kept, the old file backed up).

``gatedeck setup --codex`` writes them the same way, after setting up a model.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from core.cli.config import report_load_problems
from core.cli.restore import restore_and_report
from core.clients.backups import original_note
from core.clients.codex import KEY_VARIABLE, codex_config, codex_model
from core.clients.codex_config_file import default_codex_config_path, restore_codex_config, write_codex_config
from core.config.first_run import open_installation
from core.config.schema import Config
from core.errors import CodexConfigError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    command = subparsers.add_parser(
        "codex-config", help="print the lines that point the Codex CLI at GateDeck (--write: merge them)"
    )
    action = command.add_mutually_exclusive_group()
    action.add_argument(
        "--write",
        action="store_true",
        help="merge them into Codex's config.toml ($CODEX_HOME, else ~/.codex; other lines kept, "
        "old file backed up)",
    )
    action.add_argument(
        "--restore",
        action="store_true",
        help="put back Codex's config.toml as it was before GateDeck first wrote it",
    )
    command.set_defaults(func=cmd_codex_config)


def cmd_codex_config(args: argparse.Namespace) -> int:
    from core.cli.gateway import current_gateway_url

    if args.restore:
        return restore_and_report(restore_codex_config)
    install = open_installation(ollama_url=args.ollama_url, default_model=args.default_model)
    report_load_problems(install)
    url, _running = current_gateway_url(install)
    if args.write:
        return 0 if write_and_report(install.config, url, sys.stdout) else 1
    print(f"# Add to {default_codex_config_path()}, and set {KEY_VARIABLE} to the gateway key.")
    print(codex_config(url, codex_model(install.config)), end="")
    return 0


def write_and_report(config: Config, url: str, out: TextIO) -> bool:
    """Merge GateDeck's provider into Codex's ``config.toml`` and say what happened (on failure,
    why, and the lines to add by hand). Returns whether the file points Codex at GateDeck."""
    model = codex_model(config)
    try:
        written = write_codex_config(url, model=model)
    except (CodexConfigError, OSError) as exc:
        out.write(f"  Not written: {exc}\n  These are the lines GateDeck would add:\n\n")
        out.write("".join(f"    {line}\n" for line in codex_config(url, model).splitlines()))
        return False
    if written.changed:
        backup = f" (the previous file is at {written.backup})" if written.backup else ""
        out.write(f"  Wrote GateDeck's provider to {written.path}{backup}.\n")
        if written.original:
            out.write(f"  {original_note(written.original)}\n")
    else:
        out.write(f"  {written.path} already uses GateDeck; nothing changed.\n")
    if written.note:
        out.write(f"  Note: {written.note}\n")
    out.write(
        f"  Codex reads the gateway key from {KEY_VARIABLE}: set it to the key "
        "(`gatedeck config show --show-secrets`), or start Codex with `gatedeck codex`, "
        "which sets it for one run.\n"
    )
    return True
