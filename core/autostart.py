"""Start GateDeck on login: the freedesktop autostart entry (Linux desktops)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENTRY_NAME = "gatedeck.desktop"


def autostart_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "autostart"


_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def desktop_quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec says (double quotes, four escapes)."""
    if arg and not (set(arg) & _RESERVED):
        return arg
    escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
    return f'"{escaped}"'


def launch_command() -> str:
    """How a login starts this GateDeck: straight to the tray, without opening the window."""
    if getattr(sys, "frozen", False):
        return f"{desktop_quote(sys.executable)} --hidden"
    return f"{desktop_quote(sys.executable)} -m core.cli.main --hidden"


def autostart_entry(command: str) -> str:
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=GateDeck\n"
        "Comment=Local model gateway for Claude Code and OpenAI/Anthropic clients\n"
        # The key-file layer escapes backslashes once more (spec: "\\\\" means one backslash).
        f"Exec={command.replace(chr(92), chr(92) * 2)}\n"
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
