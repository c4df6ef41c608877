"""A coloured message shown in place, with an optional action button."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

COLOURS = {"error": ("#fde7e9", "#b00020"), "warning": ("#fff3cd", "#7a5200"), "info": ("#e7f0fd", "#1b4aa0")}


class Banner(QFrame):
    """A coloured message in place, with an optional action button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setObjectName("bannerText")
        self.action = QPushButton()
        self.action.setObjectName("bannerAction")
        self.action.hide()
        row = QHBoxLayout(self)
        row.addWidget(self.text, 1)
        row.addWidget(self.action)
        self.hide()

    def show_message(self, text: str, level: str = "error", action: str = "") -> None:
        background, foreground = COLOURS[level]
        self.setStyleSheet(
            f"Banner {{ background: {background}; border: 1px solid {foreground}; border-radius: 6px; }}"
            f"#bannerText {{ color: {foreground}; }}"
        )
        self.text.setText(text)
        self.action.setText(action)
        self.action.setVisible(bool(action))
        self.show()

    def clear(self) -> None:
        self.hide()
        self.action.hide()
