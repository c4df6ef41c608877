"""GateDeck's config rendered as a LiteLLM proxy config (model list, router and proxy settings).

Pure functions, no LiteLLM import: the same rendering feeds the embedded gateway (keys resolved
in memory) and ``gatedeck export-litellm-config`` (keys referenced as ``os.environ/NAME``).

What a mapping becomes (measured with LiteLLM 1.106.2, see DESIGN.md):

- one deployment per backend, ``model: ollama_chat/<model>`` (``/api/chat``, the model's own
  chat template; ``ollama/`` would go to ``/api/generate`` with LiteLLM's prompt format);
- its options as flat ``litellm_params`` (``num_ctx``...), which LiteLLM moves into the Ollama
  body's ``options``; ``keep_alive`` stays top-level. A nested ``extra_body`` would not arrive;
- a zero price in ``model_info``, so LiteLLM does not look local models up in its cost map.

Installed Ollama models are also served under their own name and ``ollama/<name>``, and an
``ollama/*`` wildcard per backend catches models pulled after the list was rendered.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.config.schema import CloudModel, Config
from core.config.schema import Mapping as ModelMapping

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
# Local models cost nothing; saying so spares LiteLLM a cost-map lookup on every request.
_FREE = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}

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
    """A LiteLLM proxy config plus what GateDeck needs to route names like the config says."""

    model_list: list[dict[str, Any]]
    router_settings: dict[str, Any]
    litellm_settings: dict[str, Any]
    general_settings: dict[str, Any]
    routes: RouteTable
    notes: list[str] = field(default_factory=list)
    #: answer Ollama-only requests without LiteLLM (:mod:`core.fastpath.route`)
    direct_path: bool = True

    def litellm_config(self) -> dict[str, Any]:
        """The whole config as LiteLLM's ``--config`` YAML holds it."""
        return {
            "model_list": self.model_list,
            "router_settings": self.router_settings,
            "litellm_settings": self.litellm_settings,
            "general_settings": self.general_settings,
        }


#: What LiteLLM drops from a request for a model that cannot think (``additional_drop_params``):
#: Claude Code's ``thinking`` and OpenAI's ``reasoning_effort``, which LiteLLM turns into
#: Ollama's ``think``. Without it Ollama refuses the request (HTTP 400), and a mapping's
#: fallback (perhaps a paid cloud model) answered every request instead.
NO_THINKING = ("reasoning_effort", "thinking")


def ollama_params(mapping: ModelMapping, api_base: str) -> dict[str, Any]:
    """``litellm_params`` for one mapping on one Ollama backend."""
    params: dict[str, Any] = {"model": f"ollama_chat/{mapping.model}", "api_base": api_base}
    params.update(mapping.options.model_dump(exclude_none=True))
    if "keep_alive" in params:
        params["keep_alive"] = ollama_keep_alive(params["keep_alive"])
    return params


def ollama_keep_alive(value: str) -> str | int | float:
    """Ollama reads a bare number as seconds but a string through Go's duration parser, which
    refuses ``"-1"`` or ``"300"`` (no unit): send those as numbers, ``"5m"`` as it is."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def render(
    config: Config,
    *,
    master_key: str,
    installed: Mapping[str, Sequence[str]] | None = None,
    cloud_key: CloudKeyLookup | None = None,
    export: bool = False,
    cannot_think: Mapping[str, Sequence[str]] | None = None,
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
    """
    installed = installed or {}
    cannot_think = cannot_think or {}
    notes: list[str] = []
    model_list: list[dict[str, Any]] = []
    mapped_names = {m.name for m in config.mappings}

    for mapping in config.mappings:
        if export and any(ch in mapping.name for ch in "?["):
            notes.append(
                f"mapping '{mapping.name}' was left out: the stock LiteLLM proxy only understands "
                "'*' wildcards"
            )
            continue
        for backend_name in mapping.backends:
            backend = config.backend(backend_name)
            deployment = ollama_params(mapping, backend.url)
            if mapping.model in cannot_think.get(backend_name, ()):
                deployment["additional_drop_params"] = list(NO_THINKING)
            model_list.append(
                {
                    "model_name": mapping.name,
                    "litellm_params": deployment,
                    "model_info": {**_FREE, "gatedeck_backend": backend.name},
                }
            )

    installed_names: set[str] = set()
    for backend in config.backends:
        for model in installed.get(backend.name, ()):
            for name in _served_names(model):
                if name in mapped_names:  # a mapping of that exact name wins
                    continue
                installed_names.add(name)
                model_list.append(
                    {
                        "model_name": name,
                        "litellm_params": {"model": f"ollama_chat/{model}", "api_base": backend.url},
                        "model_info": {**_FREE, "gatedeck_backend": backend.name},
                    }
                )
        model_list.append(
            {
                "model_name": OLLAMA_WILDCARD,
                "litellm_params": {"model": "ollama_chat/*", "api_base": backend.url},
                "model_info": {**_FREE, "gatedeck_backend": backend.name},
            }
        )

    for entry in config.cloud:
        params: dict[str, Any] = {"model": f"{entry.provider}/{entry.model}"}
        if entry.api_base:
            params["api_base"] = entry.api_base
        if export:
            params["api_key"] = ENV_REF + cloud_key_env(entry)
        else:
            key = cloud_key(entry) if cloud_key else None
            if key:
                params["api_key"] = key
            else:
                notes.append(
                    f"cloud entry '{entry.name}' has no API key: store one in GateDeck or set "
                    f"{cloud_key_env(entry)}; requests that fall back to it will fail"
                )
        model_list.append({"model_name": entry.name, "litellm_params": params})

    exact = {m.name for m in config.mappings} | installed_names | {c.name for c in config.cloud}
    patterns = tuple((m.name, re.compile(fnmatch.translate(m.name))) for m in config.mappings if m.is_pattern)

    fallbacks = [{m.name: list(m.fallbacks)} for m in config.mappings if m.fallbacks]
    most_backends = max((len(m.backends) for m in config.mappings), default=1)
    router_settings: dict[str, Any] = {
        "routing_strategy": config.gateway.routing_strategy,
        # A mapping served by several backends retries on the others (core.gateway.engine
        # keeps a backend that refused a connection out of the retry); with one backend a
        # failure goes straight to the mapping's fallbacks.
        "num_retries": most_backends - 1,
    }
    if fallbacks:
        router_settings["fallbacks"] = fallbacks
    litellm_settings: dict[str, Any] = {
        "drop_params": True,  # Claude Code sends Anthropic-only fields Ollama has no use for
        "request_timeout": config.gateway.request_timeout_s,
    }
    general_settings: dict[str, Any] = {
        "master_key": ENV_REF + EXPORT_MASTER_KEY_ENV if export else master_key,
        "trusted_proxy_ranges": [],
    }
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
        model_list=model_list,
        router_settings=router_settings,
        litellm_settings=litellm_settings,
        general_settings=general_settings,
        routes=RouteTable(exact=frozenset(exact), patterns=patterns),
        notes=notes,
        direct_path=config.gateway.direct_path,
    )


def _served_names(model: str) -> list[str]:
    """Names an installed model answers to: ``qwen2.5:7b`` and ``ollama/qwen2.5:7b``; a
    ``:latest`` tag also answers without it (``llama3`` for ``llama3:latest``)."""
    names = [model, f"ollama/{model}"]
    if model.endswith(":latest"):
        bare = model.removesuffix(":latest")
        names += [bare, f"ollama/{bare}"]
    return names
