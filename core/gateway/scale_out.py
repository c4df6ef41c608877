"""The stock LiteLLM proxy in front of GateDeck gateways: scale-out that keeps GateDeck's answers.

A team that outgrows one workstation runs the stock ``litellm --config`` proxy (its keys,
budgets, Postgres/Redis) and, beside each Ollama host, a headless ``gatedeck serve`` (a
*gateway*). :func:`render_scale_out` renders GateDeck's config for that proxy: one deployment
per (mapping, gateway) (:class:`core.gateway.deployments.GatewayDeployment`), so LiteLLM
balances a mapping over the gateways that serve it, while each request reaches a gateway in the
client's own API and is answered by GateDeck's fast path. LiteLLM never reaches Ollama itself:
its Ollama translation merges streamed parallel tool calls and passes thinking to models that
cannot think (Ollama's 400), see DESIGN.md.

Routing: LiteLLM's ``least-busy`` strategy sends a request to the gateway with the fewest
requests in flight, and its ``session_affinity`` check keeps a client session (Claude Code's
``x-claude-code-session-id``, Codex's session) on the gateway that served it first, so that
host's prompt cache is reused. Pure functions, no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.config.schema import Config
from core.gateway.deployments import CloudDeployment, Deployment, GatewayDeployment, OllamaDeployment
from core.gateway.render import ENV_REF, OLLAMA_WILDCARD, RenderedGateway, render
from core.ollama.models import only_embeds

#: How the stock proxy chooses among a mapping's gateways (LiteLLM's names).
SCALE_OUT_STRATEGY = "least-busy"
SCALE_OUT_PRE_CALL_CHECKS = ("session_affinity",)
_KEY_ENV_PREFIX = "GATEDECK_KEY_"


@dataclass(frozen=True)
class GatewayHost:
    """A ``gatedeck serve`` the stock proxy reaches.

    Attributes:
        name: what the exported config calls it (its key's variable is made from it).
        url: where it listens, ``http://host:port``.
        backend: the config's Ollama host it stands beside: it serves the mappings on that
            host only. ``None``: it serves every mapping.
    """

    name: str
    url: str
    backend: str | None = None

    @property
    def key_env(self) -> str:
        """The environment variable the stock proxy reads this gateway's key from."""
        return _KEY_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", self.name.upper())

    def serves(self, backends: Sequence[str]) -> bool:
        return self.backend is None or self.backend in backends


def parse_gateway(text: str) -> GatewayHost:
    """``NAME=URL`` (``gpu1=http://gpu1:4000``) as a :class:`GatewayHost`.

    Raises:
        ValueError: with what is wrong and an example of what is right.
    """
    name, sep, url = text.partition("=")
    name, url = name.strip(), url.strip().rstrip("/")
    parts = urlsplit(url)
    if not sep or not name or not url:
        raise ValueError(f"'{text}' is not NAME=URL (for example gpu1=http://gpu1:4000)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"'{url}' is not an http:// or https:// address (for example http://gpu1:4000)")
    if parts.path not in ("", "/"):
        raise ValueError(f"'{url}': give the gateway's address without a path (not .../v1)")
    return GatewayHost(name, url)


def gateways_beside_backends(config: Config, port: int) -> list[GatewayHost]:
    """One gateway beside each of the config's Ollama hosts, at that host's address on ``port``."""
    found = []
    for backend in config.backends:
        host = urlsplit(backend.url).hostname or "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        found.append(GatewayHost(backend.name, f"http://{shown}:{port}", backend=backend.name))
    return found


def check_gateways(gateways: Sequence[GatewayHost]) -> None:
    """Raises ValueError when two gateways share a name, an address or a key's variable."""
    if not gateways:
        raise ValueError("no gateway given")
    for what, values in (
        ("name", [g.name for g in gateways]),
        ("address", [g.url for g in gateways]),
        ("key variable", [g.key_env for g in gateways]),
    ):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise ValueError(f"two gateways share the {what} {', '.join(twice)}")


def embedding_mappings(
    config: Config, capabilities: Mapping[str, Mapping[str, Sequence[str]]]
) -> frozenset[str]:
    """Mappings whose model only makes embeddings, from what Ollama lists (by backend name, then
    the model as the mapping spells it, as :func:`core.gateway.health.model_capabilities`)."""
    return frozenset(
        m.name
        for m in config.mappings
        if any(only_embeds(capabilities.get(b, {}).get(m.model, ())) for b in m.backends)
    )


def render_scale_out(
    config: Config, gateways: Sequence[GatewayHost], *, embedding: frozenset[str] = frozenset()
) -> RenderedGateway:
    """``config`` for the stock LiteLLM proxy in front of ``gateways`` (keys as ``os.environ/``).

    Cloud entries and fallbacks stay LiteLLM's, as in the direct export; every mapping becomes
    one deployment per gateway that serves it; ``ollama/<model>`` reaches every gateway.
    """
    check_gateways(gateways)
    direct = render(config, master_key="", export=True)
    exported = {d.group for d in direct.deployments if isinstance(d, OllamaDeployment)}
    deployments: list[Deployment] = []
    notes = list(direct.notes)
    for mapping in config.mappings:
        if mapping.name not in exported:
            continue  # left out by the export (a wildcard the stock proxy cannot read), noted
        serving = [g for g in gateways if g.serves(mapping.backends)]
        if not serving:
            notes.append(f"mapping '{mapping.name}' was left out: no gateway stands beside its hosts")
        deployments += [_deployment(mapping.name, g, mapping.name in embedding) for g in serving]
    deployments += [_deployment(OLLAMA_WILDCARD, g, False) for g in gateways]
    deployments += [d for d in direct.deployments if isinstance(d, CloudDeployment)]
    return dataclasses.replace(
        direct,
        deployments=tuple(deployments),
        routing_strategy=SCALE_OUT_STRATEGY,
        num_retries=len(gateways) - 1,  # a gateway that fails: the request goes to the next one
        notes=notes,
    )


def scale_out_litellm_config(rendered: RenderedGateway) -> dict[str, Any]:
    """The stock proxy's whole config: ``rendered``'s, with session affinity turned on."""
    config = rendered.litellm_config()
    config["router_settings"]["optional_pre_call_checks"] = list(SCALE_OUT_PRE_CALL_CHECKS)
    return config


def _deployment(group: str, gateway: GatewayHost, embedding: bool) -> GatewayDeployment:
    return GatewayDeployment(group, gateway.name, gateway.url, ENV_REF + gateway.key_env, embedding=embedding)
