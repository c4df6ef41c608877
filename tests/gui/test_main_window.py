"""The main window as a user first meets it."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from core.first_run import Installation
from gui.main_window import PANELS, MainWindow


def test_window_opens_on_the_remembered_panel_and_navigates(qtbot: QtBot, install: Installation) -> None:
    window = MainWindow(install)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "GateDeck"
    assert window.current_panel == install.config.ui.last_panel

    for key, _title in PANELS:
        window.show_panel(key)
        assert window.current_panel == key
        assert window.findChild(type(window.centralWidget()), f"{key}Panel") is not None


def test_status_bar_says_when_the_config_file_is_broken(qtbot: QtBot, install: Installation) -> None:
    install.store.path.write_text("gateway:\n  port: nope\n")
    from core.first_run import open_installation

    broken = open_installation()
    window = MainWindow(broken)
    qtbot.addWidget(window)
    assert "1 problem(s)" in window.statusBar().currentMessage()
    assert "defaults" in window.statusBar().currentMessage()
