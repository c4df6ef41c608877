"""Keeps the window's idea of Ollama current: reachable or not, and which models it has."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from core.config.holder import ConfigHolder
from core.errors import OllamaError
from core.ollama.client import OllamaClient
from gui.ops import BackgroundOps

ClientFactory = Callable[[str], OllamaClient]


class OllamaWatcher(QObject):
    """Polls the first Ollama backend.

    Signals:
        changed(bool, str, object): reachable?, the version or the error message (which says how
            to fix it), and the installed model names (a list; ``None`` while unreachable).
        went_away(str): Ollama stopped answering after it had answered; carries the message.
    """

    changed = Signal(bool, str, object)
    went_away = Signal(str)

    def __init__(
        self,
        holder: ConfigHolder,
        client_factory: ClientFactory = OllamaClient,
        interval_ms: int = 5000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._holder = holder
        self._factory = client_factory
        self._client: OllamaClient | None = None
        self.ops = BackgroundOps(owner="Ollama watcher")  # a failed ask is logged; the banner says why
        self._task: asyncio.Task[bool] | None = None
        self.reachable: bool | None = None
        self.message = ""
        self.installed: list[str] | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    @property
    def url(self) -> str:
        return self._holder.config.backends[0].url

    def start(self) -> None:
        self._timer.start()
        self._on_timer_timeout()

    async def stop(self) -> None:
        self._timer.stop()
        await self.ops.shutdown()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def refresh(self) -> bool:
        """Ask Ollama now; emits ``changed``. Returns whether it answered."""
        if self._client is None or self._client.url != self.url.rstrip("/"):
            if self._client is not None:
                await self._client.aclose()
            self._client = self._factory(self.url)
        was = self.reachable
        try:
            version = await self._client.version()
            installed = [m.name for m in await self._client.list_models()]
        except OllamaError as exc:
            self.reachable, self.message, self.installed = False, str(exc), None
        else:
            self.reachable, self.message, self.installed = True, version, installed
        self.changed.emit(self.reachable, self.message, self.installed)
        if was and not self.reachable:
            self.went_away.emit(self.message)
        return self.reachable

    def _on_timer_timeout(self) -> None:
        if self._task is None or self._task.done():
            self._task = self.ops.run(self.refresh())
