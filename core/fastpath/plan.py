"""Which requests GateDeck answers itself, without LiteLLM: the direct path's routing table.

A chat request for a mapping served only by Ollama needs none of what the LiteLLM proxy does
per request (cost tracking, spend logs, router bookkeeping, its middlewares); measured, that
machinery is 20–40 ms and ~10 ms of CPU per request (issue 9). The direct path
(:mod:`core.fastpath.route`) sends such a request straight to Ollama's ``/api/chat`` and
translates the answer. This module decides, from the typed deployments LiteLLM's model list is
built from (:mod:`core.gateway.deployments`), which model groups qualify and where each one's
requests go.

A group qualifies when every deployment in it is an Ollama model; cloud models stay with
LiteLLM. A qualifying group's fallbacks come with its route: when its Ollama model fails before
answering, the direct path tries them in order, itself for a fallback that qualifies too, and
through LiteLLM for one that does not (a cloud model). A group on several Ollama hosts is the
direct path's under LiteLLM's default strategy (``simple-shuffle``), where it chooses the host
itself, by conversation, load and health (:mod:`core.fastpath.hosts`) instead of at random;
under another strategy such a group stays with LiteLLM. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.gateway.deployments import OllamaDeployment
from core.gateway.render import OLLAMA_WILDCARD, RenderedGateway, RouteTable

_SHUFFLE = "simple-shuffle"

#: One Ollama deployment of a group, as the dialects translate for it.
Target = OllamaDeployment


@dataclass(frozen=True)
class Route:
    """Where a request goes: its group (mapping), its deployments in the order to try them
    (the next one only when the one before refused the connection), and the groups to try
    after them when none could answer (the mapping's fallbacks, in config order)."""

    group: str
    targets: tuple[Target, ...]
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class DirectPlan:
    """The groups the direct path serves, and how requested names reach them.

    Attributes:
        routes: GateDeck's name resolution (exact names, then patterns in config order).
        groups: each qualifying group's Ollama deployments.
        fallbacks: each group's fallback groups, for groups that have any (those that do not
            qualify are LiteLLM's to serve).
    """

    routes: RouteTable = field(default_factory=RouteTable)
    groups: Mapping[str, tuple[Target, ...]] = field(default_factory=dict)
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_rendered(cls, rendered: RenderedGateway) -> DirectPlan:
        targets: dict[str, list[Target]] = {}
        excluded: set[str] = set()
        for deployment in rendered.deployments:
            if isinstance(deployment, OllamaDeployment):
                targets.setdefault(deployment.group, []).append(deployment)
            else:
                excluded.add(deployment.group)
        if rendered.routing_strategy != _SHUFFLE:
            # LiteLLM's other strategies pick a backend from load or latency it keeps itself;
            # a group with a choice to make stays with LiteLLM so that the choice is its.
            excluded.update(name for name, found in targets.items() if len(found) > 1)
        groups = {name: tuple(found) for name, found in targets.items() if name not in excluded}
        return cls(routes=rendered.routes, groups=groups, fallbacks=rendered.fallbacks)

    def group_of(self, requested: str) -> str | None:
        """The group LiteLLM would route ``requested`` to (``None``: no such name)."""
        return self.routes.lands_on(requested)

    def route(self, requested: str) -> Route | None:
        """Where to send a request for ``requested`` (its deployments in config order; the
        direct path orders several hosts itself), or ``None`` to leave it to LiteLLM."""
        group = self.group_of(requested)
        if group is None or (group == OLLAMA_WILDCARD and not requested.removeprefix("ollama/")):
            return None
        targets = self.groups.get(group)
        if not targets:
            return None
        return Route(group, targets, self.fallbacks.get(group, ()))
