"""What ``gatedeck setup`` recommends on three typical machines, as a table for the notes.

    python -m bench.setup_recommendations

The machines (free VRAM is what a desktop leaves of the card; available RAM what the OS and a
browser leave): a laptop without a GPU and 16 GiB of RAM, a desktop with an 8 GiB GPU and
32 GiB of RAM, and one with a 24 GiB GPU and 64 GiB of RAM. Ollama's defaults (f16 KV cache,
one request at a time); nothing installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config.schema import OllamaServerSettings
from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo
from core.setup.recommend import Recommendation, k_tokens, recommend

GIB = 2**30


@dataclass(frozen=True)
class Machine:
    name: str
    hardware: HardwareInfo


def _machine(name: str, ram: int, ram_free: float, vram: int = 0, vram_free: float = 0) -> Machine:
    gpus = (GpuInfo("NVIDIA", 0, f"{vram} GiB GPU", vram * GIB, int(vram_free * GIB)),) if vram else ()
    cpu = CpuInfo("8-core CPU", 8, 16, "x86_64")
    return Machine(name, HardwareInfo(cpu, MemoryInfo(ram * GIB, int(ram_free * GIB)), gpus))


MACHINES = (
    _machine("no GPU, 16 GiB RAM", ram=16, ram_free=12),
    _machine("8 GiB GPU, 32 GiB RAM", ram=32, ram_free=26, vram=8, vram_free=7.5),
    _machine("24 GiB GPU, 64 GiB RAM", ram=64, ram_free=56, vram=24, vram_free=23.5),
)


def _gib(n: int) -> str:
    return f"{n / GIB:.1f}"


def rows(machine: Machine) -> list[tuple[str, ...]]:
    recs: list[Recommendation] = recommend(machine.hardware, OllamaServerSettings())
    return [
        (
            machine.name,
            str(number),
            rec.model,
            rec.fit.placement.value,
            f"{rec.fit.layers_on_gpu}/{rec.fit.layers_total}",
            _gib(rec.fit.gpu_bytes),
            _gib(rec.fit.cpu_bytes),
            k_tokens(rec.num_ctx),
            rec.tools.value if rec.tools else "?",
            f"{rec.download_bytes / 1e9:.1f} GB",
        )
        for number, rec in enumerate(recs, 1)
    ]


def main() -> None:
    header = (
        "machine",
        "#",
        "model",
        "placement",
        "GPU layers",
        "VRAM GiB",
        "RAM GiB",
        "context",
        "tools",
        "download",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for machine in MACHINES:
        for row in rows(machine):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
