"""Will a model fit? Memory for weights plus KV cache, from the model's own metadata.

The estimate (all sizes in bytes)::

    n        = block_count                      repeating transformer blocks ("layers")
    offload  = n + 1                            Ollama's layer count: the blocks plus the output layer
    w_layer  = weights / offload                weights = the model file's size (its quantised
                                                tensors); spread evenly over the offloadable layers
    d_k      = key_length   or embedding_length / head_count
    d_v      = value_length or embedding_length / head_count
    kv       = n × num_ctx × parallel × head_count_kv × (d_k + d_v) × bytes_per_element
    kv_layer = kv / n
    overhead = 512 MiB on the GPU (CUDA/Metal context and compute-graph scratch), only when at
               least one layer is offloaded

    bytes_per_element (OLLAMA_KV_CACHE_TYPE): f16 = 2, q8_0 = 34/32, q4_0 = 18/32
    (q8_0 and q4_0 store blocks of 32 values plus one f16 scale).

With L layers on the GPU (0 ≤ L ≤ offload)::

    gpu = overhead + L × w_layer + min(L, n) × kv_layer          (0 when L = 0)
    cpu = weights + kv − (gpu − overhead)

With ``num_gpu`` unset (Ollama decides), L is the largest count whose ``gpu`` fits the free VRAM;
with ``num_gpu`` set, L = min(num_gpu, offload) and the estimate says whether that fits.
The verdict: ``full`` (every layer on the GPU), ``partial`` (L of offload layers) or ``cpu``.

It is an estimate: Ollama's own accounting adds per-architecture graph sizes and rounds memory
per GPU, so treat a fit within a few hundred MB of the limit as uncertain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from core.config.schema import OllamaServerSettings
from core.hardware.facts import HardwareInfo
from core.ollama.models import ModelDetails

if TYPE_CHECKING:
    from core.ollama.state import OllamaState

KvCacheType = Literal["f16", "q8_0", "q4_0"]

GPU_OVERHEAD = 512 * 1024 * 1024
BYTES_PER_ELEMENT: dict[str, Fraction] = {
    "f16": Fraction(2),
    "q8_0": Fraction(34, 32),
    "q4_0": Fraction(18, 32),
}


class Placement(StrEnum):
    FULL = "full"
    PARTIAL = "partial"
    CPU = "cpu"


@dataclass(frozen=True)
class ModelGeometry:
    """The numbers of a model the estimate needs."""

    name: str
    weights: int
    block_count: int
    embedding_length: int
    head_count: int
    head_count_kv: int
    key_length: int | None = None
    value_length: int | None = None

    @classmethod
    def from_details(cls, details: ModelDetails, weights: int) -> ModelGeometry:
        """From ``/api/show`` and the model's size; ``ValueError`` when metadata is missing."""
        needed = {
            "block_count": details.block_count,
            "embedding_length": details.embedding_length,
            "attention.head_count": details.head_count,
        }
        missing = [key for key, value in needed.items() if not value]
        if missing:
            raise ValueError(
                f"'{details.name}' does not report {', '.join(missing)} (architecture "
                f"'{details.architecture}'), so its memory cannot be estimated"
            )
        assert details.block_count and details.embedding_length and details.head_count
        return cls(
            name=details.name,
            weights=weights,
            block_count=details.block_count,
            embedding_length=details.embedding_length,
            head_count=details.head_count,
            head_count_kv=details.head_count_kv or details.head_count,
            key_length=details.key_length,
            value_length=details.value_length,
        )

    @property
    def offload_layers(self) -> int:
        return self.block_count + 1


@dataclass(frozen=True)
class FitEstimate:
    """Where a model would sit in memory, and whether it fits."""

    model: str
    num_ctx: int
    kv_cache_type: str
    weights: int
    kv_cache: int
    overhead: int
    layers_total: int
    layers_on_gpu: int
    gpu_bytes: int
    cpu_bytes: int
    vram_free: int
    ram_available: int
    placement: Placement
    requested_num_gpu: int | None = None

    @property
    def total(self) -> int:
        return self.gpu_bytes + self.cpu_bytes

    @property
    def fits_in_vram(self) -> bool:
        return self.gpu_bytes <= self.vram_free

    @property
    def fits_in_ram(self) -> bool:
        return self.cpu_bytes <= self.ram_available

    @property
    def fits(self) -> bool:
        return self.fits_in_vram and self.fits_in_ram

    def summary(self) -> str:
        """One line for people, e.g. ``partial: 25 of 29 layers on the GPU (5.6 GiB), 1.5 GiB in RAM``."""
        if self.placement is Placement.FULL:
            where = f"fits fully on the GPU: {_gib(self.gpu_bytes)} of {_gib(self.vram_free)} free VRAM"
        elif self.placement is Placement.PARTIAL:
            where = (
                f"partly on the GPU: {self.layers_on_gpu} of {self.layers_total} layers "
                f"({_gib(self.gpu_bytes)} VRAM), {_gib(self.cpu_bytes)} in RAM (slower)"
            )
        else:
            where = f"runs on the CPU: {_gib(self.cpu_bytes)} in RAM (slow)"
        problems = []
        if not self.fits_in_vram:
            problems.append(f"the requested {self.layers_on_gpu} GPU layers need more than the free VRAM")
        if not self.fits_in_ram:
            problems.append(f"only {_gib(self.ram_available)} RAM is available")
        tail = f"; does NOT fit: {'; '.join(problems)}" if problems else ""
        return f"{self.model} at num_ctx {self.num_ctx} ({self.kv_cache_type} KV cache): {where}{tail}"


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def kv_cache_bytes(
    geometry: ModelGeometry, num_ctx: int, kv_cache_type: str = "f16", parallel: int = 1
) -> int:
    """Bytes of K and V for ``num_ctx`` tokens (times ``parallel`` slots) over every layer."""
    head_dim = Fraction(geometry.embedding_length, geometry.head_count)
    d_k = geometry.key_length or head_dim
    d_v = geometry.value_length or head_dim
    per_element = BYTES_PER_ELEMENT[kv_cache_type]
    exact = geometry.block_count * num_ctx * parallel * geometry.head_count_kv * (d_k + d_v) * per_element
    return math.ceil(exact)


def estimate_fit(
    geometry: ModelGeometry,
    *,
    num_ctx: int,
    vram_free: int,
    ram_available: int,
    num_gpu: int | None = None,
    kv_cache_type: str = "f16",
    parallel: int = 1,
    overhead: int = GPU_OVERHEAD,
) -> FitEstimate:
    """Apply the formula in this module's docstring."""
    if kv_cache_type not in BYTES_PER_ELEMENT:
        raise ValueError(f"unknown KV cache type {kv_cache_type!r} (use f16, q8_0 or q4_0)")
    n = geometry.block_count
    offload = geometry.offload_layers
    kv = kv_cache_bytes(geometry, num_ctx, kv_cache_type, parallel)
    w_layer = Fraction(geometry.weights, offload)
    kv_layer = Fraction(kv, n)

    def gpu_for(layers: int) -> int:
        return 0 if layers == 0 else math.ceil(overhead + layers * w_layer + min(layers, n) * kv_layer)

    if num_gpu is not None and num_gpu >= 0:
        layers = min(num_gpu, offload)
    else:
        layers = 0
        for candidate in range(offload, 0, -1):
            if gpu_for(candidate) <= vram_free:
                layers = candidate
                break
    gpu = gpu_for(layers)
    cpu = max(0, math.ceil(geometry.weights + kv - layers * w_layer - min(layers, n) * kv_layer))
    placement = Placement.FULL if layers == offload else Placement.PARTIAL if layers else Placement.CPU
    return FitEstimate(
        model=geometry.name,
        num_ctx=num_ctx,
        kv_cache_type=kv_cache_type,
        weights=geometry.weights,
        kv_cache=kv,
        overhead=overhead if layers else 0,
        layers_total=offload,
        layers_on_gpu=layers,
        gpu_bytes=gpu,
        cpu_bytes=cpu,
        vram_free=vram_free,
        ram_available=ram_available,
        placement=placement,
        requested_num_gpu=num_gpu,
    )


def estimate_on(
    geometry: ModelGeometry,
    hardware: HardwareInfo,
    server: OllamaServerSettings,
    *,
    num_ctx: int,
    num_gpu: int | None = None,
) -> FitEstimate:
    """:func:`estimate_fit` on this machine's free memory with the Ollama server's settings
    (KV cache type, parallel slots): the estimate the window shows everywhere."""
    return estimate_fit(
        geometry,
        num_ctx=num_ctx,
        vram_free=hardware.vram_free,
        ram_available=hardware.memory.available,
        num_gpu=num_gpu,
        kv_cache_type=server.kv_cache_type or "f16",
        parallel=server.num_parallel or 1,
    )


async def estimate_for_model(
    ollama: OllamaState,
    model: str,
    server: OllamaServerSettings,
    *,
    num_ctx: int,
    num_gpu: int | None = None,
) -> FitEstimate:
    """Estimate for an installed model, from what the shared Ollama state knows (its details
    are asked once) and its hardware snapshot."""
    details = await ollama.details(model)  # raises ModelNotFound when Ollama does not have it
    installed = ollama.installed_model(model)
    geometry = ModelGeometry.from_details(details, installed.size if installed else 0)
    return estimate_on(geometry, await ollama.hardware(), server, num_ctx=num_ctx, num_gpu=num_gpu)
