"""Which models to recommend on this machine, at which context: the fit rules, in one place.

A model is worth recommending when it fits at :data:`CLAUDE_CODE_MIN_CONTEXT` (Claude Code's own
prompt is ~30k tokens). Its context is then the largest that keeps it where it sits: a model that
is all on the GPU at 32k gets as much context as still fits on the GPU; one split between GPU and
CPU keeps its GPU layer count (each layer moved to the CPU slows every token).
The list holds the models of GateDeck's table first (installed ones among them, without a
download), ordered: all on the GPU before split before CPU, then reliable tool calling before
the rest, then the larger model (more parameters, better answers). Installed models that are not
in the table come after all of them, in the same order, as an untested tail
(:attr:`Recommendation.untested`): nothing is known of their tool calling, so a model known to
call tools reliably is the better advice even when it is split between GPU and CPU.

:func:`rate` is the badge the Models panel and ``gatedeck hw --fit`` show for an estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from core.config.schema import CLAUDE_MIN_CTX, OllamaServerSettings
from core.errors import GateDeckError
from core.hardware.facts import HardwareInfo
from core.hardware.fit import FitEstimate, ModelGeometry, Placement, estimate_on
from core.ollama.models import ModelDetails
from core.ollama.names import full_name
from core.setup.catalog import CATALOG, CatalogModel, ToolCalling, find

CLAUDE_CODE_MIN_CONTEXT = CLAUDE_MIN_CTX
#: Contexts are tried in steps of this many tokens.
CONTEXT_STEP = 8192
#: RAM a context larger than the minimum must leave free for the rest of the machine.
RAM_HEADROOM = 2 * 2**30
#: VRAM a context larger than the minimum must leave free: the estimate is uncertain by a few
#: hundred MB (see :mod:`core.hardware.fit`), and a model that no longer fits is split.
VRAM_HEADROOM = 512 * 2**20

_PLACEMENT_RANK = {Placement.FULL: 0, Placement.PARTIAL: 1, Placement.CPU: 2}
_TOOLS_RANK = {ToolCalling.RELIABLE: 0, ToolCalling.MOSTLY: 1, None: 2, ToolCalling.POOR: 3}


class NotRecommendable(GateDeckError):
    """A model asked for by name that the setup cannot use here; the message says why."""


class FitLevel(StrEnum):
    GOOD = "good"
    SO_SO = "so-so"
    BAD = "bad"


@dataclass(frozen=True)
class FitRating:
    """A fit estimate as a badge: ``label`` (e.g. ``✓ GPU @ 32k``) and how good it is."""

    label: str
    level: FitLevel


@dataclass(frozen=True)
class Recommendation:
    """A model to offer, where it would sit, and why.

    Attributes:
        model: the Ollama model name.
        catalog: its entry in the table, or ``None`` for an installed model not in it.
        installed: already on the Ollama server.
        download_bytes: what pulling it downloads (0 when installed).
        num_ctx: the context it gets here (at least :data:`CLAUDE_CODE_MIN_CONTEXT`).
        fit: the memory estimate at ``num_ctx``.
        tools: how reliably it calls tools (``None``: not known).
        reason: one line: where it sits and what it is good at.
    """

    model: str
    catalog: CatalogModel | None
    installed: bool
    download_bytes: int
    num_ctx: int
    fit: FitEstimate
    tools: ToolCalling | None
    reason: str

    @property
    def untested(self) -> bool:
        """Installed but not in GateDeck's table: its tool calling is unknown until probed."""
        return self.catalog is None


def k_tokens(num_ctx: int) -> str:
    """``32768`` → ``32k``."""
    return f"{num_ctx // 1024}k" if num_ctx % 1024 == 0 else f"{num_ctx:,}"


def rate(fit: FitEstimate) -> FitRating:
    """The badge rule: all on the GPU is good, split or CPU so-so, not fitting bad."""
    at = f" @ {k_tokens(fit.num_ctx)}"
    if not fit.fits:
        return FitRating(f"✗ too big{at}", FitLevel.BAD)
    if fit.placement is Placement.FULL:
        return FitRating(f"✓ GPU{at}", FitLevel.GOOD)
    if fit.placement is Placement.PARTIAL:
        return FitRating(f"◐ {fit.layers_on_gpu}/{fit.layers_total} layers GPU{at}", FitLevel.SO_SO)
    return FitRating(f"✓ CPU (RAM){at}", FitLevel.SO_SO)


def choose_context(
    geometry: ModelGeometry,
    hardware: HardwareInfo,
    server: OllamaServerSettings,
    *,
    floor: int = CLAUDE_CODE_MIN_CONTEXT,
    ceiling: int | None = None,
) -> FitEstimate | None:
    """The estimate at the largest context that keeps the model where it sits at ``floor``.

    Contexts go up in :data:`CONTEXT_STEP` steps to ``ceiling`` (the model's trained context);
    a step is taken while the model keeps every GPU layer it had at ``floor``, still fits, and
    leaves :data:`RAM_HEADROOM` of RAM and :data:`VRAM_HEADROOM` of VRAM. ``None`` when even
    ``floor`` does not fit in RAM + VRAM.
    """
    best = estimate_on(geometry, hardware, server, num_ctx=floor)
    if not best.fits:
        return None
    top = floor if ceiling is None else max(floor, ceiling)
    candidates = list(range((floor // CONTEXT_STEP + 1) * CONTEXT_STEP, top, CONTEXT_STEP))
    if top > floor:
        candidates.append(top)
    for num_ctx in candidates:
        fit = estimate_on(geometry, hardware, server, num_ctx=num_ctx)
        keeps_place = fit.placement is best.placement and fit.layers_on_gpu == best.layers_on_gpu
        room = fit.cpu_bytes + RAM_HEADROOM <= fit.ram_available and (
            fit.layers_on_gpu == 0 or fit.gpu_bytes + VRAM_HEADROOM <= fit.vram_free
        )
        if not (keeps_place and fit.fits and room):
            break
        best = fit
    return best


def _where(fit: FitEstimate) -> str:
    if fit.placement is Placement.FULL:
        return "all on the GPU"
    if fit.placement is Placement.PARTIAL:
        return f"split: {fit.layers_on_gpu} of {fit.layers_total} layers on the GPU (slower)"
    return "on the CPU (slow)"


def _reason(fit: FitEstimate, entry: CatalogModel | None, installed: bool, tools: ToolCalling | None) -> str:
    parts = [f"{_where(fit)} at {k_tokens(fit.num_ctx)} context"]
    if installed:
        parts.append("already installed")
    if entry is not None:
        parts.append(entry.note)
    elif tools is None:
        parts.append("not in GateDeck's table: its tool calling is untested (the probe checks it)")
    return "; ".join(parts)


def _candidate(
    name: str,
    geometry: ModelGeometry,
    max_context: int | None,
    entry: CatalogModel | None,
    installed: bool,
    hardware: HardwareInfo,
    server: OllamaServerSettings,
) -> Recommendation | None:
    ceiling = max_context or CLAUDE_CODE_MIN_CONTEXT
    if ceiling < CLAUDE_CODE_MIN_CONTEXT:
        return None
    fit = choose_context(geometry, hardware, server, ceiling=ceiling)
    if fit is None:
        return None
    tools = entry.tools if entry is not None else None
    return Recommendation(
        model=name,
        catalog=entry,
        installed=installed,
        download_bytes=0 if installed or entry is None else entry.download_bytes,
        num_ctx=fit.num_ctx,
        fit=fit,
        tools=tools,
        reason=_reason(fit, entry, installed, tools),
    )


def _installed_candidate(
    name: str, details: ModelDetails, size: int, hardware: HardwareInfo, server: OllamaServerSettings
) -> Recommendation | None:
    if details.capabilities and not details.supports_tools:
        return None  # embedding models, and chat models whose template has no tools
    try:
        geometry = ModelGeometry.from_details(details, size)
    except ValueError:
        return None
    entry = find(name)
    return _candidate(name, geometry, details.context_length, entry, True, hardware, server)


def _order(rec: Recommendation) -> tuple[int, int, int]:
    return (_PLACEMENT_RANK[rec.fit.placement], _TOOLS_RANK[rec.tools], -rec.fit.weights)


def recommend(
    hardware: HardwareInfo,
    server: OllamaServerSettings,
    installed: Sequence[tuple[str, ModelDetails, int]] = (),
    *,
    limit: int = 3,
) -> list[Recommendation]:
    """The best ``limit`` models of the table for Claude Code here, then any other installed
    model that fits: installed table models ranked below them, then the untested tail.

    ``installed`` is each installed model's name, ``/api/show`` details and size. Nothing that
    does not fit at :data:`CLAUDE_CODE_MIN_CONTEXT` is listed.
    """
    have = {full_name(name) for name, _, _ in installed}
    candidates: list[Recommendation] = []
    for name, details, size in installed:
        rec = _installed_candidate(name, details, size, hardware, server)
        if rec is not None:
            candidates.append(rec)
    for entry in CATALOG:
        if full_name(entry.name) in have:
            continue
        rec = _candidate(entry.name, entry.geometry, entry.max_context, entry, False, hardware, server)
        if rec is not None:
            candidates.append(rec)
    ranked = sorted(candidates, key=_order)
    tested = [rec for rec in ranked if not rec.untested]
    untested = [rec for rec in ranked if rec.untested]  # all installed: only those can be untested
    return tested[:limit] + [rec for rec in tested[limit:] if rec.installed] + untested


def recommendation_for(
    name: str,
    hardware: HardwareInfo,
    server: OllamaServerSettings,
    installed: Sequence[tuple[str, ModelDetails, int]] = (),
) -> Recommendation:
    """The recommendation for one model the user names (installed, or in the table).

    Raises:
        NotRecommendable: it is neither installed nor in the table, does not call tools, cannot
            hold Claude Code's prompt, or does not fit here at that context.
    """
    wanted = full_name(name)
    mine = next(((n, d, size) for n, d, size in installed if full_name(n) == wanted), None)
    entry = find(name)
    if mine is not None:
        _, details, size = mine
        if details.capabilities and not details.supports_tools:
            raise NotRecommendable(
                f"'{name}' does not call tools (Ollama lists it as {', '.join(details.capabilities)}), "
                "and Claude Code works only through tool calls."
            )
        try:
            geometry = ModelGeometry.from_details(details, size)
        except ValueError as exc:
            raise NotRecommendable(str(exc)) from None
        max_context = details.context_length
    elif entry is not None:
        geometry, max_context = entry.geometry, entry.max_context
    else:
        known = ", ".join(model.name for model in CATALOG)
        raise NotRecommendable(
            f"'{name}' is not installed and not in GateDeck's table of coding models. "
            f"Pull it first (gatedeck models pull {name}), or choose one of: {known}."
        )
    if max_context is not None and max_context < CLAUDE_CODE_MIN_CONTEXT:
        raise NotRecommendable(
            f"'{name}' was trained for {max_context:,} tokens of context; Claude Code needs "
            f"{CLAUDE_CODE_MIN_CONTEXT:,}."
        )
    rec = _candidate(name, geometry, max_context, entry, mine is not None, hardware, server)
    if rec is None:
        fit = estimate_on(geometry, hardware, server, num_ctx=CLAUDE_CODE_MIN_CONTEXT)
        raise NotRecommendable(f"'{name}' does not fit on this machine: {fit.summary()}")
    return rec
