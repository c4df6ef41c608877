"""Which of GateDeck's gateway speed-ups are on: ``GATEDECK_GATEWAY_SPEEDUPS``.

Unset (or ``1``/``all``) turns every speed-up on; ``0`` runs the stock embedded proxy (LiteLLM
as shipped behind uvicorn's own server, loop and HTTP parser). A comma-separated list turns on
only the speed-ups it names (``fastpath,uvloop``); a list of names each with a leading ``-``
turns on all but those (``-fastpath``). ``bench/gateway.py`` measures each one on its own this
way. The names are :data:`SPEEDUPS`' keys; the LiteLLM ones are applied by
:mod:`core.gateway.litellm_seam`, the uvicorn one by :mod:`core.gateway.uvicorn_seam`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

log = logging.getLogger(__name__)

ENV = "GATEDECK_GATEWAY_SPEEDUPS"

#: Every speed-up by name, with what it does.
SPEEDUPS: Mapping[str, str] = {
    "fastpath": "Ollama mappings answered by GateDeck itself, straight to /api/chat",
    "uvloop": "the gateway's event loop in C (uvloop)",
    "httptools": "the HTTP parser in C (httptools) instead of h11",
    "quickstop": "a server that stops in milliseconds (restarts)",
    "no-otel-import": "LiteLLM: no failed OpenTelemetry import retried on every request",
    "inline-executor": "LiteLLM: Ollama calls built on the loop, not on a worker thread",
    "free-local-cost": "LiteLLM: no cost calculation for Ollama answers (they are free)",
    "ollama-lookup-cache": "LiteLLM: the cost map's lowercased keys kept, not rebuilt per lookup",
}

_ALL = ("", "1", "on", "true", "yes", "all")
_NONE = ("0", "off", "false", "no", "none")
_warned: set[str] = set()


def active(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The speed-ups turned on by ``GATEDECK_GATEWAY_SPEEDUPS`` in ``environ`` (the process's)."""
    value = (os.environ if environ is None else environ).get(ENV, "1").strip().lower()
    if value in _ALL:
        return frozenset(SPEEDUPS)
    if value in _NONE:
        return frozenset()
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        bare = name.removeprefix("-")
        if bare not in SPEEDUPS and bare not in _warned:
            _warned.add(bare)
            log.warning("%s: no speed-up is called %r (known: %s)", ENV, bare, ", ".join(SPEEDUPS))
    if names and all(name.startswith("-") for name in names):
        return frozenset(SPEEDUPS) - {name[1:] for name in names}
    return frozenset(name for name in names if name in SPEEDUPS)


def enabled(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the speed-up ``name`` (a key of :data:`SPEEDUPS`) is on."""
    if name not in SPEEDUPS:
        raise KeyError(f"no speed-up is called {name!r}")
    return name in active(environ)
