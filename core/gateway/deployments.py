"""What the gateway serves, typed: one deployment per model group and backend.

:func:`core.gateway.render.render` turns GateDeck's config into these once; LiteLLM's
``model_list`` (:meth:`OllamaDeployment.litellm_entry`) and the fast path's routing
(:class:`core.fastpath.plan.DirectPlan`) are both built from them, so neither reads the
other's format back.

What an Ollama deployment becomes for LiteLLM (measured with LiteLLM 1.106.2, see DESIGN.md):
``model: ollama_chat/<model>`` (``/api/chat``, the model's own chat template; ``ollama/``
would go to ``/api/generate`` with LiteLLM's prompt format); its options as flat
``litellm_params`` (``num_ctx``...), which LiteLLM moves into the Ollama body's ``options``;
``keep_alive`` top-level; a zero price in ``model_info``, so LiteLLM does not look local
models up in its cost map.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: What LiteLLM drops from a request for a model that cannot think (``additional_drop_params``):
#: Claude Code's ``thinking`` and OpenAI's ``reasoning_effort``, which LiteLLM turns into
#: Ollama's ``think``. Without it Ollama refuses the request (HTTP 400), and a mapping's
#: fallback (perhaps a paid cloud model) answered every request instead.
NO_THINKING = ("reasoning_effort", "thinking")
# Local models cost nothing; saying so spares LiteLLM a cost-map lookup on every request.
_FREE = {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0}

KeepAlive = str | int | float


@dataclass(frozen=True)
class OllamaDeployment:
    """One Ollama model on one backend, serving one group.

    Attributes:
        api_base: the Ollama server, ``http://host:port``.
        model: the Ollama model; ``None`` for the ``ollama/*`` wildcard (the requested name
            without ``ollama/`` is the model).
        options: Ollama ``options`` sent with each request (``num_ctx``...).
        keep_alive: sent top-level, where Ollama reads it (``None``: Ollama's default).
        backend: the backend's name in GateDeck's config (for the request log).
        thinks: False when Ollama said the model cannot think (its requests go without
            ``think`` instead of being refused).
        group: the model group (a mapping's name, an installed model's name, ``ollama/*``).
        num_ctx: the context the requests get (the mapping's, the server's or Ollama's
            default); ``None`` when unknown.
        refuse_overflow: a prompt longer than ``num_ctx`` gets the client API's error instead
            of being cut by Ollama.
        repair_tool_calls: tool calls the model writes as text become real ones.
        capabilities: what Ollama lists the model can do (``completion``, ``embedding``...),
            asked at start; ``None`` when unknown.
    """

    api_base: str
    model: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    keep_alive: KeepAlive | None = None
    backend: str = ""
    thinks: bool = True
    group: str = ""
    num_ctx: int | None = None
    refuse_overflow: bool = False
    repair_tool_calls: bool = True
    capabilities: tuple[str, ...] | None = None

    def model_for(self, requested: str) -> str:
        """The Ollama model a request for ``requested`` asks this deployment for."""
        return self.model if self.model is not None else requested.removeprefix("ollama/")

    def litellm_entry(self) -> dict[str, Any]:
        """This deployment as an entry of LiteLLM's ``model_list``."""
        params: dict[str, Any] = {"model": f"ollama_chat/{self.model or '*'}", "api_base": self.api_base}
        params.update(self.options)
        if self.keep_alive is not None:
            params["keep_alive"] = self.keep_alive
        if not self.thinks:
            params["additional_drop_params"] = list(NO_THINKING)
        return {
            "model_name": self.group,
            "litellm_params": params,
            "model_info": {**_FREE, "gatedeck_backend": self.backend},
        }


@dataclass(frozen=True)
class CloudDeployment:
    """A cloud model, served by LiteLLM only.

    Attributes:
        group: the cloud entry's name.
        provider: LiteLLM's provider prefix (``anthropic``, ``openai``...).
        model: the provider's model name.
        api_base: a different endpoint, if any.
        api_key: the key as LiteLLM reads it (the key itself, or ``os.environ/NAME`` in an
            exported config); ``None`` when there is none.
    """

    group: str
    provider: str
    model: str
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def litellm_entry(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": f"{self.provider}/{self.model}"}
        if self.api_base:
            params["api_base"] = self.api_base
        if self.api_key:
            params["api_key"] = self.api_key
        return {"model_name": self.group, "litellm_params": params}


#: What a GateDeck gateway answers itself, in each API's own shape: LiteLLM forwards a request
#: for these to the gateway as it came (``model_info.supported_endpoints``), never translating it.
GATEWAY_CHAT_ENDPOINTS = ("/v1/chat/completions", "/v1/messages", "/v1/responses")
GATEWAY_EMBEDDING_ENDPOINTS = ("/v1/embeddings",)


@dataclass(frozen=True)
class GatewayDeployment:
    """One group served by a GateDeck gateway beside an Ollama host, for the stock LiteLLM proxy
    (``gatedeck export-litellm-config``): LiteLLM never reaches Ollama itself.

    LiteLLM's ``openai/`` provider reaches the gateway's ``/v1``; ``supported_endpoints`` makes it
    forward Anthropic ``/v1/messages`` and ``/v1/responses`` requests untranslated too, so each
    client's request reaches GateDeck in its own API and the answer comes back as GateDeck made
    it. The requested name reaches the gateway (a ``*`` in the group is filled in by LiteLLM),
    which resolves it with its own mappings.

    Attributes:
        group: the model group (a mapping's name, ``ollama/*``).
        gateway: the gateway's name (for LiteLLM's model info and the key's variable).
        url: the gateway's address, ``http://host:port``.
        api_key: the gateway key as LiteLLM reads it (``os.environ/NAME``).
        embedding: the group's model only makes embeddings.
    """

    group: str
    gateway: str
    url: str
    api_key: str = field(repr=False)
    embedding: bool = False

    def litellm_entry(self) -> dict[str, Any]:
        endpoints = GATEWAY_EMBEDDING_ENDPOINTS if self.embedding else GATEWAY_CHAT_ENDPOINTS
        info: dict[str, Any] = {
            **_FREE,
            "gatedeck_gateway": self.gateway,
            "supported_endpoints": list(endpoints),
            # a name LiteLLM's price map does not know would otherwise be asked without
            # streaming and replayed as one burst (Responses API); only exact names get this
            "supports_native_streaming": True,
        }
        if self.embedding:
            info["mode"] = "embedding"
        return {
            "model_name": self.group,
            "litellm_params": {
                "model": f"openai/{self.group}",
                "api_base": f"{self.url.rstrip('/')}/v1",
                "api_key": self.api_key,
            },
            "model_info": info,
        }


Deployment = OllamaDeployment | CloudDeployment | GatewayDeployment


def ollama_keep_alive(value: str) -> KeepAlive:
    """Ollama reads a bare number as seconds but a string through Go's duration parser, which
    refuses ``"-1"`` or ``"300"`` (no unit): send those as numbers, ``"5m"`` as it is."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number
