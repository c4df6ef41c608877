"""The machine at a glance: CPU, RAM in use, each GPU's VRAM in use, and hints."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from core.hardware.facts import HardwareInfo
from gui.palette import Tone, tint
from gui.widgets.fit import gib


def _bar(name: str) -> QProgressBar:
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setRange(0, 1000)
    return bar


class MachineBox(QGroupBox):
    """Shows one :class:`~core.hardware.facts.HardwareInfo`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("This machine", parent)
        self.setObjectName("machineBox")
        self.cpu_label = QLabel("Reading the hardware…")
        self.cpu_label.setObjectName("cpuSummary")
        self.ram_bar = _bar("ramInUse")
        self.gpu_area = QVBoxLayout()
        self.notes = QLabel()
        self.notes.setObjectName("hardwareNotes")
        self.notes.setWordWrap(True)
        tint(self.notes, Tone.WARNING)
        self.notes.hide()
        cpu_ram = QHBoxLayout()
        cpu_ram.addWidget(self.cpu_label)
        cpu_ram.addSpacing(12)
        cpu_ram.addWidget(QLabel("RAM in use"))
        cpu_ram.addWidget(self.ram_bar, 1)
        form = QFormLayout(self)
        form.addRow("CPU", cpu_ram)
        form.addRow("GPU", self.gpu_area)
        form.addRow(self.notes)

    def show_hardware(self, hw: HardwareInfo) -> None:
        cpu = hw.cpu
        self.cpu_label.setText(
            f"{cpu.model} — {cpu.physical_cores or '?'} cores, {cpu.logical_cores or '?'} threads "
            f"({cpu.architecture})"
        )
        used = hw.memory.total - hw.memory.available
        self.ram_bar.setValue(round(1000 * used / hw.memory.total) if hw.memory.total else 0)
        self.ram_bar.setFormat(
            f"{gib(used)} of {gib(hw.memory.total)} ({gib(hw.memory.available)} available)"
        )
        while self.gpu_area.count():
            item = self.gpu_area.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        if not hw.gpus:
            none = QLabel("No GPU found — models run on the CPU, in RAM.")
            none.setObjectName("noGpu")
            self.gpu_area.addWidget(none)
        for gpu in hw.gpus:
            bar = _bar(f"gpu{gpu.index}")
            in_use = gpu.vram_total - gpu.vram_free
            bar.setValue(round(1000 * in_use / gpu.vram_total) if gpu.vram_total else 0)
            bar.setFormat(f"GPU {gpu.index} {gpu.name}: {gib(in_use)} of {gib(gpu.vram_total)} VRAM in use")
            self.gpu_area.addWidget(bar)
        self.notes.setText("\n".join(hw.notes))
        self.notes.setVisible(bool(hw.notes))
