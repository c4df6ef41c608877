"""The window's first frame comes before the heavy libraries and the panels not in front of it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from gui.first_paint import after_first_paint

#: What loads after the first frame: the gateway engine, plotting, the SDKs, the HTTP clients.
HEAVY = ("litellm", "pyqtgraph", "numpy", "openai", "anthropic", "httpx", "ollama", "aiohttp")
#: The panels not in front at a first start (the Gateway panel is).
LATER_PANELS = (
    "gui.panels.mappings",
    "gui.panels.models",
    "gui.panels.hardware",
    "gui.panels.monitor",
    "gui.panels.chat",
)

# The app as gui/app.py starts it; prints what is imported when its window first paints.
FIRST_PAINT = """
import asyncio, json, os, sys
import qasync
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv)
from core.config.first_run import open_installation
from gui.controller import AppController

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print(json.dumps(sorted(sys.modules)), flush=True)
            os._exit(0)
        return False

loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
controller = AppController(open_installation(), use_tray=False)
spy = FirstPaint()
controller.window.installEventFilter(spy)
controller.start()
with loop:
    loop.run_forever()
"""


@pytest.mark.timeout(120)
def test_the_window_paints_before_the_heavy_libraries_and_other_panels_load() -> None:
    done = subprocess.run([sys.executable, "-c", FIRST_PAINT], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert "gui.panels.gateway" in loaded, "the panel in front is part of the first frame"
    assert [m for m in HEAVY if m in loaded] == []
    assert [m for m in LATER_PANELS if m in loaded] == []


class PaintSpy(QObject):
    """Counts a widget's paints; ``swallow`` keeps them from filters installed earlier."""

    def __init__(self, swallow: bool = False) -> None:
        super().__init__()
        self.paints = 0
        self.swallow = swallow

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
            return self.swallow
        return False


def test_work_waits_for_the_first_frame_and_runs_once(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    spy = PaintSpy()
    window.installEventFilter(spy)
    paints_when_called: list[int] = []
    window.show()
    after_first_paint(window, lambda: paints_when_called.append(spy.paints))
    assert paints_when_called == []
    qtbot.waitUntil(lambda: bool(paints_when_called))
    assert paints_when_called[0] >= 1
    window.repaint()
    window.hide()
    assert len(paints_when_called) == 1


def test_work_runs_at_once_for_a_window_not_shown_or_hidden_before_it_paints(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    calls: list[str] = []
    after_first_paint(window, lambda: calls.append("not shown"))
    assert calls == ["not shown"]
    window.show()
    after_first_paint(window, lambda: calls.append("hidden"))
    window.hide()
    assert calls == ["not shown", "hidden"]


def test_work_starts_anyway_when_the_window_never_paints(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    calls: list[str] = []
    window.show()
    after_first_paint(window, lambda: calls.append("fallback"), fallback_ms=50)
    swallow = PaintSpy(swallow=True)  # installed last, so it sees paints first
    window.installEventFilter(swallow)
    qtbot.waitUntil(lambda: bool(calls), timeout=5000)
    assert calls == ["fallback"]
