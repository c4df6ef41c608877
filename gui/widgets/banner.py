"""A coloured message shown in place, with an optional action button."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from gui.palette import Tone, banner_colours, follow_palette, set_style

LEVELS = {"error": Tone.BAD, "warning": Tone.WARNING, "info": Tone.INFO}


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
        self.level = "error"
        self.hide()
        follow_palette(self, self._restyle)

    def show_message(self, text: str, level: str = "error", action: str = "") -> None:
        self.level = level
        self._restyle()
        self.text.setText(text)
        self.action.setText(action)
        self.action.setVisible(bool(action))
        self.show()

    def clear(self) -> None:
        self.hide()
        self.action.hide()

    def _restyle(self) -> None:
        background, foreground = (c.name() for c in banner_colours(LEVELS[self.level]))
        set_style(
            self,
            f"Banner {{ background: {background}; border: 1px solid {foreground}; border-radius: 6px; }}"
            f"#bannerText {{ color: {foreground}; }}",
        )
