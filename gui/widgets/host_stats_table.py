"""p50/p95 per Ollama host over the monitor's window: how a mapping's hosts share its requests."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.metrics.stats import HostStats
from gui.widgets.request_log_view import seconds_text

HEADERS = (
    "Host",
    "Requests",
    "Errors",
    "TTFT p50",
    "TTFT p95",
    "Latency p50",
    "Latency p95",
    "Tok/s p50",
    "Mappings",
)


class HostStatsTable(QTableWidget):
    """One row per host that answered (a backend's name, or its address), busiest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setObjectName("hostStats")
        self.setHorizontalHeaderLabels(list(HEADERS))
        self.verticalHeader().hide()
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # a handful of rows
        header.setSectionResizeMode(len(HEADERS) - 1, QHeaderView.ResizeMode.Stretch)

    def show_stats(self, stats: Sequence[HostStats]) -> None:
        """Replace the rows."""
        self.setRowCount(len(stats))
        for row, s in enumerate(stats):
            cells = (
                s.host,
                str(s.requests),
                str(s.errors),
                seconds_text(s.ttft_s.p50),
                seconds_text(s.ttft_s.p95),
                seconds_text(s.latency_s.p50),
                seconds_text(s.latency_s.p95),
                "–" if s.tokens_per_s.p50 is None else f"{s.tokens_per_s.p50:.1f}",
                ", ".join(s.mappings),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                if 0 < column < len(HEADERS) - 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(row, column, item)

    def rows(self) -> list[list[str]]:
        return [
            [
                (item.text() if (item := self.item(r, c)) is not None else "")
                for c in range(self.columnCount())
            ]
            for r in range(self.rowCount())
        ]
