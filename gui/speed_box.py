"""Measure / Auto-tune buttons and the history of measurements, newest first, side by side."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.measure import Measurement

HISTORY = 20
HEADERS = ("Time", "Mapping", "Context", "GPU layers", "Threads", "Batch", "First token", "Tokens/s", "")


def _opt(value: int | None) -> str:
    return "auto" if value is None else f"{value:,}"


class SpeedBox(QGroupBox):
    """The buttons and the table; the measuring itself is the panel's."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Speed", parent)
        self.setObjectName("speedBox")
        self.measure_button = QPushButton("Measure")
        self.measure_button.setObjectName("measureButton")
        self.measure_button.setToolTip(
            "A short generation through the gateway with the settings above (edits are tried "
            "without saving them)"
        )
        self.tune_button = QPushButton("Auto-tune")
        self.tune_button.setObjectName("autoTuneButton")
        self.tune_button.setToolTip(
            "Try a few GPU-layer and thread settings that fit, and propose the fastest"
        )
        self.accept_button = QPushButton("Use the proposal")
        self.accept_button.setObjectName("acceptProposal")
        self.accept_button.hide()
        self.busy = QProgressBar()
        self.busy.setObjectName("speedBusy")
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(100)
        self.busy.hide()
        self.status = QLabel("Measures time to first token and tokens per second through the gateway.")
        self.status.setObjectName("speedStatus")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("speedHistory")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(120)

        buttons = QHBoxLayout()
        buttons.addWidget(self.measure_button)
        buttons.addWidget(self.tune_button)
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        buttons.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.busy.setVisible(busy)
        self.measure_button.setEnabled(not busy)
        self.tune_button.setEnabled(not busy)
        if text:
            self.status.setText(text)

    def add(self, measurement: Measurement, note: str = "") -> None:
        """Put a measurement on top of the history."""
        m, o = measurement, measurement.options
        cells = (
            m.at.astimezone().strftime("%H:%M:%S"),
            m.mapping,
            _opt(o.num_ctx),
            _opt(o.num_gpu),
            _opt(o.num_thread),
            _opt(o.num_batch),
            f"{m.ttft * 1000:.0f} ms",
            f"{m.tokens_per_s:.1f}",
            note,
        )
        self.table.insertRow(0)
        for column, text in enumerate(cells):
            self.table.setItem(0, column, QTableWidgetItem(text))
        while self.table.rowCount() > HISTORY:
            self.table.removeRow(self.table.rowCount() - 1)

    def row(self, index: int) -> list[str]:
        """The texts of one history row (0 = newest)."""
        items = (self.table.item(index, c) for c in range(self.table.columnCount()))
        return [item.text() if item is not None else "" for item in items]
