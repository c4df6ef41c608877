"""One mapping's hardware options as sliders, bounded by the machine and the model, with the fit."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QWidget,
)

from core.config.schema import Mapping, ModelOptions
from core.hardware.facts import HardwareInfo
from core.hardware.fit import FitEstimate, ModelGeometry
from core.ollama.models import ModelDetails
from gui.palette import Tone, tint
from gui.widgets.fit import FitWidget, gib
from gui.widgets.tuning_sliders import (
    BATCH_STEPS,
    TuningSlider,
    context_choices,
    describe_ctx,
    describe_layers,
)

KEEP_ALIVE_CHOICES = (
    (None, "Ollama's default (5m)"),
    ("0", "0 — unload after each request"),
    ("5m", "5 minutes"),
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("-1m", "keep loaded (-1m)"),  # a bare "-1" string is not a duration to Ollama (Go)
)
#: When a model's layer count is unknown (not installed yet), the GPU-layer slider goes this far.
FALLBACK_LAYERS = 128


@dataclass(frozen=True)
class ModelFacts:
    """What is known about a mapping's model: its details and size, or why not."""

    details: ModelDetails | None = None
    size: int | None = None
    problem: str = ""

    @property
    def geometry(self) -> ModelGeometry | None:
        if self.details is None or self.size is None:
            return None
        try:
            return ModelGeometry.from_details(self.details, self.size)
        except ValueError:
            return None


class TuningBox(QGroupBox):
    """Mapping picker, sliders, keep-alive, the fit estimate, Revert and Apply.

    Signals:
        mapping_chosen(str): the user picked another mapping; carries its name.
        options_changed(): the user moved a slider or changed keep-alive.
        same_load_requested(): "Use the same load options" was clicked.
    """

    mapping_chosen = Signal(str)
    options_changed = Signal()
    same_load_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Tuning", parent)
        self.setObjectName("tuningBox")
        self._syncing = False
        self.mapping_choice = QComboBox()
        self.mapping_choice.setObjectName("mappingChoice")
        self.mapping_choice.currentIndexChanged.connect(self._on_mapping_choice_changed)
        self.model_label = QLabel()
        self.model_label.setObjectName("tunedModel")
        self.model_label.setWordWrap(True)
        self.gpu_layers = TuningSlider("numGpu", auto_text="auto")
        self.threads = TuningSlider("numThread", auto_text="auto")
        self.context = TuningSlider("numCtx", auto_text="default", describe=describe_ctx)
        self.batch = TuningSlider("numBatch", auto_text="auto")
        self.main_gpu = TuningSlider("mainGpu", auto_text="auto")
        self.keep_alive = QComboBox()
        self.keep_alive.setObjectName("keepAlive")
        for value, text in KEEP_ALIVE_CHOICES:
            self.keep_alive.addItem(text, value)
        for slider in self.sliders():
            slider.changed.connect(self._on_option_changed)
        self.keep_alive.currentIndexChanged.connect(self._on_option_changed)
        self.bounds_note = QLabel()
        self.bounds_note.setObjectName("boundsNote")
        self.bounds_note.setWordWrap(True)
        tint(self.bounds_note, Tone.WARNING)
        self.bounds_note.hide()
        self.reload_note = QLabel()
        self.reload_note.setObjectName("reloadNote")
        self.reload_note.setWordWrap(True)
        tint(self.reload_note, Tone.WARNING)
        self.same_load_button = QPushButton("Use the same load options")
        self.same_load_button.setObjectName("sameLoadOptions")
        self.same_load_button.setToolTip(
            "Give every mapping on this model the largest context among them and the same GPU "
            "layers, threads and batch, so Ollama keeps one copy loaded"
        )
        self.same_load_button.clicked.connect(self.same_load_requested)
        reload_row = QHBoxLayout()
        reload_row.addWidget(self.reload_note, 1)
        reload_row.addWidget(self.same_load_button)
        self.show_reload("")
        self.fit = FitWidget()
        self.revert_button = QPushButton("Revert")
        self.revert_button.setObjectName("revertTuning")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyTuning")
        self.apply_button.setDefault(True)
        self.status = QLabel()
        self.status.setObjectName("tuningStatus")
        self.status.setWordWrap(True)

        grid = QGridLayout(self)
        grid.addWidget(QLabel("Mapping"), 0, 0)
        grid.addWidget(self.mapping_choice, 0, 1)
        grid.addWidget(self.model_label, 1, 0, 1, 2)
        rows = (
            ("GPU layers", self.gpu_layers),
            ("CPU threads", self.threads),
            ("Context", self.context),
            ("Batch size", self.batch),
            ("Main GPU", self.main_gpu),
            ("Keep loaded", self.keep_alive),
        )
        for i, (title, widget) in enumerate(rows, start=2):
            grid.addWidget(QLabel(title), i, 0)
            grid.addWidget(widget, i, 1)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        grid.addWidget(self.bounds_note, 8, 0, 1, 2)
        grid.addLayout(reload_row, 9, 0, 1, 2)
        grid.addWidget(line, 10, 0, 1, 2)
        grid.addWidget(self.fit, 11, 0, 1, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        grid.addLayout(buttons, 12, 0, 1, 2)
        grid.setColumnStretch(1, 1)

    def sliders(self) -> tuple[TuningSlider, ...]:
        return (self.gpu_layers, self.threads, self.context, self.batch, self.main_gpu)

    def set_mappings(self, mappings: list[Mapping], current: str | None) -> None:
        """List the mappings (``name → model``) and select ``current``, without signalling."""
        self.mapping_choice.blockSignals(True)
        self.mapping_choice.clear()
        for mapping in mappings:
            self.mapping_choice.addItem(f"{mapping.name}  →  {mapping.model}", mapping.name)
        self.mapping_choice.setCurrentIndex(max(0, self.mapping_choice.findData(current)))
        self.mapping_choice.blockSignals(False)

    def show_options(
        self, mapping: Mapping, options: ModelOptions, facts: ModelFacts, hardware: HardwareInfo | None
    ) -> None:
        """Ranges from ``hardware`` and the model, values from ``options``; says what was clamped."""
        self.set_mappings_current(mapping.name)
        geometry = facts.geometry
        gpus = hardware.gpus if hardware is not None else ()
        layers = geometry.offload_layers if geometry else FALLBACK_LAYERS
        logical = (hardware.cpu.logical_cores if hardware else None) or os.cpu_count() or 1
        model_max = facts.details.context_length if facts.details else None
        notes: list[str] = []
        self._syncing = True
        try:
            self.gpu_layers.set_choices(range(layers + 1) if gpus else [0])
            self.gpu_layers.setEnabled(bool(gpus))
            self.gpu_layers.set_describe(describe_layers(layers))
            self.threads.set_choices(range(1, logical + 1))
            self.context.set_choices(context_choices(model_max, options.num_ctx))
            self.batch.set_choices(
                sorted({*BATCH_STEPS, *([options.num_batch] if options.num_batch else [])})
            )
            self.main_gpu.set_choices(range(max(1, len(gpus))))
            self.main_gpu.setEnabled(len(gpus) > 1)
            for slider, value in (
                (self.gpu_layers, options.num_gpu),
                (self.threads, options.num_thread),
                (self.context, options.num_ctx),
                (self.batch, options.num_batch),
                (self.main_gpu, options.main_gpu),
            ):
                slider.set_value(value)
                if value is not None and slider.value() != value:
                    notes.append(
                        f"{slider.objectName()} {value:,} is outside what this machine and model allow "
                        f"({slider.minimum:,}–{slider.maximum:,}); the slider shows {slider.value():,}."
                    )
            index = self.keep_alive.findData(options.keep_alive)
            if index < 0:
                self.keep_alive.addItem(str(options.keep_alive), options.keep_alive)
                index = self.keep_alive.count() - 1
            self.keep_alive.setCurrentIndex(index)
        finally:
            self._syncing = False
        self.gpu_layers.setToolTip(
            "" if gpus else "No GPU found on this machine: every layer runs on the CPU."
        )
        where = f"{geometry.block_count} layers, " if geometry else ""
        ctx = f"context up to {model_max:,}" if model_max else "context length unknown"
        size = f", {gib(facts.size)}" if facts.size else ""
        self.model_label.setText(
            f"<b>{mapping.model}</b>: {where}{ctx}{size}"
            if facts.details
            else f"<b>{mapping.model}</b>: {facts.problem}"
        )
        self.bounds_note.setText(" ".join(notes))
        self.bounds_note.setVisible(bool(notes))

    def show_reload(self, warning: str) -> None:
        """Say that this mapping's load options make Ollama load its model again ("" hides it)."""
        self.reload_note.setText(f"⚠ {warning}." if warning else "")
        self.reload_note.setVisible(bool(warning))
        self.same_load_button.setVisible(bool(warning))

    def set_mappings_current(self, name: str) -> None:
        index = self.mapping_choice.findData(name)
        if index >= 0 and index != self.mapping_choice.currentIndex():
            self.mapping_choice.blockSignals(True)
            self.mapping_choice.setCurrentIndex(index)
            self.mapping_choice.blockSignals(False)

    def options(self, base: ModelOptions) -> ModelOptions:
        """``base`` with what the sliders and keep-alive say."""
        return base.model_copy(
            update={
                "num_gpu": self.gpu_layers.value(),
                "num_thread": self.threads.value(),
                "num_ctx": self.context.value(),
                "num_batch": self.batch.value(),
                "main_gpu": self.main_gpu.value(),
                "keep_alive": self.keep_alive.currentData(),
            }
        )

    def set_threads_and_layers(self, num_gpu: int | None, num_thread: int | None) -> None:
        """Put a proposal on the sliders (one change signal)."""
        self._syncing = True
        try:
            self.gpu_layers.set_value(num_gpu)
            self.threads.set_value(num_thread)
        finally:
            self._syncing = False
        self.options_changed.emit()

    def show_fit(self, fit: FitEstimate | None, facts: ModelFacts | None) -> None:
        if fit is not None:
            self.fit.show_estimate(fit)
        elif facts is not None and facts.problem:
            self.fit.show_estimate(None, facts.problem)
        elif facts is not None and facts.details is not None and facts.geometry is None:
            self.fit.show_estimate(
                None, f"{facts.details.name} does not report the sizes the estimate needs."
            )
        else:
            self.fit.show_estimate(None, "reading the hardware and the model…")

    def set_dirty(self, dirty: bool) -> None:
        self.apply_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        if dirty:
            self.status.setText(
                "Unapplied changes: Apply saves them and updates the running gateway at once."
            )

    def _on_option_changed(self, *_args: object) -> None:
        if not self._syncing:
            self.options_changed.emit()

    def _on_mapping_choice_changed(self, index: int) -> None:
        name = self.mapping_choice.itemData(index)
        if name:
            self.mapping_chosen.emit(str(name))
