"""p50/p95 per mapping over the monitor's window, what it saved (the cloud price of the requested
models), and each mapping's latency alert threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.metrics.savings import dollars
from core.metrics.stats import MappingStats
from gui.widgets.request_log_view import seconds_text

HEADERS = (
    "Mapping",
    "Requests",
    "Errors",
    "Fallbacks",
    "Truncated",
    "TTFT p50",
    "TTFT p95",
    "Latency p50",
    "Latency p95",
    "Tok/s p50",
    "Tok/s p95",
    "Saved",
    "Alert above (s)",
)
ALERT_COLUMN = len(HEADERS) - 1


def _speed(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


class MappingStatsTable(QTableWidget):
    """One row per mapping; the last column is editable (empty: no latency alert).

    Signals:
        threshold_changed(str, float): a mapping's alert threshold in seconds (0: none).
    """

    threshold_changed = Signal(str, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setObjectName("mappingStats")
        self.setHorizontalHeaderLabels(list(HEADERS))
        self.verticalHeader().hide()
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # a handful of rows
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.itemChanged.connect(self._on_item_changed)

    def show_stats(self, stats: Sequence[MappingStats], thresholds: Mapping[str, float]) -> None:
        """Replace the rows (kept as they are while the user edits a threshold)."""
        if self.state() == QAbstractItemView.State.EditingState:
            return
        self.blockSignals(True)
        try:
            self.setRowCount(len(stats))
            for row, s in enumerate(stats):
                cells = (
                    s.mapping,
                    str(s.requests),
                    str(s.errors),
                    str(s.fallbacks),
                    str(s.truncated),
                    seconds_text(s.ttft_s.p50),
                    seconds_text(s.ttft_s.p95),
                    seconds_text(s.latency_s.p50),
                    seconds_text(s.latency_s.p95),
                    _speed(s.tokens_per_s.p50),
                    _speed(s.tokens_per_s.p95),
                    dollars(s.saved) if s.saved else "–",
                    f"{thresholds[s.mapping]:g}" if s.mapping in thresholds else "",
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    flags = Qt.ItemFlag.ItemIsEnabled
                    if column == ALERT_COLUMN:
                        flags |= Qt.ItemFlag.ItemIsEditable
                        item.setToolTip(
                            "Double-click to set: notify when a request takes longer (empty: never)"
                        )
                    elif column:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    item.setFlags(flags)
                    self.setItem(row, column, item)
        finally:
            self.blockSignals(False)

    def rows(self) -> list[list[str]]:
        return [[_text(self.item(r, c)) for c in range(self.columnCount())] for r in range(self.rowCount())]

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != ALERT_COLUMN:
            return
        mapping = _text(self.item(item.row(), 0))
        text = item.text().strip().removesuffix("s").strip()
        try:
            seconds = float(text) if text else 0.0
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            self.blockSignals(True)
            item.setText("")  # not a number of seconds: no alert rather than a wrong one
            self.blockSignals(False)
            seconds = 0.0
        self.threshold_changed.emit(mapping, seconds)


def _text(item: QTableWidgetItem | None) -> str:
    return item.text() if item is not None else ""
