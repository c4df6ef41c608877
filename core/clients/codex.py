"""Pointing the Codex CLI at the gateway.

Codex speaks only the OpenAI Responses API, which GateDeck's fast path answers. Codex takes a
model provider from its ``config.toml`` or, for one run, from ``-c key=value`` overrides; the
provider names GateDeck's ``/v1`` address and the environment variable that holds the gateway
key, so the key never lands in a file or on the command line. :mod:`core.clients.codex_config_file`
merges these lines into the file itself.
"""

from __future__ import annotations

import json

from core.config.schema import Config

PROVIDER = "gatedeck"
KEY_VARIABLE = "GATEDECK_API_KEY"


def provider_fields(base_url: str) -> dict[str, str]:
    """The keys of GateDeck's ``[model_providers.gatedeck]`` table for the gateway at ``base_url``."""
    return {
        "name": "GateDeck",
        "base_url": f"{base_url.rstrip('/')}/v1",
        "env_key": KEY_VARIABLE,
        "wire_api": "responses",
    }


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (JSON's escapes without ``ensure_ascii`` are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def provider_table(base_url: str) -> str:
    """GateDeck's provider table, header and keys, one per line."""
    fields = "".join(f"{key} = {toml_string(value)}\n" for key, value in provider_fields(base_url).items())
    return f"[model_providers.{PROVIDER}]\n{fields}"


def codex_overrides(base_url: str, model: str | None = None) -> list[str]:
    """Codex command-line options that send this run to the gateway at ``base_url`` (and ask for
    ``model``, which a ``--model`` given to Codex still overrides)."""
    table = ", ".join(f"{key} = {toml_string(value)}" for key, value in provider_fields(base_url).items())
    options = ["-c", f"model_providers.{PROVIDER}={{ {table} }}", "-c", f'model_provider="{PROVIDER}"']
    return options + (["-c", f"model={toml_string(model)}"] if model else [])


def codex_config(base_url: str, model: str | None = None) -> str:
    """The lines to add to ``~/.codex/config.toml`` to use the gateway in every Codex session."""
    chosen = f"model = {toml_string(model)}\n" if model else ""
    return f'{chosen}model_provider = "{PROVIDER}"\n\n{provider_table(base_url)}'


def codex_model(config: Config) -> str | None:
    """The model name to give Codex: the first exact mapping name, else the Ollama model the
    catch-all (or the first) mapping runs, which GateDeck answers by its own name.

    Codex needs a name of ours: for its own default model (``gpt-6.2-sol`` in 0.171) it sends a
    "lite" request with no tools at all, so it could never run a command.
    """
    exact = next((m.name for m in config.mappings if not m.is_pattern), None)
    if exact is not None:
        return exact
    fallback = next(
        (m for m in config.mappings if m.name == "*"), config.mappings[0] if config.mappings else None
    )
    return fallback.model if fallback is not None else None
