"""The main window as a user first meets it."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from gui.main_window import PANELS, MainWindow, PlaceholderPanel


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
    assert "#2f9e55" in window.gateway_status.text()
    assert "#d23f3f" in window.ollama_status.text()


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
