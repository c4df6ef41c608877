"""Facts about this machine: CPU, memory and GPUs.

CPU and memory come from psutil. GPUs come from one probe per vendor; today that is NVIDIA through
nvidia-ml-py (``pynvml``), used only when it is installed and a driver answers. A machine without
either simply has no GPUs listed, never an error. Another vendor is one more :class:`GpuProbe`.
"""

from __future__ import annotations

import importlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import psutil

from core.threads import in_thread


@dataclass(frozen=True)
class CpuInfo:
    model: str
    physical_cores: int | None
    logical_cores: int | None
    architecture: str


@dataclass(frozen=True)
class MemoryInfo:
    total: int
    available: int


@dataclass(frozen=True)
class GpuInfo:
    vendor: str
    index: int
    name: str
    vram_total: int
    vram_free: int
    driver: str | None = None


@dataclass(frozen=True)
class HardwareInfo:
    """Everything GateDeck knows about the machine.

    Attributes:
        notes: hints worth showing, e.g. a GPU driver is present but its library is not.
    """

    cpu: CpuInfo
    memory: MemoryInfo
    gpus: tuple[GpuInfo, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def vram_total(self) -> int:
        return sum(g.vram_total for g in self.gpus)

    @property
    def vram_free(self) -> int:
        return sum(g.vram_free for g in self.gpus)


class GpuUnavailable(Exception):
    """A vendor's GPUs cannot be read here; ``note`` is worth showing, or empty when nothing is."""

    def __init__(self, note: str = "") -> None:
        super().__init__(note)
        self.note = note


class GpuProbe(Protocol):
    """Lists one vendor's GPUs, or raises :class:`GpuUnavailable`."""

    vendor: str

    def probe(self) -> list[GpuInfo]: ...


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class NvidiaProbe:
    """NVIDIA GPUs through NVML (package ``nvidia-ml-py``, module ``pynvml``).

    Args:
        nvml: an NVML module to use instead of importing ``pynvml``.
    """

    vendor = "NVIDIA"

    def __init__(self, nvml: ModuleType | None = None) -> None:
        self._nvml = nvml

    def probe(self) -> list[GpuInfo]:
        nvml = self._nvml
        if nvml is None:
            try:
                nvml = importlib.import_module("pynvml")
            except ImportError:
                raise GpuUnavailable(self._missing_library_note()) from None
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, … all mean "none here"
            raise GpuUnavailable(
                "" if _no_nvidia_driver() else f"NVIDIA driver did not answer: {exc}"
            ) from None
        try:
            driver = _text(nvml.nvmlSystemGetDriverVersion())
            gpus = []
            for index in range(int(nvml.nvmlDeviceGetCount())):
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                name = _text(nvml.nvmlDeviceGetName(handle))
                gpus.append(GpuInfo(self.vendor, index, name, int(memory.total), int(memory.free), driver))
            return gpus
        except Exception as exc:
            raise GpuUnavailable(f"NVIDIA GPUs could not be read: {exc}") from None
        finally:
            try:
                nvml.nvmlShutdown()
            except Exception:
                pass

    @staticmethod
    def _missing_library_note() -> str:
        if _no_nvidia_driver():
            return ""
        return "An NVIDIA driver is installed but nvidia-ml-py is not: `pip install nvidia-ml-py` to see GPU memory."


def _no_nvidia_driver() -> bool:
    return not (Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi"))


def default_gpu_probes() -> list[GpuProbe]:
    return [NvidiaProbe()]


def cpu_model() -> str:
    """The CPU's marketing name, e.g. ``AMD Ryzen 9 7950X 16-Core Processor``."""
    if sys.platform.startswith("linux"):
        try:
            text = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            text = ""
        for key in ("model name", "Hardware", "Model", "cpu model"):
            for line in text.splitlines():
                name, sep, value = line.partition(":")
                if sep and name.strip() == key and value.strip():
                    return value.strip()
    elif sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=5
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def read_hardware(probes: Sequence[GpuProbe] | None = None) -> HardwareInfo:
    """Read the facts now (blocking; use :func:`probe_hardware` from async code)."""
    memory = psutil.virtual_memory()
    cpu = CpuInfo(
        model=cpu_model(),
        physical_cores=psutil.cpu_count(logical=False),
        logical_cores=psutil.cpu_count(logical=True) or os.cpu_count(),
        architecture=platform.machine(),
    )
    gpus: list[GpuInfo] = []
    notes: list[str] = []
    for probe in default_gpu_probes() if probes is None else probes:
        try:
            gpus.extend(probe.probe())
        except GpuUnavailable as unavailable:
            if unavailable.note:
                notes.append(unavailable.note)
    return HardwareInfo(cpu, MemoryInfo(int(memory.total), int(memory.available)), tuple(gpus), tuple(notes))


async def probe_hardware(probes: Sequence[GpuProbe] | None = None) -> HardwareInfo:
    """:func:`read_hardware` off the event loop (NVML and /proc reads block)."""
    return await in_thread(read_hardware, probes)


def assumed(
    hardware: HardwareInfo, vram_free: int | None = None, ram_available: int | None = None
) -> HardwareInfo:
    """``hardware`` as if it had this much free VRAM (one GPU; 0: none) and available RAM, to
    plan for another machine or a busier one (``--vram`` / ``--ram`` on the command line)."""
    if ram_available is not None:
        total = max(ram_available, hardware.memory.total)
        hardware = replace(hardware, memory=MemoryInfo(total, ram_available))
    if vram_free is not None:
        gpus = (GpuInfo("assumed", 0, "GPU", vram_free, vram_free),) if vram_free > 0 else ()
        hardware = replace(hardware, gpus=gpus)
    return hardware
