"""``gatedeck config path|show|validate``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.config.first_run import Installation, open_installation
from core.config.store import ConfigStore, config_to_yaml
from core.errors import ConfigError
from core.paths import AppPaths
from core.secrets import MASTER_KEY, open_secret_store


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    config = subparsers.add_parser("config", help="show, locate or check the configuration")
    actions = config.add_subparsers(dest="config_action", metavar="ACTION")

    path = actions.add_parser("path", help="print where the config, data and secrets live")
    path.set_defaults(func=cmd_path)

    show = actions.add_parser("show", help="print the configuration in use (secrets hidden)")
    show.add_argument("--show-secrets", action="store_true", help="also print the master key")
    show.set_defaults(func=cmd_show)

    validate = actions.add_parser("validate", help="check a config file and list every problem")
    validate.add_argument("file", nargs="?", type=Path, help="file to check (default: the config in use)")
    validate.set_defaults(func=cmd_validate)


def cmd_path(args: argparse.Namespace) -> int:
    paths = AppPaths.from_env()
    store = open_secret_store(paths)
    secrets_at = getattr(store, "path", None) or "the system keyring (service 'gatedeck')"
    print(f"config file:  {paths.config_file}")
    print(f"data folder:  {paths.data_dir}")
    print(f"logs:         {paths.log_dir}")
    print(f"secrets:      {secrets_at}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    install = open_installation(ollama_url=args.ollama_url, default_model=args.default_model)
    report_load_problems(install)
    sys.stdout.write(config_to_yaml(install.config))
    if args.show_secrets:
        print(f"# master key: {install.secrets.get(MASTER_KEY)}")
    else:
        print("# master key: hidden (stored outside this file; --show-secrets prints it)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    store = ConfigStore.from_env()
    target: Path = args.file or store.path
    if not target.exists():
        print(f"{target}: no such file", file=sys.stderr)
        return 2
    try:
        store.read(target)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{target}: OK")
    return 0


def report_load_problems(install: Installation) -> None:
    """Say on stderr why the config file is not in use, and what is used instead."""
    store, loaded = install.store, install.loaded
    if not loaded.problems:
        return
    used = {
        "backup": f"the last good config ({store.backup_path})",
        "defaults": "the defaults",
    }.get(loaded.source, loaded.source)
    print(f"warning: {store.path} is not usable; using {used} instead:", file=sys.stderr)
    for problem in loaded.problems:
        print(f"  - {problem}", file=sys.stderr)
    print("Your file was left as it is. Fix it and run `gatedeck config validate`.", file=sys.stderr)
