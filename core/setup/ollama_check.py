"""Is Ollama there? Running, installed but stopped, or missing — and how to install it."""

from __future__ import annotations

import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from core.errors import OllamaError
from core.ollama.client import OllamaClient
from core.ollama.storage import is_local_url


class OllamaFound(StrEnum):
    RUNNING = "running"
    #: installed on this machine, not answering: GateDeck can start it (managed)
    STOPPED = "stopped"
    #: not installed here and nothing answers
    MISSING = "missing"
    #: another machine's address that does not answer (nothing to start here)
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class OllamaCheck:
    """What :func:`check_ollama` found.

    Attributes:
        found: running, stopped, missing or unreachable.
        url: the address checked.
        version: Ollama's version when it answered.
        binary: the ``ollama`` program on this machine, if any.
        install_hint: how to install Ollama here (shown when it is missing).
    """

    found: OllamaFound
    url: str
    version: str | None
    binary: str | None
    install_hint: str


def install_hint(system: str | None = None) -> str:
    """How to install Ollama on ``system`` (``platform.system()``'s names; default: this one)."""
    system = platform.system() if system is None else system
    if system == "Darwin":
        return (
            "Install Ollama for macOS: download the app from https://ollama.com/download "
            "(or run `brew install ollama`), open it once, then check again."
        )
    if system == "Windows":
        return (
            "Install Ollama for Windows: run the installer from https://ollama.com/download, "
            "then check again."
        )
    return (
        "Install Ollama for Linux with its install script: "
        "`curl -fsSL https://ollama.com/install.sh | sh` (or see https://ollama.com/download), "
        "then check again."
    )


async def check_ollama(url: str, *, which: Callable[[str], str | None] = shutil.which) -> OllamaCheck:
    """Ask ``url`` for Ollama's version; when nothing answers, look for the program here."""
    url = url.rstrip("/")
    binary = which("ollama")
    hint = install_hint()
    try:
        async with OllamaClient(url, timeout=5.0, connect_timeout=3.0) as client:
            version = await client.version()
    except OllamaError:
        if not is_local_url(url):
            return OllamaCheck(OllamaFound.UNREACHABLE, url, None, binary, hint)
        found = OllamaFound.STOPPED if binary else OllamaFound.MISSING
        return OllamaCheck(found, url, None, binary, hint)
    return OllamaCheck(OllamaFound.RUNNING, url, version, binary, hint)
