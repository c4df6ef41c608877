"""Point Claude Code's mappings at the model the setup chose."""

from __future__ import annotations

from core.config.defaults import CLAUDE_TIERS
from core.config.schema import Config, Mapping, ModelOptions
from core.ollama.load_options import LOAD_OPTIONS, load_key


def map_claude_tiers(config: Config, model: str, num_ctx: int) -> Config:
    """``config`` with every mapping Claude Code uses (the opus/sonnet/haiku tiers and the
    catch-all ``*``, see :attr:`Mapping.is_claude`) on ``model`` at ``num_ctx``.

    They all get one set of load options — ``num_ctx`` and Ollama's defaults for the other
    runner options, which were chosen for the previous model — so switching tiers never makes
    Ollama load the model again. Per-request options (temperature, keep-alive) stay as they
    were; other mappings are untouched. A config without tier mappings gets them, ahead of
    any pattern so they match first.
    """
    load = {name: None for name in LOAD_OPTIONS} | {"num_ctx": num_ctx}
    mappings = [
        m.model_copy(update={"model": model, "options": m.options.model_copy(update=load)})
        if m.is_claude
        else m
        for m in config.mappings
    ]
    if not any(m.is_claude for m in config.mappings):
        tiers = [
            Mapping(
                name=name,
                model=model,
                backends=[config.backends[0].name],
                options=ModelOptions(num_ctx=num_ctx),
            )
            for name, _ in CLAUDE_TIERS
        ]
        first_pattern = next((i for i, m in enumerate(mappings) if m.is_pattern), len(mappings))
        mappings[first_pattern:first_pattern] = tiers
    return config.model_copy(update={"mappings": mappings})


def tiers_like(config: Config, probed: Mapping) -> list[str]:
    """The names of Claude's mappings that run ``probed``'s model on its backends with its load
    options — after :func:`map_claude_tiers`, every tier: a tool-call verdict on one is theirs too."""
    return [
        m.name
        for m in config.mappings
        if m.is_claude
        and m.model == probed.model
        and m.backends == probed.backends
        and load_key(m.options) == load_key(probed.options)
    ]


#: Model names Claude Code asks for, one per tier, to send the tool-call probe through a tier
#: mapping the way Claude Code would.
CLAUDE_CODE_NAMES = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "claude")


def probe_target(config: Config) -> str:
    """The model name to send the tool-call probe: a name Claude Code asks for (sonnet's first,
    its default tier) whose mapping is one of Claude's (exact names win, then patterns in order)."""
    for name in CLAUDE_CODE_NAMES:
        exact = next((m for m in config.mappings if not m.is_pattern and m.name == name), None)
        mapping = exact or next((m for m in config.mappings if m.is_pattern and m.matches(name)), None)
        if mapping is not None and mapping.is_claude:
            return name
    claude = next((m for m in config.mappings if m.is_claude and not m.is_pattern), None)
    if claude is None:
        raise ValueError("the config has no mapping Claude Code uses")
    return claude.name
