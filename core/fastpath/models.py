"""``GET /v1/models``: the names GateDeck serves — its mappings, then the installed Ollama models
and cloud entries — in OpenAI's list shape, or Anthropic's when the request carries
``anthropic-version`` (Claude Code's model discovery). LiteLLM's own list would show its
config's placeholder entries and none of the mapping names.
"""

from __future__ import annotations

from typing import Any

from core.gateway.render import OLLAMA_WILDCARD, RouteTable

PATHS = frozenset({"/v1/models", "/models"})
_EPOCH = "1970-01-01T00:00:00Z"  # GateDeck does not know when a name was created


def served_names(routes: RouteTable) -> list[str]:
    """Mapping names in config order, then the other names, sorted (``ollama/<name>``
    duplicates, the catch-all ``*`` and the ``ollama/*`` wildcard left out)."""
    mappings = [name for name, _ in routes.patterns]
    rest = sorted(name for name in routes.exact if name not in mappings and not name.startswith("ollama/"))
    return [n for n in [*mappings, *rest] if n not in ("*", OLLAMA_WILDCARD)]


def models_list(routes: RouteTable, *, anthropic: bool) -> dict[str, Any]:
    names = served_names(routes)
    if anthropic:
        return {
            "data": [{"type": "model", "id": n, "display_name": n, "created_at": _EPOCH} for n in names],
            "has_more": False,
            "first_id": names[0] if names else None,
            "last_id": names[-1] if names else None,
        }
    return {
        "object": "list",
        "data": [{"id": n, "object": "model", "created": 0, "owned_by": "gatedeck"} for n in names],
    }
