"""Measure and Auto-tune: time a mapping through the gateway, keep a history to compare settings
side by side, and propose the fastest setting auto-tune found."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from PySide6.QtCore import Signal
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

from core.config.schema import ModelOptions
from core.hardware.autotune import Trial, TuneResult, auto_tune
from core.hardware.measure import MeasureError, Measurement

#: Measures ``mapping`` with these options (served only for the measurement).
RunTrial = Callable[[str, ModelOptions], Awaitable[Measurement]]

HISTORY = 20
#: Context, GPU layers, CPU threads, batch size, time to first token, tokens per second.
HEADERS = ("Time", "Mapping", "Ctx", "GPU", "Thr", "Batch", "TTFT", "tok/s", "Note")


def _opt(value: int | None) -> str:
    return "auto" if value is None else f"{value:,}"


class SpeedBox(QGroupBox):
    """Buttons, status and the history table; the panel decides what to measure.

    Signals:
        proposal_accepted(object): the user took auto-tune's proposal; carries its ModelOptions.
    """

    proposal_accepted = Signal(object)

    def __init__(self, run_trial: RunTrial, parent: QWidget | None = None) -> None:
        super().__init__("Speed", parent)
        self.setObjectName("speedBox")
        self._run_trial = run_trial
        self.measurements: list[Measurement] = []  # oldest first (the table shows newest on top)
        self.last_tune: TuneResult | None = None
        self.proposal: ModelOptions | None = None
        self.measure_button = QPushButton("Measure")
        self.measure_button.setObjectName("measureButton")
        self.measure_button.setToolTip(
            "A short generation through the gateway with the settings shown (edits are tried without "
            "saving them)"
        )
        self.tune_button = QPushButton("Auto-tune")
        self.tune_button.setObjectName("autoTuneButton")
        self.tune_button.setToolTip(
            "Try a few GPU-layer and thread settings that fit, and propose the fastest"
        )
        self.accept_button = QPushButton("Use the proposal")
        self.accept_button.setObjectName("acceptProposal")
        self.accept_button.clicked.connect(self._on_accept_button_clicked)
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
        for column, tip in enumerate(
            (
                "",
                "",
                "Context (tokens)",
                "GPU layers",
                "CPU threads",
                "Batch size",
                "Time to first token",
                "Tokens per second",
                "",
            )
        ):
            header = self.table.horizontalHeaderItem(column)
            if header is not None and tip:
                header.setToolTip(tip)
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

    # ---------------------------------------------------------------- work
    async def measure(self, mapping: str, options: ModelOptions, note: str = "") -> Measurement | None:
        """One measurement, added to the history; ``None`` (and the reason shown) if it failed."""
        self._set_busy(True, f"Measuring {mapping}…")
        try:
            result = await self._run_trial(mapping, options)
        except MeasureError as exc:
            self.status.setText(str(exc))
            return None
        finally:
            self._set_busy(False)
        self.add(result, note)
        self.status.setText(
            f"{result.mapping}: first token after {result.ttft * 1000:.0f} ms, "
            f"{result.tokens_per_s:.1f} tokens/s ({result.tokens} tokens)."
        )
        return result

    async def auto_tune(self, mapping: str, candidates: Sequence[ModelOptions]) -> TuneResult:
        """Measure every candidate (the current settings first) and offer the fastest."""
        self.proposal = None
        self.accept_button.hide()
        self._set_busy(True, f"Auto-tune: trying {len(candidates)} setting(s) for {mapping}…")
        done = 0

        def on_trial(trial: Trial) -> None:
            nonlocal done
            done += 1
            if trial.result is not None:
                self.add(trial.result, f"auto-tune {done}/{len(candidates)}")
            self.status.setText(f"Auto-tune: {done} of {len(candidates)} tried…")

        try:
            result = await auto_tune(candidates, lambda o: self._run_trial(mapping, o), on_trial)
        finally:
            self._set_busy(False)
        self.last_tune = result
        self.status.setText(self._verdict(result))
        if result.improves and result.best is not None:
            self.proposal = result.best.options
            self.accept_button.show()
        return result

    @staticmethod
    def _verdict(result: TuneResult) -> str:
        best = result.best
        if best is None or best.result is None:
            errors = "; ".join(t.error for t in result.trials if t.error)
            return f"Auto-tune could not measure any setting: {errors}"
        if not result.improves:
            return (
                f"Your current settings were the fastest of {len(result.trials)} tried "
                f"({best.result.tokens_per_s:.1f} tokens/s)."
            )
        first = result.trials[0].result
        now = f" (now: {first.tokens_per_s:.1f})" if first is not None else ""
        return (
            f"Fastest: GPU layers {_opt(best.options.num_gpu)}, threads {_opt(best.options.num_thread)} — "
            f"{best.result.tokens_per_s:.1f} tokens/s{now}. Use the proposal, then Apply to keep it."
        )

    # ---------------------------------------------------------------- history
    def add(self, measurement: Measurement, note: str = "") -> None:
        """Put a measurement on top of the history."""
        self.measurements.append(measurement)
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

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy.setVisible(busy)
        self.measure_button.setEnabled(not busy)
        self.tune_button.setEnabled(not busy)
        if text:
            self.status.setText(text)

    def _on_accept_button_clicked(self) -> None:
        if self.proposal is not None:
            self.accept_button.hide()
            self.proposal_accepted.emit(self.proposal)
