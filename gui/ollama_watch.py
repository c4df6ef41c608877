"""Keeps the window's idea of Ollama current: reachable or not, and which models it has."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, QTimer, Signal

from core.config.holder import ConfigHolder
from core.errors import OllamaError
from core.ollama.state import OllamaState, StateChange
from gui.ops import BackgroundOps


def first_backend_state(holder: ConfigHolder) -> OllamaState:
    """The shared state of the Ollama server the config's first backend names (followed as the
    user edits it)."""
    return OllamaState(lambda: holder.config.backends[0].url)


class OllamaWatcher(QObject):
    """Polls the first Ollama backend through the shared :class:`OllamaState`.

    Each poll is one ``/api/tags`` (the version is asked when Ollama comes back); the Models and
    Hardware panels read what it found from the same state instead of asking again. When one of
    them finds news first (a Refresh, a pull or a delete that changed the model list), the state
    tells the watcher, which tells the window at once instead of at the next poll.

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
        self._polling = False
        self._unsubscribe = self.ollama.subscribe(self._on_state_changed)
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
        self._unsubscribe()
        await self.ops.shutdown()
        if self._owns_state:
            await self.ollama.aclose()

    async def refresh(self) -> bool:
        """Ask Ollama now; emits ``changed``. Returns whether it answered."""
        self._polling = True
        try:
            await self.ollama.refresh()
        except OllamaError:
            pass  # the state keeps the message
        finally:
            self._polling = False
        return self._tell()

    def _tell(self) -> bool:
        was, state = self.reachable, self.ollama
        if state.reachable:
            self.reachable, self.message = True, state.version
            self.installed = [m.name for m in state.installed]
        else:
            self.reachable, self.message, self.installed = False, state.problem, None
        self.changed.emit(self.reachable, self.message, self.installed)
        if was and not self.reachable:
            self.went_away.emit(self.message)
        return self.reachable

    def _on_state_changed(self, change: StateChange) -> None:
        """Someone else's ask found news: pass it on now (a poll reports its own)."""
        if not self._polling and self.ollama.reachable is not None and (change.installed or change.reachable):
            self._tell()

    def _on_timer_timeout(self) -> None:
        if self._task is None or self._task.done():
            self._task = self.ops.run(self.refresh())
