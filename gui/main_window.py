"""GateDeck's main window: navigation on the left, one panel at a time, status at the bottom."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.palette import Tone, css, follow_palette
from gui.resources import icon
from gui.widgets.banner import Banner

PANELS: tuple[tuple[str, str], ...] = (
    ("gateway", "Gateway"),
    ("mappings", "Mappings"),
    ("models", "Models"),
    ("hardware", "Hardware"),
    ("monitor", "Monitor"),
    ("chat", "Test chat"),
)

#: A panel, or what builds it the first time it is needed.
PanelSource = QWidget | Callable[[], QWidget]


class PlaceholderPanel(QWidget):
    """An honest stand-in for a panel that is not built yet."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        heading = QLabel(f"<h2>{title}</h2>")
        note = QLabel("This panel is not in this version of GateDeck yet.")
        note.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(note)
        layout.addStretch(1)


class MainWindow(QMainWindow):
    """Navigation list + stacked panels + a status bar with gateway and Ollama state.

    A panel given as a builder is built the first time it is shown or asked for
    (:meth:`panel`), or by :meth:`build_panels`; until then an empty page stands in for it.

    The window's geometry and the positions of the panels' named splitters are saved with
    :meth:`saved_layout` and put back with :meth:`restore_layout` (a panel built later gets its
    splitters back when it is built).

    Signals:
        close_requested(): the user closed the window (the app decides: hide to tray or quit).
        panel_changed(str): the panel in front changed; carries its key.
    """

    close_requested = Signal()
    panel_changed = Signal(str)

    def __init__(self, panels: Mapping[str, PanelSource], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("GateDeck")
        self.setWindowIcon(icon("gatedeck"))
        self.resize(1100, 720)
        self.allow_close = False

        self._nav = QListWidget()
        self._nav.setObjectName("navigation")
        self._nav.setFixedWidth(170)
        self._nav.setStyleSheet("QListWidget { font-size: 11pt; } QListWidget::item { padding: 7px 10px; }")
        self._stack = QStackedWidget()
        self._stack.setObjectName("panels")
        self._keys: list[str] = []
        # panels given as builders, not built yet, each with the empty page standing in for it
        self._pending: dict[str, tuple[Callable[[], QWidget], QWidget]] = {}
        # splitter positions to put back, by splitter name (base64 of QSplitter.saveState)
        self._splitter_states: dict[str, str] = {}
        for key, title in PANELS:
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self._nav.addItem(item)
            source = panels.get(key) or PlaceholderPanel(title)
            if isinstance(source, QWidget):
                source.setObjectName(f"{key}Panel")
                self._stack.addWidget(source)
            else:
                stand_in = QWidget()
                self._pending[key] = (source, stand_in)
                self._stack.addWidget(stand_in)
            self._keys.append(key)
        self._nav.currentRowChanged.connect(self._on_nav_current_row_changed)

        self.banner = Banner()
        self.banner.setObjectName("windowBanner")
        right = QVBoxLayout()
        right.addWidget(self.banner)
        right.addWidget(self._stack, 1)
        central = QWidget()
        row = QHBoxLayout(central)
        row.addWidget(self._nav)
        row.addLayout(right, 1)
        self.setCentralWidget(central)

        self.gateway_status = QLabel()
        self.gateway_status.setObjectName("gatewayStatus")
        self.ollama_status = QLabel()
        self.ollama_status.setObjectName("ollamaStatus")
        self.statusBar().addPermanentWidget(self.ollama_status)
        self.statusBar().addPermanentWidget(self.gateway_status)
        self._status: dict[str, tuple[Tone, str]] = {}
        self.set_gateway_status("stopped", "Gateway stopped")
        self.set_ollama_status(None, "Ollama: checking…")
        follow_palette(self, self._show_status)

    def show_panel(self, key: str) -> None:
        """Bring the panel named ``key`` (gateway, mappings, …) to the front."""
        self._build(key)
        self._nav.setCurrentRow(self._keys.index(key))

    def panel(self, key: str) -> QWidget:
        """The panel named ``key``, built now if it has not been yet."""
        self._build(key)
        widget = self._stack.widget(self._keys.index(key))
        assert widget is not None  # _build added it
        return widget

    def is_built(self, key: str) -> bool:
        return key not in self._pending

    def build_panels(self) -> None:
        """Build every panel not built yet."""
        for key in list(self._pending):
            self._build(key)

    def restore_layout(self, geometry: str, splitters: Mapping[str, str]) -> None:
        """Put back a :meth:`saved_layout`: the window's geometry, and the named splitters'
        positions (now for built panels, when built for the others). Bad data is ignored."""
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
        self._splitter_states = dict(splitters)
        for key in self._keys:
            if self.is_built(key):
                self._restore_splitters(self.panel(key))

    def saved_layout(self) -> tuple[str, dict[str, str]]:
        """The window's geometry and every named splitter's positions, as base64 text."""
        geometry = _base64(self.saveGeometry())
        splitters = dict(self._splitter_states)  # panels not built yet keep what they had
        for key in self._keys:
            if self.is_built(key):
                for splitter in _named_splitters(self.panel(key)):
                    splitters[splitter.objectName()] = _base64(splitter.saveState())
        return geometry, splitters

    @property
    def current_panel(self) -> str:
        return self._keys[self._stack.currentIndex()]

    def set_gateway_status(self, state: str, text: str) -> None:
        tone = {
            "running": Tone.GOOD,
            "starting": Tone.WARNING,
            "stopping": Tone.WARNING,
            "failed": Tone.BAD,
        }.get(state, Tone.MUTED)
        self._status["gateway"] = (tone, text)
        self._show_status()

    def set_ollama_status(self, ok: bool | None, text: str) -> None:
        self._status["ollama"] = ({True: Tone.GOOD, False: Tone.BAD, None: Tone.MUTED}[ok], text)
        self._show_status()

    def _show_status(self) -> None:
        for key, label in (("gateway", self.gateway_status), ("ollama", self.ollama_status)):
            if key in self._status:
                tone, text = self._status[key]
                label.setText(f"<span style='color:{css(tone)}'>●</span> {text}")

    def _build(self, key: str) -> None:
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        builder, stand_in = pending
        index = self._stack.indexOf(stand_in)
        current = self._stack.currentIndex()
        panel = builder()
        panel.setObjectName(f"{key}Panel")
        self._restore_splitters(panel)
        self._stack.insertWidget(index, panel)
        self._stack.removeWidget(stand_in)
        stand_in.deleteLater()
        self._stack.setCurrentIndex(current)

    def _restore_splitters(self, panel: QWidget) -> None:
        for splitter in _named_splitters(panel):
            state = self._splitter_states.get(splitter.objectName())
            if state:
                splitter.restoreState(QByteArray.fromBase64(state.encode("ascii")))

    def _on_nav_current_row_changed(self, row: int) -> None:
        self._build(self._keys[row])
        self._stack.setCurrentIndex(row)
        self.panel_changed.emit(self._keys[row])

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.allow_close:
            event.accept()
            return
        event.ignore()
        self.close_requested.emit()


def _named_splitters(panel: QWidget) -> list[QSplitter]:
    """The splitters in ``panel`` whose positions are worth keeping: those with an object name."""
    found = panel.findChildren(QSplitter)
    if isinstance(panel, QSplitter):
        found.insert(0, panel)
    return [s for s in found if s.objectName()]


def _base64(data: QByteArray) -> str:
    return bytes(data.toBase64().data()).decode("ascii")
