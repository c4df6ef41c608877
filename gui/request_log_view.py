"""The monitor's request log: newest first, filterable, errors and fallbacks highlighted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget

from core.metrics import RequestRecord

MAX_ROWS = 5000
COLUMNS = (
    "Time",
    "API",
    "Routing (asked → mapping → model)",
    "Status",
    "TTFT",
    "Latency",
    "Tokens",
    "Tok/s",
    "Notes",
)
COLUMN_WIDTHS = (70, 90, 360, 80, 70, 70, 100, 60)
ERROR_BG, FALLBACK_BG, TRUNCATED_BG = "#fde7e9", "#fff3cd", "#ffe5cc"
Index = QModelIndex | QPersistentModelIndex


def seconds_text(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def notes(record: RequestRecord) -> str:
    parts = []
    if not record.ok:
        parts.append(record.error)
    if record.fallback:
        parts.append(f"fallback: {record.mapping} failed, {record.fallback} answered")
    if record.likely_truncated:
        parts.append(
            f"prompt likely truncated ({record.prompt_tokens} of {record.num_ctx} tokens of context)"
        )
    return "; ".join(parts)


class RequestLogModel(QAbstractTableModel):
    """Records as rows, newest first, at most :data:`MAX_ROWS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[RequestRecord] = []

    def add(self, records: Sequence[RequestRecord]) -> None:
        if not records:
            return
        newest_first = list(reversed(records))[:MAX_ROWS]
        self.beginInsertRows(QModelIndex(), 0, len(newest_first) - 1)
        self._rows[0:0] = newest_first
        self.endInsertRows()
        if len(self._rows) > MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), MAX_ROWS, len(self._rows) - 1)
            del self._rows[MAX_ROWS:]
            self.endRemoveRows()

    def record(self, row: int) -> RequestRecord:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        record = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(record, index.column())
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = _background(record)
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole and _background(record):
            return QBrush(QColor("#1f2328"))  # readable on the light highlight in a dark theme too
        if role == Qt.ItemDataRole.ToolTipRole:
            return notes(record) or record.routing
        return None

    @staticmethod
    def _text(record: RequestRecord, column: int) -> str:
        if column == 0:
            return dt.datetime.fromtimestamp(record.at).strftime("%H:%M:%S")
        if column == 1:
            return ("Anthropic" if record.dialect == "anthropic" else "OpenAI") + (
                " ⇶" if record.stream else ""
            )
        if column == 2:
            return record.routing
        if column == 3:
            return "OK" if record.ok else f"Error {record.status}"
        if column == 4:
            return seconds_text(record.ttft_s)
        if column == 5:
            return seconds_text(record.latency_s)
        if column == 6:
            if record.prompt_tokens is None and record.completion_tokens is None:
                return "–"
            return f"{record.prompt_tokens or 0} → {record.completion_tokens or 0}"
        if column == 7:
            return "–" if record.tokens_per_s is None else f"{record.tokens_per_s:.1f}"
        return notes(record)


def _background(record: RequestRecord) -> str:
    if not record.ok:
        return ERROR_BG
    if record.likely_truncated:
        return TRUNCATED_BG
    if record.fallback:
        return FALLBACK_BG
    return ""


class RequestFilter(QSortFilterProxyModel):
    """Rows whose routing, API or notes contain the text; optionally only problem rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = ""
        self.problems_only = False

    def set_filter(self, text: str, problems_only: bool) -> None:
        self.beginFilterChange()
        self.text, self.problems_only = text.strip().lower(), problems_only
        self.endFilterChange()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RequestLogModel)
        record = model.record(source_row)
        if self.problems_only and record.ok and not record.fallback and not record.likely_truncated:
            return False
        if not self.text:
            return True
        haystack = f"{record.routing} {record.dialect} {record.backend} {notes(record)}".lower()
        return all(word in haystack for word in self.text.split())


class RequestLogView(QWidget):
    """Filter box, "problems only" and the table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RequestLogModel(self)
        self.proxy = RequestFilter(self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("requestFilter")
        self.filter_edit.setPlaceholderText("Filter: model name, mapping, error…")
        self.filter_edit.setClearButtonEnabled(True)
        self.problems = QCheckBox("Errors, fallbacks and truncations only")
        self.problems.setObjectName("problemsOnly")
        self.table = QTableView()
        self.table.setObjectName("requestLog")
        self.table.setModel(self.proxy)
        self.table.setAlternatingRowColors(False)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # fixed widths: sizing columns to contents would measure every row on every insert
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        row = QHBoxLayout()
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.problems)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        self.problems.toggled.connect(self._on_problems_toggled)

    def visible_records(self) -> list[RequestRecord]:
        """The rows the filter lets through, top to bottom."""
        return [
            self.model.record(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
            for r in range(self.proxy.rowCount())
        ]

    def _on_filter_edit_text_changed(self, text: str) -> None:
        self.proxy.set_filter(text, self.problems.isChecked())

    def _on_problems_toggled(self, checked: bool) -> None:
        self.proxy.set_filter(self.filter_edit.text(), checked)
