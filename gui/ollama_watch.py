"""Keeps the window's idea of Ollama current: reachable or not, and which models it has."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, QTimer, Signal

from core.config.holder import ConfigHolder
from core.errors import OllamaError
from core.ollama.state import OllamaState
from gui.ops import BackgroundOps


def first_backend_state(holder: ConfigHolder) -> OllamaState:
    """The shared state of the Ollama server the config's first backend names (followed as the
    user edits it)."""
    return OllamaState(lambda: holder.config.backends[0].url)


class OllamaWatcher(QObject):
    """Polls the first Ollama backend through the shared :class:`OllamaState`.

    Each poll is one ``/api/tags`` (the version is asked when Ollama comes back); the Models and
    Hardware panels read what it found from the same state instead of asking again.

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
        ollama: OllamaState | None = None,
        interval_ms: int = 5000,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._holder = holder
        self._owns_state = ollama is None
        self.ollama = ollama or first_backend_state(holder)
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
        return self.ollama.url

    def start(self) -> None:
        self._timer.start()
        self._on_timer_timeout()

    async def stop(self) -> None:
        self._timer.stop()
        await self.ops.shutdown()
        if self._owns_state:
            await self.ollama.aclose()

    async def refresh(self) -> bool:
        """Ask Ollama now; emits ``changed``. Returns whether it answered."""
        was = self.reachable
        try:
            await self.ollama.refresh()
        except OllamaError as exc:
            self.reachable, self.message, self.installed = False, str(exc), None
        else:
            names = [m.name for m in self.ollama.installed]
            self.reachable, self.message, self.installed = True, self.ollama.version, names
        self.changed.emit(self.reachable, self.message, self.installed)
        if was and not self.reachable:
            self.went_away.emit(self.message)
        return self.reachable

    def _on_timer_timeout(self) -> None:
        if self._task is None or self._task.done():
            self._task = self.ops.run(self.refresh())
