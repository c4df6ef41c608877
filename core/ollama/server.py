"""An ``ollama serve`` that GateDeck starts itself, with its settings in the environment.

Ollama reads its server settings from environment variables at start (``OLLAMA_FLASH_ATTENTION``,
``OLLAMA_KV_CACHE_TYPE``, ``OLLAMA_NUM_PARALLEL``, ``OLLAMA_MAX_LOADED_MODELS``,
``OLLAMA_KEEP_ALIVE``, ``OLLAMA_CONTEXT_LENGTH``, ``OLLAMA_HOST``, ``OLLAMA_MODELS``), so applying
changed settings means restarting the process. GateDeck only ever stops or restarts the process it
started itself: a server someone else runs (the desktop app, a systemd service) is left alone.

Its output goes to a log file that survives GateDeck; :meth:`OllamaServer.log_tail` reads it back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from core.config.schema import DEFAULT_OLLAMA_URL, OllamaServerSettings
from core.errors import ManagedServerError, NotOurServer, OllamaNotInstalled
from core.ollama.client import OllamaClient
from core.paths import AppPaths
from core.threads import in_thread

LOG_NAME = "ollama-serve.log"

#: The variables GateDeck sets from :class:`~core.config.schema.OllamaServerSettings` (and logs at start;
#: other OLLAMA_* variables such as OLLAMA_API_KEY are never written to the log).
SERVER_ENV_NAMES = (
    "OLLAMA_HOST",
    "OLLAMA_MODELS",
    "OLLAMA_FLASH_ATTENTION",
    "OLLAMA_KV_CACHE_TYPE",
    "OLLAMA_NUM_PARALLEL",
    "OLLAMA_MAX_LOADED_MODELS",
    "OLLAMA_KEEP_ALIVE",
    "OLLAMA_CONTEXT_LENGTH",
)


class EnsureResult(StrEnum):
    ANSWERING = "answering"  # a server (ours or not) already answers
    STARTED = "started"  # none answered; GateDeck started its own
    NOT_MANAGED = "not-managed"  # none answers and the settings say GateDeck must not start one


def _host_port(url: str) -> str:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{parts.port or 11434}"


def server_environment(
    settings: OllamaServerSettings, url: str = DEFAULT_OLLAMA_URL, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for ``ollama serve``: ``base`` (default: ours) plus the settings that are set.

    Settings left unset keep whatever the environment already says (Ollama's default otherwise).
    """
    env = dict(os.environ if base is None else base)
    values: dict[str, str | None] = {
        "OLLAMA_FLASH_ATTENTION": None
        if settings.flash_attention is None
        else str(int(settings.flash_attention)),
        "OLLAMA_KV_CACHE_TYPE": settings.kv_cache_type,
        "OLLAMA_NUM_PARALLEL": None if settings.num_parallel is None else str(settings.num_parallel),
        "OLLAMA_MAX_LOADED_MODELS": None
        if settings.max_loaded_models is None
        else str(settings.max_loaded_models),
        "OLLAMA_KEEP_ALIVE": settings.keep_alive,
        "OLLAMA_CONTEXT_LENGTH": None if settings.context_length is None else str(settings.context_length),
        "OLLAMA_HOST": settings.host or _host_port(url),
        "OLLAMA_MODELS": str(Path(settings.models_dir).expanduser()) if settings.models_dir else None,
    }
    env.update({name: value for name, value in values.items() if value is not None})
    return env


def check_url(settings: OllamaServerSettings, url: str = DEFAULT_OLLAMA_URL) -> str:
    """Where a server started with ``settings`` answers (a wildcard host is reached on loopback)."""
    if not settings.host:
        return url.rstrip("/")
    parts = urlsplit(settings.host if "://" in settings.host else f"http://{settings.host}")
    host = parts.hostname or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme or 'http'}://{host}:{parts.port or 11434}"


class OllamaServer:
    """The ``ollama serve`` child process GateDeck may run.

    Args:
        settings: the server settings (``Config.ollama_server``).
        url: the backend address GateDeck uses; the child listens there unless ``settings.host``
            says otherwise.
        log_path: where the child's output goes (default: GateDeck's log folder).
        executable: the ``ollama`` program (default: found on PATH when starting).
        start_timeout: seconds the child may take to answer.
        stop_timeout: seconds to wait after asking it to stop before killing it.
    """

    def __init__(
        self,
        settings: OllamaServerSettings,
        *,
        url: str = DEFAULT_OLLAMA_URL,
        log_path: Path | None = None,
        executable: str | None = None,
        start_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.settings = settings
        self.backend_url = url.rstrip("/")
        self.log_path = log_path or AppPaths.from_env().log_dir / LOG_NAME
        self.executable = executable
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------------ facts
    @property
    def url(self) -> str:
        return check_url(self.settings, self.backend_url)

    @property
    def owned(self) -> bool:
        """True while the process GateDeck started is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.owned and self._proc is not None else None

    def environment(self) -> dict[str, str]:
        return server_environment(self.settings, self.backend_url)

    def find_executable(self) -> str | None:
        return self.executable or shutil.which("ollama")

    async def is_answering(self) -> bool:
        async with OllamaClient(self.url, timeout=3.0, connect_timeout=2.0) as client:
            return await client.is_reachable()

    def log_tail(self, lines: int = 50) -> list[str]:
        """The last ``lines`` lines of the server's log."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 64 * 1024))
                text = handle.read().decode(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    # ------------------------------------------------------------------ control
    async def ensure_running(self) -> EnsureResult:
        """Start GateDeck's server when none answers and the settings say GateDeck manages it."""
        if self.owned or await self.is_answering():
            return EnsureResult.ANSWERING
        if not self.settings.managed:
            return EnsureResult.NOT_MANAGED
        await self.start()
        return EnsureResult.STARTED

    async def start(self) -> None:
        """Start ``ollama serve`` and wait until it answers."""
        if self.owned:
            return
        if await self.is_answering():
            raise NotOurServer(self.url)
        executable = self.find_executable()
        if executable is None:
            raise OllamaNotInstalled()
        env = self.environment()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        shown = " ".join(f"{k}={env[k]}" for k in SERVER_ENV_NAMES if k in env)
        self._log.write(
            f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} GateDeck starts `ollama serve` {shown}\n".encode()
        )
        self._log.flush()
        try:
            self._proc = await in_thread(_spawn, [executable, "serve"], env, self._log)
        except OSError as exc:
            self._close_log()
            raise ManagedServerError(f"GateDeck could not run {executable}: {exc.strerror or exc}.") from None
        await self._wait_until_answering()

    async def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                self._proc = None
                self._close_log()
                tail = "\n".join(self.log_tail(8))
                raise ManagedServerError(
                    f"`ollama serve` stopped right after starting (exit code {code}). Its last words:\n"
                    f"{tail}\nCheck the server settings (host, models folder) and the log at {self.log_path}."
                )
            if await self.is_answering():
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise ManagedServerError(
            f"`ollama serve` did not answer at {self.url} within {self.start_timeout:g} s, so GateDeck "
            f"stopped it. See its log at {self.log_path}."
        )

    async def stop(self) -> bool:
        """Stop the server GateDeck started; never any other. Returns True when one was stopped."""
        proc = self._proc
        if proc is None:
            return False
        self._proc = None
        try:
            if proc.poll() is None:
                proc.terminate()
                if not await _wait_exit(proc, self.stop_timeout):
                    proc.kill()
                    await _wait_exit(proc, 5.0)
        finally:
            self._close_log()
        return True

    async def restart(self, settings: OllamaServerSettings | None = None) -> None:
        """Apply new settings by restarting GateDeck's own server.

        Raises :class:`~core.errors.NotOurServer` when the server that answers was not started
        by GateDeck (it is left running).
        """
        if not self.owned and await self.is_answering():
            raise NotOurServer(self.url)
        await self.stop()
        if settings is not None:
            self.settings = settings
        await self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


async def _wait_exit(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while proc.poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _spawn(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start the child in its own process group, so Ctrl-C in GateDeck's terminal does not reach
    it (GateDeck stops it on purpose)."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW
        return subprocess.Popen(
            args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, creationflags=flags
        )
    return subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
