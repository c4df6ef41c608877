"""The config a brand-new install starts with: Claude Code works after one model pull.

Claude Code asks for opus, sonnet and haiku tier names, often dated ones
(``claude-sonnet-4-5-20250929``, ``claude-3-5-haiku-latest``), so the tiers are patterns, and a
catch-all serves any other name. All point at one local model with a context large enough for
Claude Code's ~30k-token first request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping as MappingType

from core.config.schema import (
    CLAUDE_MIN_CTX,
    DEFAULT_BACKEND,
    DEFAULT_OLLAMA_URL,
    Config,
    Mapping,
    ModelOptions,
    OllamaBackend,
)

#: Good at tool calls and code, fits in 8 GB of VRAM at 32k context with q4 weights.
DEFAULT_MODEL = "qwen2.5-coder:7b"

#: (mapping name, what it is for) in the order they are matched after exact names.
CLAUDE_TIERS = (
    ("claude-*opus*", "opus"),
    ("claude-*sonnet*", "sonnet"),
    ("claude-*haiku*", "haiku"),
)
CATCH_ALL = "*"


def ollama_url_from_env(env: MappingType[str, str] | None = None) -> str:
    """Ollama's address as the ``ollama`` CLI itself reads it (``OLLAMA_HOST``)."""
    env = os.environ if env is None else env
    host = env.get("OLLAMA_HOST", "").strip()
    if not host:
        return DEFAULT_OLLAMA_URL
    if "://" not in host:
        host = "http://" + host
    scheme, rest = host.split("://", 1)
    hostport = rest.split("/", 1)[0]
    if hostport.startswith("["):  # IPv6 literal
        if "]:" not in hostport:
            hostport += ":11434"
    elif ":" not in hostport:
        hostport += ":11434"
    if hostport.startswith("0.0.0.0"):  # a bind-all address: talk to it locally
        hostport = "127.0.0.1" + hostport[len("0.0.0.0") :]
    return f"{scheme}://{hostport}"


def default_config(ollama_url: str | None = None, default_model: str | None = None) -> Config:
    """The first-run config."""
    model = default_model or DEFAULT_MODEL
    options = ModelOptions(num_ctx=CLAUDE_MIN_CTX)
    mappings = [Mapping(name=name, model=model, options=options.model_copy()) for name, _ in CLAUDE_TIERS]
    mappings.append(Mapping(name=CATCH_ALL, model=model, options=options.model_copy()))
    return Config(
        backends=[OllamaBackend(name=DEFAULT_BACKEND, url=ollama_url or ollama_url_from_env())],
        mappings=mappings,
    )
