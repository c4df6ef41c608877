"""Which requests GateDeck answers itself, without LiteLLM: the direct path's routing table.

A chat request for a mapping served only by Ollama needs none of what the LiteLLM proxy does
per request (cost tracking, spend logs, router bookkeeping, its middlewares); measured, that
machinery is 20–40 ms and ~10 ms of CPU per request (issue 9). The direct path
(:mod:`core.fastpath.route`) sends such a request straight to Ollama's ``/api/chat`` and
translates the answer. This module decides, from the same rendering LiteLLM gets, which model
groups qualify and where each one's requests go.

A group qualifies when every deployment in it is an Ollama model (``ollama_chat/…``) and it
has no fallbacks: fallbacks, cloud models and retries stay with LiteLLM, which also takes any
request the direct path fails before answering. Several Ollama backends are shuffled as
LiteLLM's default strategy does; under another strategy such a group stays with LiteLLM.
Pure data, no I/O.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.gateway.render import OLLAMA_WILDCARD, RenderedGateway, RouteTable

_OLLAMA_PREFIX = "ollama_chat/"
_SHUFFLE = "simple-shuffle"
#: ``litellm_params`` that are not Ollama ``options``.
_NOT_OPTIONS = frozenset({"model", "api_base", "keep_alive", "additional_drop_params"})


@dataclass(frozen=True)
class Target:
    """One Ollama deployment of a group.

    Attributes:
        api_base: the Ollama server, ``http://host:port``.
        model: the Ollama model; ``None`` for the ``ollama/*`` wildcard (the requested name
            without ``ollama/`` is the model).
        options: the mapping's Ollama ``options`` (``num_ctx``…).
        keep_alive: sent top-level, where Ollama reads it (``None``: Ollama's default).
        backend: the backend's name in GateDeck's config (for the request log).
        thinks: False when Ollama said the model cannot think (its requests go without
            ``think`` instead of being refused first).
    """

    api_base: str
    model: str | None
    options: Mapping[str, Any] = field(default_factory=dict)
    keep_alive: str | int | float | None = None
    backend: str = ""
    thinks: bool = True

    def model_for(self, requested: str) -> str:
        return self.model if self.model is not None else requested.removeprefix("ollama/")


@dataclass(frozen=True)
class Route:
    """Where a request goes: its group (mapping) and its deployments in the order to try them
    (the next one only when the one before refused the connection)."""

    group: str
    targets: tuple[Target, ...]


def _target(deployment: Mapping[str, Any]) -> Target | None:
    params = deployment.get("litellm_params") or {}
    model = str(params.get("model") or "")
    api_base = params.get("api_base")
    if not model.startswith(_OLLAMA_PREFIX) or not api_base:
        return None
    name = model.removeprefix(_OLLAMA_PREFIX)
    info = deployment.get("model_info") or {}
    return Target(
        api_base=str(api_base).rstrip("/"),
        model=None if name == "*" else name,
        options={k: v for k, v in params.items() if k not in _NOT_OPTIONS},
        keep_alive=params.get("keep_alive"),
        backend=str(info.get("gatedeck_backend") or ""),
        thinks="reasoning_effort" not in (params.get("additional_drop_params") or ()),
    )


@dataclass(frozen=True)
class DirectPlan:
    """The groups the direct path serves, and how requested names reach them.

    Attributes:
        routes: GateDeck's name resolution (exact names, then patterns in config order).
        groups: each qualifying group's Ollama deployments.
    """

    routes: RouteTable = field(default_factory=RouteTable)
    groups: Mapping[str, tuple[Target, ...]] = field(default_factory=dict)

    @classmethod
    def from_rendered(cls, rendered: RenderedGateway) -> DirectPlan:
        targets: dict[str, list[Target]] = {}
        excluded: set[str] = set()
        for deployment in rendered.model_list:
            group = str(deployment.get("model_name") or "")
            target = _target(deployment)
            if target is None:
                excluded.add(group)
            else:
                targets.setdefault(group, []).append(target)
        for rule in rendered.router_settings.get("fallbacks", []):
            excluded.update(rule)
        if rendered.router_settings.get("routing_strategy", _SHUFFLE) != _SHUFFLE:
            # LiteLLM's other strategies pick a backend from load or latency it keeps itself;
            # a group with a choice to make stays with LiteLLM so that the choice is its.
            excluded.update(name for name, found in targets.items() if len(found) > 1)
        groups = {name: tuple(found) for name, found in targets.items() if name not in excluded}
        return cls(routes=rendered.routes, groups=groups)

    def group_of(self, requested: str) -> str | None:
        """The group LiteLLM would route ``requested`` to (``None``: no such name)."""
        return self.routes.lands_on(requested)

    def route(
        self,
        requested: str,
        is_down: Callable[[str], bool] = lambda _base: False,
        shuffle: Callable[[list[Target]], None] = random.shuffle,
    ) -> Route | None:
        """Where to send a request for ``requested``, or ``None`` to leave it to LiteLLM.

        Several backends are tried in random order (LiteLLM's simple shuffle), those that just
        refused a connection (``is_down``) last.
        """
        group = self.group_of(requested)
        if group is None or (group == OLLAMA_WILDCARD and not requested.removeprefix("ollama/")):
            return None
        targets = self.groups.get(group)
        if not targets:
            return None
        if len(targets) == 1:
            return Route(group, targets)
        order = list(targets)
        shuffle(order)
        order.sort(key=lambda t: is_down(t.api_base))  # stable: the shuffle decides among equals
        return Route(group, tuple(order))
