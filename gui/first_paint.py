"""Run work that can wait once a window has painted its first frame.

Asking Ollama (which loads its HTTP client) and loading the gateway engine (LiteLLM, in a
thread that shares the interpreter with the UI) would each hold the first frame back; started
from here, the window is on screen first.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

#: A window that is shown but never exposed (another workspace, some compositors) paints late
#: or not at all; the work starts after this long anyway.
FALLBACK_MS = 3000


def after_first_paint(window: QWidget, then: Callable[[], None], fallback_ms: int = FALLBACK_MS) -> None:
    """Call ``then`` once, right after ``window``'s first frame.

    At once when the window is not shown (a start in the tray), when it is hidden before it
    paints, and after ``fallback_ms`` when no paint comes.
    """
    if not window.isVisible():
        then()
        return
    _FirstPaint(window, then, fallback_ms)


class _FirstPaint(QObject):
    """Watches ``window``'s events until its first paint, then calls ``then`` and stops watching.

    A child of the window (it goes with it), holding no reference back to it.
    """

    def __init__(self, window: QWidget, then: Callable[[], None], fallback_ms: int) -> None:
        super().__init__(window)
        self._then: Callable[[], None] | None = then
        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.timeout.connect(self._fire)
        self._fallback.start(fallback_ms)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, self, self._fire)  # once this frame is painted and on screen
        elif event.type() == QEvent.Type.Hide:
            self._fire()
        return False

    def _fire(self) -> None:
        then, self._then = self._then, None
        if then is None:  # already done (a paint and a hide, or the fallback, came first)
            return
        self._fallback.stop()
        window = self.parent()
        if window is not None:
            window.removeEventFilter(self)
        then()
