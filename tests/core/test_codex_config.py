"""What GateDeck tells Codex, and what the README tells a person to write."""

from __future__ import annotations

import tomllib

from core.clients.codex import codex_config, codex_overrides
from tests.core.gateway_support import REPO


def test_the_readme_shows_the_config_gatedeck_would_write() -> None:
    assert codex_config("http://127.0.0.1:4000") in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_overrides_are_valid_toml_naming_the_gateway_and_no_key() -> None:
    options = codex_overrides("http://127.0.0.1:4100/")
    assert options[0::2] == ["-c", "-c"]
    parsed = tomllib.loads("\n".join(options[1::2]))
    provider = parsed["model_providers"]["gatedeck"]
    assert parsed["model_provider"] == "gatedeck"
    assert provider["base_url"] == "http://127.0.0.1:4100/v1" and provider["wire_api"] == "responses"
    assert provider["env_key"] == "GATEDECK_API_KEY" and "sk-" not in " ".join(options)
