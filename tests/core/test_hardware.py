"""Hardware facts: real psutil numbers, NVML when present, nothing (and no error) when absent."""

from __future__ import annotations

import sys
import types
from typing import Any

import psutil
import pytest

from core.hardware.facts import GpuInfo, GpuUnavailable, NvidiaProbe, probe_hardware, read_hardware


def test_cpu_and_memory_are_read_from_this_machine() -> None:
    hw = read_hardware(probes=[])
    assert hw.cpu.model and hw.cpu.architecture
    assert hw.cpu.logical_cores == psutil.cpu_count(logical=True)
    assert hw.cpu.physical_cores is None or 1 <= hw.cpu.physical_cores <= (hw.cpu.logical_cores or 1)
    assert hw.memory.total == psutil.virtual_memory().total
    assert 0 < hw.memory.available <= hw.memory.total
    assert hw.gpus == () and hw.vram_free == 0


def test_missing_nvml_library_means_no_gpus_and_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml → ImportError
    with pytest.raises(GpuUnavailable):
        NvidiaProbe().probe()
    hw = read_hardware()
    assert hw.gpus == ()


class _Memory:
    def __init__(self, total: int, free: int) -> None:
        self.total, self.free = total, free


class _NVMLError(Exception):
    pass


def fake_nvml(gpus: list[tuple[Any, int, int]], *, init_error: bool = False) -> types.ModuleType:
    """A stand-in for the pynvml module with the calls NvidiaProbe makes (no GPU on this machine)."""
    nvml = types.ModuleType("pynvml")
    calls: list[str] = []

    def init() -> None:
        calls.append("init")
        if init_error:
            raise _NVMLError("NVML Shared Library Not Found")

    nvml.nvmlInit = init  # type: ignore[attr-defined]
    nvml.nvmlShutdown = lambda: calls.append("shutdown")  # type: ignore[attr-defined]
    nvml.nvmlSystemGetDriverVersion = lambda: b"550.54.14"  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetCount = lambda: len(gpus)  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetHandleByIndex = lambda i: i  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetName = lambda h: gpus[h][0]  # type: ignore[attr-defined]
    nvml.nvmlDeviceGetMemoryInfo = lambda h: _Memory(gpus[h][1], gpus[h][2])  # type: ignore[attr-defined]
    nvml.calls = calls  # type: ignore[attr-defined]
    return nvml


def test_nvidia_gpus_are_listed_with_vram_and_driver() -> None:
    nvml = fake_nvml(
        [(b"NVIDIA GeForce RTX 4090", 25_757_220_864, 24_000_000_000), ("NVIDIA L4", 24 * 2**30, 2**30)]
    )
    hw = read_hardware(probes=[NvidiaProbe(nvml)])
    assert hw.gpus == (
        GpuInfo("NVIDIA", 0, "NVIDIA GeForce RTX 4090", 25_757_220_864, 24_000_000_000, "550.54.14"),
        GpuInfo("NVIDIA", 1, "NVIDIA L4", 24 * 2**30, 2**30, "550.54.14"),
    )
    assert hw.vram_free == 24_000_000_000 + 2**30
    assert nvml.calls == ["init", "shutdown"]  # type: ignore[attr-defined]


def test_nvml_without_a_driver_means_no_gpus() -> None:
    hw = read_hardware(probes=[NvidiaProbe(fake_nvml([], init_error=True))])
    assert hw.gpus == ()


def test_another_vendor_is_one_more_probe() -> None:
    class OtherVendor:
        vendor = "AMD"

        def probe(self) -> list[GpuInfo]:
            return [GpuInfo("AMD", 0, "Radeon RX 7900 XTX", 24 * 2**30, 20 * 2**30)]

    class Broken:
        vendor = "Broken"

        def probe(self) -> list[GpuInfo]:
            raise GpuUnavailable("Broken GPUs need a driver update")

    hw = read_hardware(probes=[OtherVendor(), Broken()])
    assert [g.name for g in hw.gpus] == ["Radeon RX 7900 XTX"]
    assert hw.notes == ("Broken GPUs need a driver update",)


async def test_probe_runs_off_the_event_loop() -> None:
    hw = await probe_hardware(probes=[])
    assert hw.memory.total > 0
