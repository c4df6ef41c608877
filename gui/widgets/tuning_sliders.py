"""A slider over a list of allowed values, with an optional "auto" box (leave it to Ollama)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget

#: Context sizes offered (tokens); the model's own maximum is added when it is not one of them.
CTX_STEPS = (2048, 4096, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304, 131072, 196608, 262144)
#: Batch sizes offered (Ollama's default is 512).
BATCH_STEPS = (32, 64, 128, 256, 512, 1024, 2048, 4096)
#: When a model does not report its context length.
FALLBACK_MAX_CTX = 131072


def context_choices(model_max: int | None, current: int | None = None) -> list[int]:
    """Context sizes from 2k to the model's maximum, plus the maximum and the current value."""
    top = model_max or FALLBACK_MAX_CTX
    values = {v for v in CTX_STEPS if v <= top} | {top}
    if current is not None and 256 <= current <= top:
        values.add(current)
    return sorted(values)


def _k(value: int) -> str:
    return f"{value // 1024}k" if value >= 1024 and value % 1024 == 0 else f"{value:,}"


class TuningSlider(QWidget):
    """One tunable option: a slider whose positions are ``choices``; "auto" gives ``None``.

    Signals:
        changed(): the value changed (slider moved or "auto" toggled), by the user or in code.
    """

    changed = Signal()

    def __init__(
        self,
        name: str,
        *,
        auto_text: str | None = None,
        describe: Callable[[int], str] = str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._describe = describe
        self._choices: list[int] = [0]
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(f"{name}Slider")
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.valueChanged.connect(self._on_slider_value_changed)
        self.value_label = QLabel()
        self.value_label.setObjectName(f"{name}Value")
        self.value_label.setMinimumWidth(92)
        self.auto: QCheckBox | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.value_label)
        if auto_text is not None:
            self.auto = QCheckBox(auto_text)
            self.auto.setObjectName(f"{name}Auto")
            self.auto.toggled.connect(self._on_auto_toggled)
            row.addWidget(self.auto)
        self._show()

    # ---------------------------------------------------------------- bounds and value
    @property
    def choices(self) -> list[int]:
        return list(self._choices)

    @property
    def minimum(self) -> int:
        return self._choices[0]

    @property
    def maximum(self) -> int:
        return self._choices[-1]

    def set_choices(self, choices: Sequence[int]) -> None:
        """Allow only ``choices`` (sorted); the value moves to the nearest allowed one."""
        if not choices:
            raise ValueError("a slider needs at least one choice")
        current = self._choices[self.slider.value()]
        self._choices = sorted(set(choices))
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self._choices) - 1)
        self.slider.setValue(self._nearest(current))
        self.slider.blockSignals(False)
        self._show()

    def set_describe(self, describe: Callable[[int], str]) -> None:
        """How the value is written next to the slider."""
        self._describe = describe
        self._show()

    def value(self) -> int | None:
        """The chosen value, or ``None`` when "auto" is ticked."""
        if self.auto is not None and self.auto.isChecked():
            return None
        return self._choices[self.slider.value()]

    def set_value(self, value: int | None) -> None:
        """Show ``value`` (the nearest allowed one); ``None`` ticks "auto" when there is one."""
        self.blockSignals(True)
        try:
            if self.auto is not None:
                self.auto.setChecked(value is None)
            if value is not None:
                self.slider.setValue(self._nearest(value))
        finally:
            self.blockSignals(False)
        self._show()
        self.changed.emit()

    def set_position(self, index: int) -> None:
        """Move the slider to a position, as a user dragging it would (and untick "auto")."""
        if self.auto is not None:
            self.auto.setChecked(False)
        self.slider.setValue(index)

    def position_of(self, value: int) -> int:
        return self._nearest(value)

    # ---------------------------------------------------------------- internals
    def _nearest(self, value: int) -> int:
        return min(range(len(self._choices)), key=lambda i: (abs(self._choices[i] - value), i))

    def _show(self) -> None:
        value = self.value()
        self.slider.setEnabled(value is not None and len(self._choices) > 1)
        self.value_label.setText("auto" if value is None else self._describe(value))

    def _on_slider_value_changed(self, _position: int) -> None:
        self._show()
        self.changed.emit()

    def _on_auto_toggled(self, _checked: bool) -> None:
        self._show()
        self.changed.emit()


def describe_ctx(value: int) -> str:
    return f"{_k(value)} tokens"


def describe_layers(total: int) -> Callable[[int], str]:
    return lambda value: f"{value} of {total}"
