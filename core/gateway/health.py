"""Is the gateway alive, do its Ollama backends answer, and which mapped models are missing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.config.schema import Config
from core.errors import OllamaError
from core.ollama.client import OllamaClient, shared_tls_context
from core.ollama.names import full_name, same_model


@dataclass(frozen=True)
class BackendHealth:
    """One Ollama backend as the gateway sees it."""

    name: str
    url: str
    reachable: bool
    version: str = ""
    error: str = ""  # why it is not reachable, with the fix (an OllamaError message)
    installed: tuple[str, ...] = ()


@dataclass(frozen=True)
class MissingModel:
    """A mapping whose Ollama model is not installed on one of its backends."""

    mapping: str
    model: str
    backend: str


@dataclass(frozen=True)
class GatewayHealth:
    """Gateway liveliness plus what it depends on.

    Attributes:
        live: ``/health/liveliness`` answered 200; ``None`` when the gateway is not running.
        detail: why it is not live, when it is not.
        backends: each Ollama backend, reachable or not.
        missing: mapped models not installed on a reachable backend.
    """

    live: bool | None
    detail: str
    backends: tuple[BackendHealth, ...]
    missing: tuple[MissingModel, ...]

    @property
    def ok(self) -> bool:
        return self.live is not False and all(b.reachable for b in self.backends) and not self.missing


async def check_backend(name: str, url: str, per_request_s: float = 3.0) -> BackendHealth:
    """Ask one Ollama server for its version and installed models."""
    try:
        async with OllamaClient(
            url, timeout=per_request_s, connect_timeout=min(per_request_s, 2.0)
        ) as client:
            version = await client.version()
            installed = tuple(m.name for m in await client.list_models())
    except OllamaError as exc:
        return BackendHealth(name=name, url=url, reachable=False, error=str(exc))
    return BackendHealth(name=name, url=url, reachable=True, version=version, installed=installed)


async def check_backends(config: Config, per_request_s: float = 3.0) -> list[BackendHealth]:
    """Every backend of ``config``, asked at the same time."""
    return list(await asyncio.gather(*(check_backend(b.name, b.url, per_request_s) for b in config.backends)))


def installed_by_backend(backends: Iterable[BackendHealth]) -> dict[str, list[str]]:
    return {b.name: list(b.installed) for b in backends if b.reachable}


#: What ``/api/show`` said a model can do, by (Ollama address, full model name).
ShownCapabilities = dict[tuple[str, str], tuple[str, ...]]


async def model_capabilities(
    config: Config,
    installed: Mapping[str, Sequence[str]],
    per_request_s: float = 3.0,
    known: ShownCapabilities | None = None,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """What Ollama says each installed model can do (``completion``, ``embedding``,
    ``thinking``...), by backend name, then the model as each mapping spells it and as
    ``/api/tags`` names it (a request for an installed model by its own name is checked too).

    Only installed models are asked about (one ``/api/show`` each, at the same time); a model
    whose capabilities Ollama does not list (an older Ollama, or no answer) is left out:
    nothing is known about it. ``known`` holds earlier answers, which are not asked again, and
    gets the new ones (the caller empties it when the installed models may have changed).
    """
    known = {} if known is None else known
    # (backend name, full model name) → the model as each mapping spells it, and as Ollama does
    asks: dict[tuple[str, str], list[str]] = {}
    for mapping in config.mappings:
        for name in mapping.backends:
            if any(same_model(mapping.model, model) for model in installed.get(name, ())):
                spellings = asks.setdefault((name, full_name(mapping.model)), [])
                if mapping.model not in spellings:
                    spellings.append(mapping.model)
    for backend in config.backends:
        for model in installed.get(backend.name, ()):
            spellings = asks.setdefault((backend.name, full_name(model)), [])
            if model not in spellings:
                spellings.append(model)

    async def capabilities_of(url: str, model: str) -> tuple[str, ...]:
        if (url, model) in known:
            return known[(url, model)]
        try:
            async with OllamaClient(
                url, timeout=per_request_s, connect_timeout=min(per_request_s, 2.0)
            ) as client:
                shown = tuple((await client.show(model)).capabilities)
        except OllamaError:
            return ()
        if shown:
            known[(url, model)] = shown
        return shown

    answers = await asyncio.gather(
        *(capabilities_of(config.backend(name).url, model) for (name, model) in asks)
    )
    found: dict[str, dict[str, tuple[str, ...]]] = {}
    for ((name, _), spellings), capabilities in zip(asks.items(), answers, strict=True):
        if capabilities:
            for spelling in spellings:
                found.setdefault(name, {})[spelling] = capabilities
    return found


def cannot_think(capabilities: Mapping[str, Mapping[str, Sequence[str]]]) -> dict[str, list[str]]:
    """Mapped models, by backend name, that Ollama says cannot think.

    Claude Code asks for thinking whatever the model, and Ollama refuses the whole request for a
    model without the capability (HTTP 400).
    """
    found: dict[str, list[str]] = {}
    for name, models in capabilities.items():
        for model, can in models.items():
            if "completion" in can and "thinking" not in can:
                found.setdefault(name, []).append(model)
    return found


async def models_that_cannot_think(
    config: Config, installed: Mapping[str, Sequence[str]], per_request_s: float = 3.0
) -> dict[str, list[str]]:
    """Mapped models, by backend name, that Ollama says cannot think (asked now)."""
    return cannot_think(await model_capabilities(config, installed, per_request_s))


def missing_models(config: Config, installed: Mapping[str, Sequence[str]]) -> list[MissingModel]:
    """Mapped models not installed on a backend whose model list is known."""
    missing: list[MissingModel] = []
    for mapping in config.mappings:
        for backend in mapping.backends:
            if backend not in installed:
                continue  # unreachable: reported as such, not as N missing models
            if not any(same_model(mapping.model, have) for have in installed[backend]):
                missing.append(MissingModel(mapping=mapping.name, model=mapping.model, backend=backend))
    return missing


async def check_liveliness(base_url: str, per_request_s: float = 3.0) -> tuple[bool, str]:
    """``(True, "")`` when the gateway answers ``/health/liveliness``, else ``(False, why)``."""
    import httpx  # here, not at the top: the window paints before httpx loads

    try:
        async with httpx.AsyncClient(timeout=per_request_s, verify=shared_tls_context()) as client:
            response = await client.get(f"{base_url}/health/liveliness")
    except httpx.HTTPError as exc:
        return False, f"the gateway at {base_url} does not answer ({type(exc).__name__}: {exc})"
    if response.status_code != 200:
        return False, f"the gateway at {base_url} answered HTTP {response.status_code} to its health check"
    return True, ""


async def check_health(config: Config, gateway_url: str | None, per_request_s: float = 3.0) -> GatewayHealth:
    """The whole picture; ``gateway_url`` is ``None`` when the gateway is not running."""
    backends_task = asyncio.ensure_future(check_backends(config, per_request_s))
    live: bool | None = None
    detail = ""
    if gateway_url is not None:
        live, detail = await check_liveliness(gateway_url, per_request_s)
    backends = await backends_task
    missing = missing_models(config, installed_by_backend(backends))
    return GatewayHealth(live=live, detail=detail, backends=tuple(backends), missing=tuple(missing))
