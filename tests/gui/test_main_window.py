"""The main window as a user first meets it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from gui.main_window import PANELS, MainWindow, PlaceholderPanel
from gui.palette import Tone, css


def test_window_navigates_between_every_panel(qtbot: QtBot) -> None:
    given = QLabel("mappings here")
    window = MainWindow({"mappings": given})
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "GateDeck"
    assert not window.windowIcon().isNull()

    seen: list[str] = []
    window.panel_changed.connect(seen.append)
    for key, _title in PANELS:
        window.show_panel(key)
        assert window.current_panel == key
        assert window.findChild(QWidget, f"{key}Panel") is window.panel(key)
    assert window.panel("mappings") is given
    assert isinstance(window.panel("chat"), PlaceholderPanel)
    assert seen[-1] == "chat"


def test_closing_the_window_asks_the_app_instead_of_quitting(qtbot: QtBot) -> None:
    window = MainWindow({})
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.close_requested, timeout=2000):
        window.close()
    assert window.isVisible(), "the app decides whether to hide to tray or quit"
    window.allow_close = True
    window.close()
    assert not window.isVisible()


def test_status_bar_shows_gateway_and_ollama_state(qtbot: QtBot) -> None:
    window = MainWindow({})
    qtbot.addWidget(window)
    window.set_gateway_status("running", "Gateway on http://127.0.0.1:4000")
    window.set_ollama_status(False, "Ollama not answering")
    assert "http://127.0.0.1:4000" in window.gateway_status.text()
    assert css(Tone.GOOD) in window.gateway_status.text()
    assert css(Tone.BAD) in window.ollama_status.text()


def test_a_panel_given_as_a_builder_is_built_when_first_shown(qtbot: QtBot) -> None:
    built: list[str] = []

    def build_models() -> QWidget:
        built.append("models")
        return QLabel("models here")

    window = MainWindow({"models": build_models})
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert built == [] and not window.is_built("models")

    window.show_panel("models")
    assert built == ["models"] and window.is_built("models")
    assert window.current_panel == "models"
    panel = window.panel("models")
    assert isinstance(panel, QLabel) and panel.isVisible()
    assert window.findChild(QWidget, "modelsPanel") is panel

    window.show_panel("gateway")
    window.show_panel("models")
    assert built == ["models"]


def test_build_panels_builds_the_rest_and_keeps_the_one_in_front(qtbot: QtBot) -> None:
    window = MainWindow({"mappings": lambda: QLabel("mappings"), "chat": lambda: QLabel("chat")})
    qtbot.addWidget(window)
    window.show()
    window.show_panel("chat")
    window.build_panels()
    assert window.is_built("mappings")
    assert window.current_panel == "chat" and window.panel("chat").isVisible()
    assert not window.panel("mappings").isVisible()
    for key, _title in PANELS:
        assert window.findChild(QWidget, f"{key}Panel") is window.panel(key)
    window.show_panel("mappings")
    assert isinstance(window.panel("mappings"), QLabel) and window.panel("mappings").isVisible()


def splitter_panel() -> QWidget:
    panel = QWidget()
    splitter = QSplitter(Qt.Orientation.Vertical, panel)
    splitter.setObjectName("demoSplitter")
    splitter.addWidget(QLabel("graphs"))
    splitter.addWidget(QLabel("table"))
    QVBoxLayout(panel).addWidget(splitter)
    return panel


def demo_splitter(window: MainWindow) -> QSplitter:
    found = window.panel("monitor").findChild(QSplitter, "demoSplitter")
    assert isinstance(found, QSplitter)
    return found


def test_size_and_splitter_positions_come_back_in_the_next_window(qtbot: QtBot) -> None:
    first = MainWindow({"monitor": splitter_panel})
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(700, 500)
    first.show_panel("monitor")
    qtbot.waitUntil(lambda: sum(demo_splitter(first).sizes()) > 0)
    total = sum(demo_splitter(first).sizes())
    demo_splitter(first).setSizes([total // 4, total - total // 4])
    moved = demo_splitter(first).sizes()
    geometry, splitters = first.saved_layout()
    assert set(splitters) == {"demoSplitter"} and geometry

    second = MainWindow({"monitor": splitter_panel})
    qtbot.addWidget(second)
    second.restore_layout(geometry, splitters)
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (700, 500)
    assert not second.is_built("monitor"), "restoring does not build panels"
    second.show_panel("monitor")
    qtbot.waitUntil(lambda: demo_splitter(second).sizes() == moved)
    # A panel not built yet keeps what it had when the layout is saved again.
    third = MainWindow({"monitor": splitter_panel})
    qtbot.addWidget(third)
    third.restore_layout(geometry, splitters)
    assert third.saved_layout()[1] == splitters


def test_a_damaged_saved_layout_is_ignored(qtbot: QtBot) -> None:
    window = MainWindow({"monitor": splitter_panel})
    qtbot.addWidget(window)
    window.restore_layout("AAAA", {"demoSplitter": "AAAA"})
    window.show()
    qtbot.waitExposed(window)
    window.show_panel("monitor")
    assert window.current_panel == "monitor" and len(demo_splitter(window).sizes()) == 2
