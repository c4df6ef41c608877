"""Auto-tune's candidates and choice, and the client name a measurement asks for (no servers)."""

from __future__ import annotations

import asyncio

import pytest

from core.config.defaults import default_config
from core.config.schema import Config, Mapping, ModelOptions
from core.hardware.autotune import auto_tune, tune_candidates
from core.hardware.facts import CpuInfo, GpuInfo, HardwareInfo, MemoryInfo
from core.hardware.fit import ModelGeometry, estimate_fit
from core.hardware.measure import MeasureError, Measurement, sample_name

GIB = 2**30
LAPTOP = HardwareInfo(CpuInfo("i5", 2, 4, "x86_64"), MemoryInfo(16 * GIB, 9 * GIB))
DESKTOP = HardwareInfo(
    CpuInfo("Ryzen 9", 16, 32, "x86_64"),
    MemoryInfo(64 * GIB, 48 * GIB),
    (GpuInfo("NVIDIA", 0, "RTX 3050", 4 * GIB, 4 * GIB),),
)
QWEN = ModelGeometry("qwen2.5-coder:7b", 4_683_087_332, 28, 3584, 28, 4)


def test_sample_names_land_on_the_mapping_they_measure() -> None:
    config = default_config(default_model="qwen2.5-coder:7b")
    assert sample_name(config, "claude-*opus*") == "claude-opus"
    assert sample_name(config, "*") == "x"
    for mapping in config.mappings:
        landed = config.mapping_for(sample_name(config, mapping.name))
        assert landed is not None and landed.name == mapping.name
    exact = config.model_copy(update={"mappings": [Mapping(name="gpt-4o", model="m"), *config.mappings]})
    assert sample_name(exact, "gpt-4o") == "gpt-4o"


def test_a_pattern_hidden_behind_an_earlier_one_cannot_be_measured() -> None:
    config = Config(
        mappings=[Mapping(name="claude-*", model="a"), Mapping(name="claude-*sonnet*", model="b")]
    )
    with pytest.raises(MeasureError, match="earlier mapping catches every name"):
        sample_name(config, "claude-*sonnet*")
    with pytest.raises(MeasureError, match="no mapping named"):
        sample_name(config, "nope")


def test_without_a_gpu_only_threads_are_tried_current_settings_first() -> None:
    base = ModelOptions(num_ctx=32768)
    candidates = tune_candidates(base, None, LAPTOP)
    assert [(c.num_gpu, c.num_thread) for c in candidates] == [(None, None), (None, 2), (None, 4)]
    assert all(c.num_ctx == 32768 for c in candidates), "other options stay as they are"


def test_with_a_gpu_layer_counts_come_from_the_fit() -> None:
    fit = estimate_fit(QWEN, num_ctx=32768, vram_free=4 * GIB, ram_available=48 * GIB)
    assert fit.layers_on_gpu == 16  # see tests/gui/test_models_panel.py for the hand computation
    candidates = tune_candidates(ModelOptions(num_ctx=32768, num_thread=8), fit, DESKTOP)
    assert candidates[0] == ModelOptions(num_ctx=32768, num_thread=8)
    assert {c.num_gpu for c in candidates} <= {None, 16, 12}
    assert {c.num_thread for c in candidates} <= {8, 16, 32}
    assert len(candidates) == 6 and len(set(map(repr, candidates))) == 6


def measured(options: ModelOptions, speed: float, ttft: float = 0.2) -> Measurement:
    tokens = 65
    return Measurement("m", "m", "model", options, ttft, tokens, (tokens - 1) / speed, ttft + 1)


def test_the_fastest_trial_wins_and_a_failed_one_does_not_stop_the_others() -> None:
    speeds = {None: 10.0, 2: 14.0, 4: 12.0}
    seen: list[int | None] = []

    async def trial(options: ModelOptions) -> Measurement:
        if options.num_thread == 3:
            raise MeasureError("the gateway went away")
        return measured(options, speeds[options.num_thread])

    candidates = [ModelOptions(num_thread=n) for n in (None, 3, 2, 4)]
    result = asyncio.run(auto_tune(candidates, trial, lambda t: seen.append(t.options.num_thread)))
    assert seen == [None, 3, 2, 4]
    assert result.trials[1].error == "the gateway went away" and result.trials[1].result is None
    assert result.best is not None and result.best.options.num_thread == 2
    assert result.improves


def test_equal_speeds_prefer_the_quicker_first_token_and_nothing_measured_means_no_best() -> None:
    async def trial(options: ModelOptions) -> Measurement:
        return measured(options, 20.0, ttft=0.5 if options.num_thread is None else 0.1)

    result = asyncio.run(auto_tune([ModelOptions(), ModelOptions(num_thread=4)], trial))
    assert result.best is not None and result.best.options.num_thread == 4

    async def failing(options: ModelOptions) -> Measurement:
        raise MeasureError("no")

    nothing = asyncio.run(auto_tune([ModelOptions()], failing))
    assert nothing.best is None and not nothing.improves
