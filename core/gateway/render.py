"""GateDeck's config rendered once, typed: the deployments the gateway serves and how names reach them.

Pure functions, no LiteLLM import. :func:`render` makes a :class:`RenderedGateway` of typed
deployments (:mod:`core.gateway.deployments`); LiteLLM's proxy config
(:meth:`RenderedGateway.litellm_config`) and the fast path's plan
(:class:`core.fastpath.plan.DirectPlan`) are both built from it. The same rendering feeds the
embedded gateway (keys resolved in memory) and ``gatedeck export-litellm-config`` (keys
referenced as ``os.environ/NAME``).

A mapping becomes one deployment per backend. Installed Ollama models are also served under
their own name and ``ollama/<name>``, and an ``ollama/*`` wildcard per backend catches models
pulled after the list was rendered.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.config.schema import CloudModel, Config, OllamaBackend
from core.config.schema import Mapping as ModelMapping
from core.gateway.deployments import CloudDeployment, Deployment, OllamaDeployment, ollama_keep_alive
from core.ollama.load_options import effective_num_ctx

#: Where a key comes from in an exported config; LiteLLM resolves ``os.environ/NAME`` at load.
ENV_REF = "os.environ/"
#: The environment variable the exported config reads the gateway key from.
EXPORT_MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
OLLAMA_WILDCARD = "ollama/*"

_PROVIDER_KEY_ENV = {
    "anthropic": "ANTHROPIC_API_KEY",
    "openai": "OPENAI_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "groq": "GROQ_API_KEY",
    "mistral": "MISTRAL_API_KEY",
}

CloudKeyLookup = Callable[[CloudModel], str | None]


def cloud_key_env(entry: CloudModel) -> str:
    """The environment variable an exported config reads ``entry``'s key from."""
    return entry.api_key_env or _PROVIDER_KEY_ENV[entry.provider]


@dataclass(frozen=True)
class RouteTable:
    """How a requested model name lands on a deployment group, in GateDeck's order.

    Exact names (mappings, installed models, cloud entries) first, then patterns in config
    order (``fnmatch`` wildcards ``* ? [..]``, matching the whole name). LiteLLM's own wildcard
    routing sorts patterns by length and matches prefixes, so the embedded gateway resolves
    names with this table before LiteLLM routes (see ``core.gateway.engine``).
    ``ollama/<name>`` is never pattern-matched: it means that Ollama model.
    """

    exact: frozenset[str] = frozenset()
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def resolve(self, requested: str) -> str | None:
        """The group to route ``requested`` to, or ``None`` to leave the name as it is."""
        if requested in self.exact or requested.startswith("ollama/"):
            return None
        for name, regex in self.patterns:
            if regex.match(requested):
                return name
        return None

    def lands_on(self, requested: str) -> str | None:
        """The group a request for ``requested`` uses, or ``None`` when nothing serves it."""
        if requested in self.exact:
            return requested
        resolved = self.resolve(requested)
        if resolved is None and requested.startswith("ollama/"):
            return OLLAMA_WILDCARD
        return resolved


@dataclass(frozen=True)
class RenderedGateway:
    """What the gateway serves, typed, and how requested names reach it.

    Attributes:
        deployments: every deployment, in the order LiteLLM's model list holds them.
        routes: GateDeck's name resolution (exact names, then patterns in config order).
        master_key: the gateway key as LiteLLM reads it (``os.environ/NAME`` when exported).
        fallbacks: each group's fallback groups, for groups that have any.
        routing_strategy: how LiteLLM chooses among a group's deployments.
        num_retries: LiteLLM's retries on a group's other deployments.
        request_timeout_s: how long a backend may take.
        notes: what the rendering could not do, for the user.
        direct_path: answer Ollama-only groups without LiteLLM (:mod:`core.fastpath.route`).
        receive_timeout_s: how long a connection may take to send a whole request.
        max_body_bytes: the largest request body accepted.
    """

    deployments: tuple[Deployment, ...]
    routes: RouteTable
    master_key: str = field(repr=False)
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    routing_strategy: str = "simple-shuffle"
    num_retries: int = 0
    request_timeout_s: float = 600.0
    notes: list[str] = field(default_factory=list)
    direct_path: bool = True
    receive_timeout_s: float = 10.0
    max_body_bytes: int = 32 * 1024 * 1024

    @property
    def model_list(self) -> list[dict[str, Any]]:
        """LiteLLM's ``model_list`` (a fresh copy each time)."""
        return [deployment.litellm_entry() for deployment in self.deployments]

    @property
    def router_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "routing_strategy": self.routing_strategy,
            "num_retries": self.num_retries,
        }
        if self.fallbacks:
            settings["fallbacks"] = [{group: list(to)} for group, to in self.fallbacks.items()]
        return settings

    @property
    def litellm_settings(self) -> dict[str, Any]:
        return {
            "drop_params": True,  # Claude Code sends Anthropic-only fields Ollama has no use for
            "request_timeout": self.request_timeout_s,
        }

    @property
    def general_settings(self) -> dict[str, Any]:
        return {"master_key": self.master_key, "trusted_proxy_ranges": []}

    def litellm_config(self) -> dict[str, Any]:
        """The whole config as LiteLLM's ``--config`` YAML holds it."""
        return {
            "model_list": self.model_list,
            "router_settings": self.router_settings,
            "litellm_settings": self.litellm_settings,
            "general_settings": self.general_settings,
        }


def ollama_deployment(
    mapping: ModelMapping,
    backend: OllamaBackend,
    *,
    thinks: bool = True,
    server_context_length: int | None = None,
    capabilities: tuple[str, ...] | None = None,
) -> OllamaDeployment:
    """One mapping on one Ollama backend."""
    options = mapping.options.model_dump(exclude_none=True)
    keep_alive = options.pop("keep_alive", None)
    return OllamaDeployment(
        api_base=backend.url,
        model=mapping.model,
        options=options,
        keep_alive=None if keep_alive is None else ollama_keep_alive(keep_alive),
        backend=backend.name,
        thinks=thinks,
        group=mapping.name,
        num_ctx=effective_num_ctx(mapping.options, server_context_length),
        refuse_overflow=mapping.refuses_overflow,
        repair_tool_calls=mapping.repair_tool_calls,
        capabilities=capabilities,
    )


def render(
    config: Config,
    *,
    master_key: str,
    installed: Mapping[str, Sequence[str]] | None = None,
    cloud_key: CloudKeyLookup | None = None,
    export: bool = False,
    cannot_think: Mapping[str, Sequence[str]] | None = None,
    capabilities: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None,
) -> RenderedGateway:
    """Render ``config`` for LiteLLM.

    Args:
        config: GateDeck's config.
        master_key: the gateway key (ignored with ``export``: the exported file reads
            ``LITELLM_MASTER_KEY`` from the environment).
        installed: models installed on each backend, by backend name (from ``/api/tags``).
        cloud_key: looks up a cloud entry's key (secret store, then environment); unused with
            ``export``, where keys are referenced as ``os.environ/NAME``.
        export: render for a stock ``litellm --config`` (no secrets in the result).
        cannot_think: mapped models Ollama says cannot think, by backend name: LiteLLM drops a
            request's thinking for them (:data:`NO_THINKING`) instead of Ollama refusing it.
        capabilities: what Ollama lists each model can do, by backend name, then the model as
            a mapping spells it or ``/api/tags`` names it (the fast path refuses a request of the
            wrong kind).
    """
    installed = installed or {}
    cannot_think = cannot_think or {}
    capabilities = capabilities or {}
    notes: list[str] = []
    deployments: list[Deployment] = []
    mapped_names = {m.name for m in config.mappings}

    for mapping in config.mappings:
        if export and any(ch in mapping.name for ch in "?["):
            notes.append(
                f"mapping '{mapping.name}' was left out: the stock LiteLLM proxy only understands "
                "'*' wildcards"
            )
            continue
        for backend_name in mapping.backends:
            thinks = mapping.model not in cannot_think.get(backend_name, ())
            deployments.append(
                ollama_deployment(
                    mapping,
                    config.backend(backend_name),
                    thinks=thinks,
                    server_context_length=config.ollama_server.context_length,
                    capabilities=capabilities.get(backend_name, {}).get(mapping.model),
                )
            )

    installed_names: set[str] = set()
    for backend in config.backends:
        for model in installed.get(backend.name, ()):
            for name in _served_names(model):
                if name in mapped_names:  # a mapping of that exact name wins
                    continue
                installed_names.add(name)
                known = capabilities.get(backend.name, {}).get(model)
                deployments.append(
                    OllamaDeployment(backend.url, model, backend=backend.name, group=name, capabilities=known)
                )
        deployments.append(OllamaDeployment(backend.url, None, backend=backend.name, group=OLLAMA_WILDCARD))

    for entry in config.cloud:
        if export:
            key: str | None = ENV_REF + cloud_key_env(entry)
        else:
            key = cloud_key(entry) if cloud_key else None
            if not key:
                notes.append(
                    f"cloud entry '{entry.name}' has no API key: store one in GateDeck or set "
                    f"{cloud_key_env(entry)}; requests that fall back to it will fail"
                )
        deployments.append(CloudDeployment(entry.name, entry.provider, entry.model, entry.api_base, key))

    exact = {m.name for m in config.mappings} | installed_names | {c.name for c in config.cloud}
    patterns = tuple((m.name, re.compile(fnmatch.translate(m.name))) for m in config.mappings if m.is_pattern)
    if export:
        if any(m.is_pattern for m in config.mappings):
            notes.append(
                "the stock LiteLLM proxy tries '*' patterns longest first and matches name "
                "prefixes, where GateDeck tries them in the order of the config"
            )
        if not installed:
            notes.append(
                "installed Ollama models are served as ollama/<name>; add mappings to serve "
                "them under their bare names"
            )
    return RenderedGateway(
        deployments=tuple(deployments),
        routes=RouteTable(exact=frozenset(exact), patterns=patterns),
        master_key=ENV_REF + EXPORT_MASTER_KEY_ENV if export else master_key,
        fallbacks={m.name: tuple(m.fallbacks) for m in config.mappings if m.fallbacks},
        routing_strategy=config.gateway.routing_strategy,
        # A mapping served by several backends retries on the others (core.gateway.engine
        # keeps a backend that refused a connection out of the retry); with one backend a
        # failure goes straight to the mapping's fallbacks.
        num_retries=max((len(m.backends) for m in config.mappings), default=1) - 1,
        request_timeout_s=config.gateway.request_timeout_s,
        notes=notes,
        direct_path=config.gateway.direct_path,
        receive_timeout_s=config.gateway.receive_timeout_s,
        max_body_bytes=config.gateway.max_body_mb * 1024 * 1024,
    )


def _served_names(model: str) -> list[str]:
    """Names an installed model answers to: ``qwen2.5:7b`` and ``ollama/qwen2.5:7b``; a
    ``:latest`` tag also answers without it (``llama3`` for ``llama3:latest``)."""
    names = [model, f"ollama/{model}"]
    if model.endswith(":latest"):
        bare = model.removesuffix(":latest")
        names += [bare, f"ollama/{bare}"]
    return names
