"""Where Ollama keeps its models on this machine, and how much room is left there."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from core.config.schema import OllamaServerSettings

#: Where the Linux install script's systemd service (user ``ollama``) keeps models.
LINUX_SERVICE_MODELS = Path("/usr/share/ollama/.ollama/models")


def is_local_url(url: str) -> bool:
    """True when ``url`` points at this machine (so its disk is the one Ollama writes to)."""
    host = (urlsplit(url if "://" in url else f"http://{url}").hostname or "").lower()
    if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::") or host.startswith("127."):
        return True
    return host == socket.gethostname().lower()  # no DNS lookups: this runs on the event loop


def ollama_models_dir(
    settings: OllamaServerSettings | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The folder a local Ollama stores models in.

    In order: the managed server's ``models_dir`` (GateDeck sets ``OLLAMA_MODELS`` for it), the
    ``OLLAMA_MODELS`` environment variable, the Linux service's folder when that is the one that
    exists, else Ollama's default ``~/.ollama/models`` (the same on macOS and Windows).
    """
    env = os.environ if env is None else env
    if settings is not None and settings.managed and settings.models_dir:
        return Path(settings.models_dir).expanduser()
    if env.get("OLLAMA_MODELS"):
        return Path(env["OLLAMA_MODELS"]).expanduser()
    home_dir = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home()) / ".ollama" / "models"
    if sys.platform.startswith("linux") and not home_dir.exists() and LINUX_SERVICE_MODELS.exists():
        return LINUX_SERVICE_MODELS
    return home_dir


def free_bytes(path: Path) -> int:
    """Free bytes on the disk holding ``path`` (or its nearest existing parent)."""
    probe = path
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    return shutil.disk_usage(probe).free
