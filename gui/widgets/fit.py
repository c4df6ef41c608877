"""The fit estimate drawn: memory needed against memory free, and where the layers go."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from core.hardware.fit import FitEstimate, Placement
from gui.palette import Tone, background, follow_palette, set_style, tint

_HEADLINE = {
    Placement.FULL: (Tone.GOOD, "Fits on the GPU"),
    Placement.PARTIAL: (Tone.WARNING, "Partly on the GPU"),
    Placement.CPU: (Tone.WARNING, "Runs on the CPU"),
}


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def _bar(name: str) -> QProgressBar:
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setRange(0, 1000)
    bar.setTextVisible(True)
    return bar


class FitWidget(QWidget):
    """Shows one :class:`~core.hardware.fit.FitEstimate` (or why there is none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fitWidget")
        self.estimate: FitEstimate | None = None
        self.headline = QLabel()
        self.headline.setObjectName("fitHeadline")
        self.headline.setWordWrap(True)
        self.vram_bar = _bar("fitVram")
        self.ram_bar = _bar("fitRam")
        self.layers = QLabel()
        self.layers.setObjectName("fitLayers")
        self.breakdown = QLabel()
        self.breakdown.setObjectName("fitBreakdown")
        self.breakdown.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setObjectName("fitSummary")
        self.summary.setWordWrap(True)
        tint(self.summary, Tone.MUTED)
        form = QFormLayout()
        form.addRow("VRAM", self.vram_bar)
        form.addRow("RAM", self.ram_bar)
        form.addRow("GPU layers", self.layers)
        form.addRow("Needs", self.breakdown)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.headline)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        self.show_estimate(None, "Choose a mapping to see whether its model fits.")
        follow_palette(self, self._restyle_bars)

    def show_estimate(self, fit: FitEstimate | None, note: str = "") -> None:
        self.estimate = fit
        if fit is None:
            self.headline.setText(f"<b>No estimate</b> — {note}" if note else "<b>No estimate</b>")
            tint(self.headline, None)
            for bar in (self.vram_bar, self.ram_bar):
                bar.setValue(0)
                bar.setFormat("—")
            self.layers.setText("—")
            self.breakdown.setText("")
            self.summary.setText("")
            return
        tone, words = _HEADLINE[fit.placement]
        if not fit.fits:
            tone, words = Tone.BAD, "Does NOT fit"
        self.headline.setText(
            f"<b>{words}</b> at a context of {fit.num_ctx:,} tokens ({fit.kv_cache_type} KV cache)"
        )
        tint(self.headline, tone)
        self._fill(self.vram_bar, fit.gpu_bytes, fit.vram_free, "no GPU")
        self._fill(self.ram_bar, fit.cpu_bytes, fit.ram_available, "")
        self.layers.setText(f"{fit.layers_on_gpu} of {fit.layers_total}")
        overhead = f" + GPU overhead {gib(fit.overhead)}" if fit.overhead else ""
        self.breakdown.setText(
            f"weights {gib(fit.weights)} + KV cache {gib(fit.kv_cache)}{overhead} = {gib(fit.total)}"
        )
        self.summary.setText(note or fit.summary())

    def _fill(self, bar: QProgressBar, used: int, available: int, none: str) -> None:
        if available <= 0:
            bar.setValue(0)
            bar.setFormat(none or "—")
            bar.setProperty("over", False)
            self._restyle_bars()
            return
        share = used / available
        bar.setValue(min(1000, round(share * 1000)))
        bar.setFormat(f"{gib(used)} of {gib(available)} free ({share:.0%})")
        bar.setProperty("over", share > 1.0)
        self._restyle_bars()

    def _restyle_bars(self) -> None:
        """A bar asked for more than there is shows a red bar (a shade its text reads on)."""
        over = f"QProgressBar::chunk {{ background: {background(Tone.BAD).name()}; }}"
        for bar in (self.vram_bar, self.ram_bar):
            set_style(bar, over if bar.property("over") else "")
