"""Fit estimate against cases computed by hand from the formula in core/hardware/fit.py."""

from __future__ import annotations

import pytest

from core.config.schema import OllamaServerSettings
from core.hardware.facts import CpuInfo, HardwareInfo, MemoryInfo
from core.hardware.fit import (
    GPU_OVERHEAD,
    ModelGeometry,
    Placement,
    estimate_fit,
    estimate_for_model,
    kv_cache_bytes,
)
from core.ollama.state import OllamaState
from tests.fakes.fake_ollama import FakeOllama

GIB = 2**30

# llama3.2:3b as Ollama reports it: 28 blocks, 8 KV heads, key/value length 128.
LLAMA = ModelGeometry("llama3.2:3b", 2_019_393_189, 28, 3072, 24, 8, 128, 128)
# qwen2.5-coder:7b: 28 blocks, 3584 / 28 heads = head dim 128 (no key_length reported), 4 KV heads.
QWEN = ModelGeometry("qwen2.5-coder:7b", 4_683_087_332, 28, 3584, 28, 4)


def test_kv_cache_by_hand() -> None:
    # 28 layers × 8192 tokens × 8 KV heads × (128 + 128) × 2 bytes
    assert kv_cache_bytes(LLAMA, 8192) == 939_524_096  # 896 MiB
    # 28 × 32768 × 4 × (128 + 128) × 2
    assert kv_cache_bytes(QWEN, 32768) == 1_879_048_192
    # q8_0: 34 bytes per 32 values; q4_0: 18 per 32
    assert kv_cache_bytes(QWEN, 32768, "q8_0") == 998_244_352
    assert kv_cache_bytes(QWEN, 32768, "q4_0") == 528_482_304
    # four parallel slots hold four contexts
    assert kv_cache_bytes(LLAMA, 8192, parallel=4) == 4 * 939_524_096


def test_small_model_fits_fully() -> None:
    fit = estimate_fit(LLAMA, num_ctx=8192, vram_free=8 * GIB, ram_available=16 * GIB)
    assert fit.placement is Placement.FULL
    assert (fit.layers_on_gpu, fit.layers_total) == (29, 29)
    # 512 MiB overhead + 2 019 393 189 weights + 939 524 096 KV
    assert fit.gpu_bytes == 3_495_788_197
    assert fit.cpu_bytes == 0
    assert fit.fits and "fits fully on the GPU" in fit.summary()


def test_large_context_spills_layers_to_ram() -> None:
    fit = estimate_fit(QWEN, num_ctx=32768, vram_free=6 * GIB, ram_available=16 * GIB)
    # per layer: 4 683 087 332 / 29 = 161 485 770.07 weights + 1 879 048 192 / 28 = 67 108 864 KV
    # 25 layers: 536 870 912 + 25 × 228 594 634.07 = 6 251 736 763.7 ≤ 6 442 450 944
    # 26 layers: 6 480 331 397.8 > 6 GiB
    assert fit.placement is Placement.PARTIAL
    assert fit.layers_on_gpu == 25
    assert fit.gpu_bytes == 6_251_736_764
    # the rest: 4 683 087 332 + 1 879 048 192 − 25 × 228 594 634.07 = 847 269 672.3
    assert fit.cpu_bytes == 847_269_673
    assert fit.fits
    assert "25 of 29 layers" in fit.summary()


def test_quantised_kv_cache_lets_it_fit() -> None:
    fit = estimate_fit(QWEN, num_ctx=32768, vram_free=6 * GIB, ram_available=16 * GIB, kv_cache_type="q8_0")
    # 536 870 912 + 4 683 087 332 + 998 244 352 = 6 218 202 596 ≤ 6 GiB
    assert fit.placement is Placement.FULL and fit.gpu_bytes == 6_218_202_596


def test_no_gpu_runs_on_cpu() -> None:
    fit = estimate_fit(LLAMA, num_ctx=8192, vram_free=0, ram_available=16 * GIB)
    assert fit.placement is Placement.CPU
    assert (fit.gpu_bytes, fit.overhead, fit.layers_on_gpu) == (0, 0, 0)
    assert fit.cpu_bytes == 2_019_393_189 + 939_524_096
    assert "runs on the CPU" in fit.summary()


def test_tiny_vram_holds_two_layers() -> None:
    # 1 GiB − 512 MiB overhead = 536 870 912 → 2 layers of 228 594 634.07
    fit = estimate_fit(QWEN, num_ctx=32768, vram_free=GIB, ram_available=16 * GIB)
    assert fit.layers_on_gpu == 2
    # less than the overhead alone: nothing on the GPU
    assert (
        estimate_fit(QWEN, num_ctx=32768, vram_free=GPU_OVERHEAD, ram_available=16 * GIB).layers_on_gpu == 0
    )


def test_requested_num_gpu() -> None:
    ten = estimate_fit(QWEN, num_ctx=32768, vram_free=6 * GIB, ram_available=16 * GIB, num_gpu=10)
    # 536 870 912 + 10 × 228 594 634.07 = 2 822 817 252.7
    assert (ten.layers_on_gpu, ten.gpu_bytes, ten.placement, ten.fits) == (
        10,
        2_822_817_253,
        Placement.PARTIAL,
        True,
    )
    everything = estimate_fit(QWEN, num_ctx=32768, vram_free=2 * GIB, ram_available=16 * GIB, num_gpu=999)
    assert everything.layers_on_gpu == 29 and everything.placement is Placement.FULL
    assert not everything.fits_in_vram and not everything.fits
    assert "does NOT fit" in everything.summary()
    assert estimate_fit(
        QWEN, num_ctx=2048, vram_free=24 * GIB, ram_available=16 * GIB, num_gpu=0
    ).placement is (Placement.CPU)


def test_not_enough_ram() -> None:
    fit = estimate_fit(QWEN, num_ctx=32768, vram_free=0, ram_available=4 * GIB)
    assert not fit.fits_in_ram and "RAM is available" in fit.summary()


def test_unknown_kv_type_is_refused() -> None:
    with pytest.raises(ValueError, match="q8_0"):
        estimate_fit(LLAMA, num_ctx=2048, vram_free=0, ram_available=GIB, kv_cache_type="q5_1")


async def test_estimate_reads_metadata_from_ollama(fake_ollama: FakeOllama) -> None:
    hardware = HardwareInfo(CpuInfo("test", 8, 16, "x86_64"), MemoryInfo(32 * GIB, 16 * GIB))
    state = OllamaState(fake_ollama.url, read_hardware=lambda: hardware)
    try:
        llama = await estimate_for_model(state, "llama3.2:3b", OllamaServerSettings(), num_ctx=8192)
        q4 = OllamaServerSettings(kv_cache_type="q4_0")
        qwen = await estimate_for_model(state, "qwen2.5-coder:7b", q4, num_ctx=32768)
    finally:
        await state.aclose()
    # no GPU in this HardwareInfo: everything in RAM, numbers as computed above
    assert (llama.placement, llama.cpu_bytes) == (Placement.CPU, 2_019_393_189 + 939_524_096)
    assert qwen.kv_cache == 528_482_304 and qwen.weights == 4_683_087_332
