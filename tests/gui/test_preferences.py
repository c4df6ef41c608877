"""Preferences, as a user would set them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QDialogButtonBox
from pytestqt.qtbot import QtBot

from core.config.first_run import Installation
from core.config.holder import ConfigHolder
from gui.dialogs.preferences import PreferencesDialog
from tests.gui.conftest import Run


def test_start_on_login_writes_the_autostart_entry_and_saves(
    qtbot: QtBot, install: Installation, arun: Run
) -> None:
    holder = ConfigHolder(install.store, install.config)
    dialog = PreferencesDialog(holder)
    qtbot.addWidget(dialog)
    dialog.start_on_login.setChecked(True)
    dialog.start_gateway.setChecked(False)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    arun(dialog.save())

    entry = Path.home() / ".config" / "autostart" / "gatedeck.desktop"
    assert "Exec=" in entry.read_text()
    saved = install.store.load().config
    assert saved.ui.start_on_login and saved.ui.theme == "dark"
    assert saved.gateway.start_on_launch is False
    assert QApplication.palette().window().color().lightness() < 100, "dark theme applied now"

    again = PreferencesDialog(holder)
    qtbot.addWidget(again)
    again.start_on_login.setChecked(False)
    again.theme.setCurrentIndex(again.theme.findData("system"))
    again.show()
    buttons = again.findChild(QDialogButtonBox)
    assert buttons is not None
    buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not again.isVisible() and holder.config.ui.theme == "system", timeout=5000)
    assert not entry.exists()
    assert install.store.load().config.ui.theme == "system"
    assert QApplication.palette().window().color().lightness() > 150, "back to the system's light palette"


def test_autostart_entry_quotes_paths_as_desktop_entries_require(tmp_path: Path) -> None:
    from core.autostart import autostart_entry, desktop_quote

    assert desktop_quote("/opt/gatedeck/gatedeck") == "/opt/gatedeck/gatedeck"
    assert desktop_quote("/home/a b/gatedeck") == '"/home/a b/gatedeck"'
    assert desktop_quote('/x/$y"z') == '"/x/\\$y\\"z"'
    entry = autostart_entry(desktop_quote("/x/$y") + " --hidden")
    assert 'Exec="/x/\\\\$y" --hidden' in entry
