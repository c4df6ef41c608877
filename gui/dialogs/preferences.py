"""Preferences: start on login, start the gateway on launch, appearance (system, light, dark)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.autostart import set_start_on_login
from core.config.holder import ConfigHolder
from gui.ops import BackgroundOps, async_slot
from gui.palette import Tone, dark_palette, tint

THEMES = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))


def apply_theme(theme: str) -> None:
    """Switch light/dark now; ``system`` hands the choice back to the desktop.

    The colour-scheme hint alone is ignored by some platforms, so light and dark also set the
    palette of Qt's Fusion style, which looks the same everywhere.
    """
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    hints = QGuiApplication.styleHints()
    if theme == "system":
        hints.setColorScheme(Qt.ColorScheme.Unknown)
        app.setPalette(QPalette())  # none of GateDeck's: the desktop's, and its later switches
        return
    hints.setColorScheme(Qt.ColorScheme.Dark if theme == "dark" else Qt.ColorScheme.Light)
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())


class PreferencesDialog(QDialog):
    """Edits ``config.ui`` and ``config.gateway.start_on_launch``; OK saves through the holder."""

    def __init__(self, holder: ConfigHolder, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ops = BackgroundOps(self._show_error, owner="preferences")
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("GateDeck preferences")
        self._holder = holder
        config = holder.config

        self.start_on_login = QCheckBox("Start GateDeck when I log in")
        self.start_on_login.setObjectName("startOnLogin")
        self.start_on_login.setChecked(config.ui.start_on_login)
        self.start_gateway = QCheckBox("Start the gateway when GateDeck starts")
        self.start_gateway.setObjectName("startGatewayOnLaunch")
        self.start_gateway.setChecked(config.gateway.start_on_launch)
        self.theme = QComboBox()
        self.theme.setObjectName("theme")
        for key, title in THEMES:
            self.theme.addItem(title, key)
        self.theme.setCurrentIndex([k for k, _ in THEMES].index(config.ui.theme))
        self.error = QLabel()
        tint(self.error, Tone.BAD)
        self.error.setWordWrap(True)
        self.error.hide()

        form = QFormLayout()
        form.addRow(self.start_on_login)
        form.addRow(self.start_gateway)
        form.addRow("Appearance", self.theme)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    @async_slot()
    async def _on_buttons_accepted(self) -> None:
        await self.save()

    async def save(self) -> None:
        """Write the choices (and the autostart entry), then close; errors stay shown in place.

        The config is written on a worker thread: the window never waits on the disk."""
        config = self._holder.config
        theme = str(self.theme.currentData())
        new = config.model_copy(
            update={
                "ui": config.ui.model_copy(
                    update={"start_on_login": self.start_on_login.isChecked(), "theme": theme}
                ),
                "gateway": config.gateway.model_copy(
                    update={"start_on_launch": self.start_gateway.isChecked()}
                ),
            }
        )
        try:
            set_start_on_login(self.start_on_login.isChecked())
            await self._holder.replace_async(new)
        except OSError as exc:
            self.error.setText(f"Could not save: {exc}")
            self.error.show()
            return
        apply_theme(theme)
        self.accept()
