"""Where GateDeck keeps its files.

``GATEDECK_CONFIG_DIR`` moves everything (config, data, logs) under one folder: tests use it to
stay out of the user's real settings, and portable installs use it to keep GateDeck on a stick.
``GATEDECK_DATA_DIR`` moves only the data (master key file, request log, pull state, window state).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "gatedeck"
CONFIG_FILE = "config.yaml"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class AppPaths:
    """The folders GateDeck reads and writes."""

    config_dir: Path
    data_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILE

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def master_key_file(self) -> Path:
        return self.data_dir / "master.key"

    @property
    def state_file(self) -> Path:
        """The window's state (last panel, geometry, splitters): not settings, kept apart from them."""
        return self.data_dir / STATE_FILE

    @classmethod
    def from_env(cls, env: os._Environ[str] | dict[str, str] | None = None) -> AppPaths:
        env = os.environ if env is None else env
        override = env.get("GATEDECK_CONFIG_DIR")
        if override:
            config_dir = Path(override).expanduser()
            data_default = config_dir / "data"
        else:
            config_dir = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
            data_default = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        data = env.get("GATEDECK_DATA_DIR")
        return cls(config_dir=config_dir, data_dir=Path(data).expanduser() if data else data_default)

    def ensure(self) -> None:
        """Create the folders, readable by this user only."""
        for folder in (self.config_dir, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def home_path(path: Path) -> str:
    """``path`` as people write it: ``~/.claude/settings.json`` for a file in the home folder."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)
