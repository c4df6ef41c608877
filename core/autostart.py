"""Start GateDeck on login: the freedesktop autostart entry (Linux desktops)."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ENTRY_NAME = "gatedeck.desktop"


def autostart_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "autostart"


def launch_command() -> str:
    """How to start this GateDeck: the bundle's executable, or this Python running the CLI."""
    if getattr(sys, "frozen", False):
        return shlex.quote(sys.executable)
    return f"{shlex.quote(sys.executable)} -m core.cli"


def autostart_entry(command: str) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=GateDeck\n"
        "Comment=Local model gateway for Claude Code and OpenAI/Anthropic clients\n"
        f"Exec={command}\n"
        "Icon=gatedeck\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def set_start_on_login(enabled: bool, env: dict[str, str] | None = None, command: str | None = None) -> Path:
    """Create or remove the autostart entry. Returns its path."""
    path = autostart_dir(env) / ENTRY_NAME
    if enabled:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(autostart_entry(command or launch_command()), encoding="utf-8")
    elif path.exists():
        path.unlink()
    return path


def starts_on_login(env: dict[str, str] | None = None) -> bool:
    return (autostart_dir(env) / ENTRY_NAME).exists()
