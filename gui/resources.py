"""Finding GateDeck's icons: the package ``gui.assets`` (the repository's resources/ folder),
read through importlib.resources, so a wheel, an editable install and the bundle find them alike."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from PySide6.QtGui import QIcon

ASSETS = "gui.assets"


def icon_path(name: str) -> Path:
    """``icon_path("gatedeck")`` → the installed resources/icons/gatedeck.svg."""
    resource = files(ASSETS) / "icons" / f"{name}.svg"
    # Qt reads an SVG icon lazily, from a file: the icons must be files on disk (they are in every
    # install GateDeck supports), not members of a zip.
    if not isinstance(resource, Path) or not resource.is_file():
        raise FileNotFoundError(f"no icon {name!r} in {ASSETS} ({resource})")
    return resource


@cache
def icon(name: str) -> QIcon:
    """``icon("tray-running")`` → resources/icons/tray-running.svg as a QIcon."""
    return QIcon(str(icon_path(name)))
