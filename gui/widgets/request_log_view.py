"""The monitor's request log: newest first, filterable, errors and fallbacks highlighted.

Rows live in a ``QStandardItemModel`` and are filtered by ``QSortFilterProxyModel``'s own regular
expression on a hidden column, so painting and filtering never call into Python. That matters
while the gateway streams: its thread holds the GIL most of the time, and every Python call a
view makes from C++ (``data()`` per cell and role, ``filterAcceptsRow`` per row) would first wait
for it (measured with ``bench/monitor_stall.py``). Python runs once per new record, at insertion.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from PySide6.QtCore import QRegularExpression, QSortFilterProxyModel
from PySide6.QtGui import QBrush, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget

from core.metrics.recorder import RequestRecord
from gui.palette import Tone, follow_palette
from gui.palette import background as tinted

MAX_ROWS = 1000
COLUMNS = (
    "Time",
    "API",
    "Routing (asked → mapping → model)",
    "Host",
    "Status",
    "TTFT",
    "Latency",
    "Tokens",
    "Tok/s",
    "Notes",
)
FILTER_COLUMN = len(COLUMNS)  # hidden: the text the filter searches, plus a problem marker
PROBLEM_MARK = "\u2691problem"
COLUMN_WIDTHS = (70, 90, 360, 90, 80, 70, 70, 100, 60)
#: The tints of a failed request's row, a likely truncated prompt's and a fallback's.
ERROR_BG, TRUNCATED_BG, FALLBACK_BG = Tone.BAD, Tone.WARNING, Tone.INFO
#: A load longer than this is Ollama (re)loading the model, not checking that it is loaded.
RELOAD_NOTE_S = 0.5
#: The note on a request GateDeck's own tool-call probe sent (left out of graphs and savings).
PROBE_NOTE = "probe: GateDeck's tool-call test, not counted"
#: How the notes name the ways a model wrote a tool call as text.
REPAIRED_SHAPES = {
    "tool_call_tag": "<tool_call> text",
    "function_xml": "<function=…> XML",
    "json": "JSON text",
    "fenced_json": "a fenced JSON block",
}


def seconds_text(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def notes(record: RequestRecord) -> str:
    parts = []
    if record.probe:
        parts.append(PROBE_NOTE)
    if not record.ok:
        parts.append(record.error)
    if record.fallback:
        parts.append(f"fallback: {record.mapping} failed, {record.fallback} answered")
    if record.declined:
        parts.append(f"answered by LiteLLM: fast path declined: {record.declined}")
    if record.likely_truncated:
        parts.append(
            f"prompt likely truncated ({record.prompt_tokens} of {record.num_ctx} tokens of context)"
        )
    if record.load_s is not None and record.load_s >= RELOAD_NOTE_S:
        parts.append(f"model loaded ({record.load_s:.1f} s)")
    if record.unenforced:
        parts.append(record.unenforced)
    if record.repaired:
        parts.append(
            f"tool call repaired (written as {REPAIRED_SHAPES.get(record.repaired, record.repaired)})"
        )
    return "; ".join(parts)


#: What a request's API is called in the log (Codex speaks the Responses API).
DIALECT_NAMES = {
    "anthropic": "Anthropic",
    "openai": "OpenAI",
    "responses": "Responses",
    "embeddings": "Embeddings",
}


def cells(record: RequestRecord) -> list[str]:
    tokens = (
        "–"
        if record.prompt_tokens is None and record.completion_tokens is None
        else f"{record.prompt_tokens or 0} → {record.completion_tokens or 0}"
    )
    return [
        dt.datetime.fromtimestamp(record.at).strftime("%H:%M:%S"),
        DIALECT_NAMES.get(record.dialect, record.dialect)
        + (" ⇶" if record.stream else "")
        + (f" ×{record.inputs}" if record.inputs is not None else ""),  # texts embedded
        record.routing,
        record.backend or "–",  # the Ollama host (or cloud backend) that answered
        "OK" if record.ok else f"Error {record.status}",
        seconds_text(record.ttft_s),
        seconds_text(record.latency_s),
        tokens,
        "–" if record.tokens_per_s is None else f"{record.tokens_per_s:.1f}",
        notes(record),
    ]


def background(record: RequestRecord) -> Tone | None:
    if not record.ok:
        return ERROR_BG
    if record.likely_truncated:
        return TRUNCATED_BG
    if record.fallback:
        return FALLBACK_BG
    return None


class RequestLogModel(QStandardItemModel):
    """Records as rows, newest first, at most :data:`MAX_ROWS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS) + 1, parent)
        self.setHorizontalHeaderLabels([*COLUMNS, ""])
        self._records: list[RequestRecord] = []  # row i of the model is self._records[i]
        self._brushes: dict[Tone, QBrush] = {}

    def add(self, records: Sequence[RequestRecord]) -> None:
        for record in list(records)[-MAX_ROWS:]:
            self.insertRow(0, self._items(record))
            self._records.insert(0, record)
        if len(self._records) > MAX_ROWS:
            self.removeRows(MAX_ROWS, len(self._records) - MAX_ROWS)
            del self._records[MAX_ROWS:]

    def restyle(self) -> None:
        """Tint the rows' backgrounds from the palette now in use."""
        self._brushes = {tone: QBrush(tinted(tone)) for tone in (ERROR_BG, TRUNCATED_BG, FALLBACK_BG)}
        for row, record in enumerate(self._records):
            tone = background(record)
            if tone is not None:
                for column in range(len(COLUMNS)):
                    item = self.item(row, column)
                    if item is not None:
                        item.setBackground(self._brushes[tone])

    def record(self, row: int) -> RequestRecord:
        return self._records[row]

    def _items(self, record: RequestRecord) -> list[QStandardItem]:
        texts = cells(record)
        colour = background(record)
        tip = notes(record) or record.routing
        items = []
        for text in texts:
            item = QStandardItem(text)
            item.setEditable(False)
            item.setToolTip(tip)
            if colour:
                item.setBackground(self._brushes[colour])  # the palette's text reads on it
            items.append(item)
        search = " ".join((record.routing, record.dialect, record.backend, notes(record)))
        items.append(QStandardItem(f"{search} {PROBLEM_MARK}" if colour else search))
        return items


class RequestLogView(QWidget):
    """Filter box, "problems only" and the table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RequestLogModel(self)
        follow_palette(self, self.model.restyle)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(FILTER_COLUMN)
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("requestFilter")
        self.filter_edit.setPlaceholderText("Filter: model name, mapping, error…")
        self.filter_edit.setClearButtonEnabled(True)
        self.problems = QCheckBox("Errors, fallbacks and truncations only")
        self.problems.setObjectName("problemsOnly")
        self.table = QTableView()
        self.table.setObjectName("requestLog")
        self.table.setModel(self.proxy)
        self.table.setColumnHidden(FILTER_COLUMN, True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        # fixed widths: sizing columns to contents would measure every row on every insert
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            header.resizeSection(column, width)
        header.setStretchLastSection(True)
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # no per-row height measuring
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        row = QHBoxLayout()
        row.addWidget(self.filter_edit, 1)
        row.addWidget(self.problems)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        self.filter_edit.textChanged.connect(self._on_filter_changed)
        self.problems.toggled.connect(self._on_filter_changed)

    def visible_records(self) -> list[RequestRecord]:
        """The rows the filter lets through, top to bottom."""
        return [
            self.model.record(self.proxy.mapToSource(self.proxy.index(r, 0)).row())
            for r in range(self.proxy.rowCount())
        ]

    def _on_filter_changed(self, *_args: object) -> None:
        # every word, in any order, and the problem marker when asked: lookaheads on one column
        words = [*self.filter_edit.text().split(), *([PROBLEM_MARK] if self.problems.isChecked() else [])]
        pattern = "".join(f"(?=.*{re.escape(word)})" for word in words)
        self.proxy.setFilterRegularExpression(
            QRegularExpression(pattern, QRegularExpression.PatternOption.CaseInsensitiveOption)
        )
