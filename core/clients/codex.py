"""Pointing the Codex CLI at the gateway.

Codex speaks only the OpenAI Responses API, which GateDeck's fast path answers. Codex takes a
model provider from its ``config.toml`` or, for one run, from ``-c key=value`` overrides; the
provider names GateDeck's ``/v1`` address and the environment variable that holds the gateway
key, so the key never lands in a file or on the command line.
"""

from __future__ import annotations

PROVIDER = "gatedeck"
KEY_VARIABLE = "GATEDECK_API_KEY"


def _provider_fields(base_url: str) -> list[tuple[str, str]]:
    return [
        ("name", "GateDeck"),
        ("base_url", f"{base_url.rstrip('/')}/v1"),
        ("env_key", KEY_VARIABLE),
        ("wire_api", "responses"),
    ]


def codex_overrides(base_url: str) -> list[str]:
    """Codex command-line options that send this run to the gateway at ``base_url``."""
    table = ", ".join(f'{key} = "{value}"' for key, value in _provider_fields(base_url))
    return ["-c", f"model_providers.{PROVIDER}={{ {table} }}", "-c", f'model_provider="{PROVIDER}"']


def codex_config(base_url: str) -> str:
    """The lines to add to ``~/.codex/config.toml`` to use the gateway in every Codex session."""
    fields = "\n".join(f'{key} = "{value}"' for key, value in _provider_fields(base_url))
    return f'model_provider = "{PROVIDER}"\n\n[model_providers.{PROVIDER}]\n{fields}\n'
