"""Adding, editing and removing Ollama hosts (the config's ``backends``) without breaking mappings.

Each function returns a new, validated :class:`Config` (the caller saves it through the config
holder) or raises ``ValueError`` (pydantic's ``ValidationError`` included) with a message for the
user; the config passed in is never changed.
"""

from __future__ import annotations

from core.config.schema import Config, Mapping, OllamaBackend


def host_users(config: Config, name: str) -> list[str]:
    """The mappings that send requests to the host called ``name``."""
    return [m.name for m in config.mappings if name in m.backends]


def with_host(config: Config, host: OllamaBackend, *, replacing: str | None = None) -> Config:
    """``config`` with ``host`` added at the end, or put in place of the host called ``replacing``
    (a new name carries over to every mapping that used the old one)."""
    names = [b.name for b in config.backends]
    if host.name in names and host.name != replacing:
        raise ValueError(f"A host called '{host.name}' already exists: choose another name.")
    if replacing is None:
        backends = [*config.backends, host]
        mappings = config.mappings
    else:
        if replacing not in names:
            raise ValueError(f"There is no host called '{replacing}' any more.")
        backends = [host if b.name == replacing else b for b in config.backends]
        mappings = [_renamed(m, replacing, host.name) for m in config.mappings]
    return _validated(config, backends, mappings)


def without_host(config: Config, name: str) -> Config:
    """``config`` without the host called ``name``. Mappings stop using it; one left with no host
    goes to the first remaining host. The last host cannot be removed."""
    backends = [b for b in config.backends if b.name != name]
    if len(backends) == len(config.backends):
        raise ValueError(f"There is no host called '{name}'.")
    if not backends:
        raise ValueError("GateDeck needs at least one Ollama host: add another before removing this one.")
    mappings = []
    for mapping in config.mappings:
        kept = [b for b in mapping.backends if b != name] or [backends[0].name]
        mappings.append(mapping.model_copy(update={"backends": kept}))
    return _validated(config, backends, mappings)


def _renamed(mapping: Mapping, old: str, new: str) -> Mapping:
    if old == new or old not in mapping.backends:
        return mapping
    return mapping.model_copy(update={"backends": [new if b == old else b for b in mapping.backends]})


def _validated(config: Config, backends: list[OllamaBackend], mappings: list[Mapping]) -> Config:
    return Config.model_validate(
        config.model_copy(update={"backends": backends, "mappings": mappings}).model_dump()
    )
