"""Auto-tune: try a few ``num_gpu``/``num_thread`` settings for a mapping and propose the fastest.

The candidates stay within what the machine can hold: GPU layers come from the fit estimate (the
most layers that fit the free VRAM, and a few less for headroom), threads from the CPU's cores.
The current settings are always tried first, so the proposal is compared with what the user has.
Each trial is one :func:`core.hardware.measure.measure`; the caller decides how a trial's options are put
in effect (GateDeck hot-applies them to the running gateway without saving them).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.config.schema import ModelOptions
from core.hardware.facts import HardwareInfo
from core.hardware.fit import FitEstimate, Placement
from core.hardware.measure import MeasureError, Measurement

RunTrial = Callable[[ModelOptions], Awaitable[Measurement]]
OnTrial = Callable[["Trial"], None]


@dataclass(frozen=True)
class Trial:
    """One candidate and how it did: a measurement, or the error that stopped it."""

    options: ModelOptions
    result: Measurement | None = None
    error: str = ""


@dataclass(frozen=True)
class TuneResult:
    """Every trial in the order run, and the fastest that worked (``None`` when none did)."""

    trials: tuple[Trial, ...]
    best: Trial | None

    @property
    def improves(self) -> bool:
        """True when the best trial is not the current settings (the first trial)."""
        return self.best is not None and bool(self.trials) and self.best is not self.trials[0]


def _dedupe(values: Sequence[int | None]) -> list[int | None]:
    out: list[int | None] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def gpu_layer_candidates(
    base: ModelOptions, fit: FitEstimate | None, hardware: HardwareInfo
) -> list[int | None]:
    """GPU layer counts worth trying: the current one, the most that fit, and some headroom."""
    if not hardware.gpus or fit is None:
        return [base.num_gpu]  # nothing to offload to: leave the setting alone
    most = fit.layers_on_gpu if fit.requested_num_gpu is None else None
    values: list[int | None] = [base.num_gpu]
    if most is not None and most > 0:
        values.append(most)
        if fit.placement is Placement.PARTIAL and most > 4:
            values.append(max(1, most * 3 // 4))  # fewer layers leave room for the KV cache
    return _dedupe(values)


def thread_candidates(base: ModelOptions, hardware: HardwareInfo) -> list[int | None]:
    """CPU thread counts worth trying: the current one, the physical cores, every logical core."""
    physical = hardware.cpu.physical_cores
    logical = hardware.cpu.logical_cores
    values: list[int | None] = [base.num_thread]
    if physical:
        values.append(physical)
    if logical and logical != physical:
        values.append(logical)
    if physical and physical >= 8:
        values.append(physical // 2)  # memory-bound decoding often peaks below every core
    return _dedupe(values)


def tune_candidates(
    base: ModelOptions, fit: FitEstimate | None, hardware: HardwareInfo, *, limit: int = 6
) -> list[ModelOptions]:
    """At most ``limit`` option sets to try, the current ``base`` first; other options unchanged."""
    combos = itertools.product(gpu_layer_candidates(base, fit, hardware), thread_candidates(base, hardware))
    out: list[ModelOptions] = []
    for num_gpu, num_thread in combos:
        options = base.model_copy(update={"num_gpu": num_gpu, "num_thread": num_thread})
        if options not in out:
            out.append(options)
        if len(out) >= limit:
            break
    return out


async def auto_tune(
    candidates: Sequence[ModelOptions], run_trial: RunTrial, on_trial: OnTrial | None = None
) -> TuneResult:
    """Measure each candidate in turn; a failed trial is recorded and the others still run.

    The best is the highest tokens/s; between equal speeds, the shorter time to first token.
    """
    trials: list[Trial] = []
    for options in candidates:
        try:
            trial = Trial(options, await run_trial(options))
        except MeasureError as exc:
            trial = Trial(options, error=str(exc))
        trials.append(trial)
        if on_trial is not None:
            on_trial(trial)
    worked = [t for t in trials if t.result is not None]
    return TuneResult(tuple(trials), max(worked, key=_speed) if worked else None)


def _speed(trial: Trial) -> tuple[float, float]:
    assert trial.result is not None
    return (round(trial.result.tokens_per_s, 1), -trial.result.ttft)
