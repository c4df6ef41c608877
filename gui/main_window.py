"""GateDeck's main window: navigation on the left, one panel at a time on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.first_run import Installation

PANELS: tuple[tuple[str, str], ...] = (
    ("gateway", "Gateway"),
    ("mappings", "Mappings"),
    ("models", "Models"),
    ("hardware", "Hardware"),
    ("monitor", "Monitor"),
    ("chat", "Test chat"),
)


class PlaceholderPanel(QWidget):
    """An honest stand-in for a panel that is not built yet."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        heading = QLabel(f"<h2>{title}</h2>")
        note = QLabel("This panel is coming in a later version of GateDeck.")
        note.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addStretch(1)


class MainWindow(QMainWindow):
    """Navigation list + stacked panels + status bar."""

    def __init__(self, install: Installation, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("GateDeck")
        self.resize(1100, 720)
        self._install = install

        self._nav = QListWidget()
        self._nav.setObjectName("navigation")
        self._nav.setFixedWidth(180)
        self._stack = QStackedWidget()
        self._stack.setObjectName("panels")
        self._keys: list[str] = []
        for key, title in PANELS:
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self._nav.addItem(item)
            panel = PlaceholderPanel(title)
            panel.setObjectName(f"{key}Panel")
            self._stack.addWidget(panel)
            self._keys.append(key)
        self._nav.currentRowChanged.connect(self._stack.setCurrentIndex)

        central = QWidget()
        row = QHBoxLayout(central)
        row.addWidget(self._nav)
        row.addWidget(self._stack, 1)
        self.setCentralWidget(central)
        self.show_panel(install.config.ui.last_panel)

        loaded = install.loaded
        if loaded.problems:
            self.statusBar().showMessage(
                f"{install.store.path} has {len(loaded.problems)} problem(s); using the {loaded.source} config"
            )
        else:
            self.statusBar().showMessage(f"Config: {install.store.path}")

    def show_panel(self, key: str) -> None:
        """Bring the panel named ``key`` (gateway, mappings, …) to the front."""
        self._nav.setCurrentRow(self._keys.index(key))

    @property
    def current_panel(self) -> str:
        return self._keys[self._stack.currentIndex()]
