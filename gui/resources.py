"""Finding GateDeck's icons and other files, from a checkout or from the installed bundle."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)  # set inside the PyInstaller bundle
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


@cache
def icon(name: str) -> QIcon:
    """``icon("tray-running")`` → resources/icons/tray-running.svg as a QIcon."""
    path = resources_dir() / "icons" / f"{name}.svg"
    if not path.exists():
        raise FileNotFoundError(path)
    return QIcon(str(path))
