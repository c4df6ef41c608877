"""Which options make Ollama load a model again, and mappings that would make it do so.

Ollama keeps one loaded copy of a model per set of *runner* options (``api/types.go``,
``type Runner``). A request whose runner options differ from the loaded copy's makes Ollama
unload it and load it again (``server/sched.go``, ``needsReload``: it compares the two sets;
a request with a negative ``num_gpu``, Ollama's default, is served by any loaded copy, but a
copy loaded that way does not serve a request that names a layer count). The other options (temperature, ``num_predict``, ``stop``…)
are per request and cost nothing to change.

Two mappings on one model with different runner options — a smaller context for Claude Code's
haiku tier, say — therefore reload the model each time a client switches between them, and
Claude Code switches tiers all the time (titles, summaries, subagents). :func:`reload_groups`
finds such mappings; :func:`with_same_load_options` is the one-click fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.config.schema import Mapping, ModelOptions
from core.ollama.names import full_name

#: ModelOptions fields that are Ollama runner options (``draft_num_predict``, ``use_mmap`` are
#: runner options GateDeck does not set).
LOAD_OPTIONS: tuple[str, ...] = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread")

#: Ollama's context when neither the request nor ``OLLAMA_CONTEXT_LENGTH`` sets one. Newer Ollama
#: versions pick 4k, 32k or 256k by the GPU's memory; 4k is the one to plan for.
OLLAMA_DEFAULT_CTX = 4096


def effective_num_ctx(options: ModelOptions, server_context_length: int | None) -> int:
    """The context a mapping's requests get: its own, else the server's setting, else Ollama's."""
    return options.num_ctx or server_context_length or OLLAMA_DEFAULT_CTX


def runner_options(options: ModelOptions) -> dict[str, int]:
    """The runner options a mapping sets (those that decide how Ollama loads the model)."""
    values = options.model_dump(include=set(LOAD_OPTIONS))
    return {name: values[name] for name in LOAD_OPTIONS if values.get(name) is not None}


def load_key(options: ModelOptions) -> tuple[object, ...]:
    """What Ollama compares to decide whether the loaded copy serves a request."""
    values = options.model_dump()
    if (values.get("num_gpu") or 0) < 0:  # -1 is Ollama's default: as many layers as fit
        values["num_gpu"] = None
    return tuple(values.get(name) for name in LOAD_OPTIONS)


@dataclass(frozen=True)
class ReloadGroup:
    """Mappings on one model (on one backend) whose load options differ.

    Attributes:
        model: the Ollama model, with its tag.
        backend: the backend they share.
        mappings: the mapping names, in config order.
        differing: each load option that differs, with the value per mapping (config order).
    """

    model: str
    backend: str
    mappings: tuple[str, ...]
    differing: tuple[tuple[str, tuple[object, ...]], ...]

    def describe(self) -> str:
        parts = []
        for option, values in self.differing:
            users: dict[object, list[str]] = {}
            for mapping, value in zip(self.mappings, values, strict=True):
                users.setdefault(value, []).append(mapping)
            parts.append(
                f"{option} "
                + " vs ".join(f"{_shown(value)} ({', '.join(names)})" for value, names in users.items())
            )
        return (
            f"{', '.join(self.mappings)} use {self.model} with different load options "
            f"({'; '.join(parts)}): Ollama loads the model again each time a client switches between them"
        )


def _shown(value: object) -> str:
    return "default" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def reload_groups(mappings: Sequence[Mapping]) -> list[ReloadGroup]:
    """Every model that two or more mappings load with different runner options."""
    by_model: dict[tuple[str, str], list[Mapping]] = {}
    for mapping in mappings:
        for backend in mapping.backends:
            by_model.setdefault((full_name(mapping.model), backend), []).append(mapping)
    groups = []
    for (model, backend), users in by_model.items():
        if len({load_key(m.options) for m in users}) < 2:
            continue
        keys = [load_key(m.options) for m in users]
        differing = tuple(
            (name, tuple(key[i] for key in keys))
            for i, name in enumerate(LOAD_OPTIONS)
            if len({key[i] for key in keys}) > 1
        )
        groups.append(ReloadGroup(model, backend, tuple(m.name for m in users), differing))
    return groups


def with_same_load_options(mappings: Sequence[Mapping], model: str) -> list[Mapping]:
    """``mappings`` with every mapping on ``model`` given the same load options.

    The largest context among them wins (a smaller one would cut the others' prompts), and
    for the other options the first mapping's value that is set; per-request options
    (temperature, keep-alive) stay each mapping's own.
    """
    users = [m for m in mappings if full_name(m.model) == full_name(model)]
    if not users:
        return list(mappings)
    shared: dict[str, object] = {}
    contexts = [m.options.num_ctx for m in users if m.options.num_ctx]
    shared["num_ctx"] = max(contexts) if contexts else None
    for name in LOAD_OPTIONS[1:]:
        shared[name] = next(
            (getattr(m.options, name) for m in users if getattr(m.options, name) is not None), None
        )
    return [
        m.model_copy(update={"options": m.options.model_copy(update=shared)})
        if full_name(m.model) == full_name(model)
        else m
        for m in mappings
    ]
