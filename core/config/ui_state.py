"""The window's state between runs: which panel was in front, where the window was, splitters.

This is not configuration: nobody edits it, losing it costs nothing, and it changes with every
click. So it lives in its own small file (``state.json`` in the data folder), apart from
``config.yaml``: saving it never rewrites the config or its ``.bak``, never wakes the config's
listeners and skips the fsyncs that protect the config. A missing, unreadable or corrupt file
means the defaults, and is rewritten at the next save; it never stops GateDeck from starting.
Each value is checked on its own, so one bad entry does not cost the others.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

log = logging.getLogger(__name__)

PanelKey = Literal["gateway", "mappings", "models", "hardware", "monitor", "chat"]
PANEL_KEYS: tuple[str, ...] = get_args(PanelKey)


@dataclass(frozen=True)
class UiState:
    """What the window remembers between runs.

    Attributes:
        last_panel: the panel in front when GateDeck last saved its state.
        window_geometry: the main window's geometry as Qt saves it, base64 text ("" = none yet).
        splitters: each named splitter's positions as Qt saves them, base64 text by object name.
        tray_hint_shown: the "still running in the tray" notice was shown once already.
        setup_pending: the first-run setup is still to be offered (set when GateDeck wrote a
            new config; cleared once the person finishes or skips it).
    """

    last_panel: PanelKey = "gateway"
    window_geometry: str = ""
    splitters: Mapping[str, str] = field(default_factory=dict)
    tray_hint_shown: bool = False
    setup_pending: bool = False

    @classmethod
    def from_json(cls, data: object) -> UiState:
        """The state in ``data`` (parsed JSON); anything missing or malformed takes its default."""
        if not isinstance(data, dict):
            return cls()
        values: dict[str, Any] = {}
        panel = data.get("last_panel")
        if panel in PANEL_KEYS:
            values["last_panel"] = panel
        geometry = data.get("window_geometry")
        if _is_base64(geometry):
            values["window_geometry"] = geometry
        splitters = data.get("splitters")
        if isinstance(splitters, dict):
            values["splitters"] = {
                name: value
                for name, value in splitters.items()
                if isinstance(name, str) and _is_base64(value)
            }
        for flag in ("tray_hint_shown", "setup_pending"):
            if isinstance(data.get(flag), bool):
                values[flag] = data[flag]
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return {
            "last_panel": self.last_panel,
            "window_geometry": self.window_geometry,
            "splitters": dict(self.splitters),
            "tray_hint_shown": self.tray_hint_shown,
            "setup_pending": self.setup_pending,
        }


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


class UiStateFile:
    """The state file: the state in use, and whether it differs from what is on disk.

    Change the state with :meth:`update` as often as you like (it only remembers); write it with
    :meth:`save` once a burst of changes is over and when GateDeck quits.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state, self._written = self._read()

    @property
    def unsaved(self) -> bool:
        """True when the state differs from the file (or the file is missing or bad)."""
        return self._written is None or self.state != self._written

    def update(self, **changes: Any) -> bool:
        """Change some values (names as in :class:`UiState`); True when anything changed."""
        new = dataclasses.replace(self.state, **changes)
        if new == self.state:
            return False
        self.state = new
        return True

    def save(self) -> bool:
        """Write the state if it changed. Never raises: a state file that cannot be written is
        logged and tried again at the next save. Returns whether the file was written."""
        if not self.unsaved:
            return False
        text = json.dumps(self.state.to_json(), indent=1, sort_keys=True) + "\n"
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # No fsync: after a power cut the worst case is a lost or empty file, which loads as
            # the defaults. That is the price of a file written on every change burst.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not save the window state to %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()
            return False
        self._written = self.state
        return True

    def _read(self) -> tuple[UiState, UiState | None]:
        """The state on disk, and the same again when the file holds exactly it (else None)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return UiState(), None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("ignoring the window state in %s: %s", self.path, exc)
            return UiState(), None
        try:
            data = json.loads(text)
        except ValueError as exc:
            log.warning("ignoring the window state in %s: %s", self.path, exc)
            return UiState(), None
        state = UiState.from_json(data)
        return state, (state if data == state.to_json() else None)


def open_ui_state(path: Path, carried: Mapping[str, Any]) -> UiStateFile:
    """The state file at ``path``. When there is none yet, it starts from the values an older
    config carried (``carried``: what the config's migration moved out, see
    :func:`core.config.store.move_ui_state_out`) and is written at once."""
    state = UiStateFile(path)
    if path.exists() or not carried:
        return state
    state.state = UiState.from_json(carried)
    state.save()
    return state
